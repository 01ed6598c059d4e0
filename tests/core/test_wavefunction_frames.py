"""|psi|^2 across the field in one batched call: the frames the panels' Play animates."""
import numpy as np

import magwidgets as mw
from magwidgets.core.potentials import seed000_antidot
from magwidgets.design.problem import Measurement


def test_frames_equal_the_point_by_point_intensity_in_field_and_with_spin():
    wire = mw.Wire(9, 7)
    onsite = 4.0 + seed000_antidot(wire, amplitude=3.0)
    flux = np.array([0.0, 0.013, 0.05, 0.21])
    frames = np.asarray(mw.core.wavefunction_intensity_sweep(wire, onsite, flux, 1.1))
    assert frames.shape == (4, 9, 7)
    for index, phi in enumerate(flux):
        np.testing.assert_allclose(frames[index], mw.wavefunction_intensity(wire, onsite, phi, 1.1), rtol=0,
                                   atol=1e-12)
    spin = mw.Wire(6, 5, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    theta = np.random.default_rng(3).uniform(0, np.pi, (6, 5))
    frames = np.asarray(mw.core.wavefunction_intensity_sweep(spin, np.zeros((6, 5)), flux[:2], 0.3, theta))
    np.testing.assert_allclose(frames[1], mw.wavefunction_intensity(spin, np.zeros((6, 5)), flux[1], 0.3, theta),
                               rtol=0, atol=1e-12)


def test_a_clean_wire_carries_its_modes_unchanged_and_the_field_pushes_them_to_one_edge():
    """A clean wire is its leads continued: each incoming mode crosses it unscattered with unit current, so every
    column x of the map is the same, with or without a field. Without a field the modes are mirror-symmetric in y;
    a field pushes the right-movers against one edge (the Hall edge), so the map leans to one side."""
    measurement = Measurement(mw.Wire(12, 9), np.array([0.0, 0.04]), 1.2)
    frames = measurement.wavefunction_frames(measurement.onsite(np.zeros((12, 9))), 1.2)
    for frame in frames:
        np.testing.assert_allclose(frame, np.broadcast_to(frame[0], frame.shape), rtol=1e-10)
    np.testing.assert_allclose(frames[0][0], frames[0][0][::-1], rtol=1e-10)
    assert np.max(np.abs(frames[1][0] - frames[1][0][::-1])) > 1e-2
