"""The seed reproductions at reduced scale (the full-scale runs are examples/*.toml; the documentation's benchmarks
give their results)."""
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.design import (Design, GaussianDefects, Loss, MagnetisationAngles, Optimizer, SitePotential, fit,
                               smoothness)
from magwidgets.design.config import CURVES
from magwidgets.design.fourier import FourierObjective, fourier_image, triangular_lattice

pytestmark = pytest.mark.slow

MAP_FLUX, MAP_ENERGY = np.linspace(0, 0.15, 31), np.linspace(-1, 1, 21)  # seed 004's 31 x 21 grid


def test_defect_identification():
    """Seed 000 Fig. 3 on a 16 x 16 wire: RMSProp on the multi-Gaussian model finds the antidot's row."""
    wire = mw.Wire(16, 16)
    x, y = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    truth = 4 + 10 * np.exp(-((x - 8) ** 2 + (y - 5) ** 2) / 4)
    flux = np.linspace(0, 0.1, 41)
    target = mw.conductance(wire, truth, flux, 1.2)
    result = fit(wire, target, flux, 1.2, params=GaussianDefects(wire, n=6, y_range=(0, 7.5)), loss="log_rms",
                 optimizer=Optimizer("rmsprop", 0.02, schedule="constant"), steps=600, seed=0)
    loss = result.history["loss"]
    assert loss[-1] < loss[0] - 3.5
    peak_y = np.unravel_index(np.argmax(result.onsite), result.onsite.shape)[1]
    assert min(abs(peak_y - 5), abs(peak_y - 10)) <= 1


def test_potential_map_is_recovered_exactly():
    """Seed 004 Fig. 2 on a 6 x 6 wire with the notch: the best of four Levenberg-Marquardt starts is exact."""
    wire = mw.Wire(6, 6, lead="ideal")
    truth = np.random.default_rng(7).uniform(-0.5, 0.5, (6, 6))
    truth[0, 0] = -1.0
    target = mw.conductance(wire, truth, MAP_FLUX, MAP_ENERGY)
    result = fit(wire, target, MAP_FLUX, MAP_ENERGY, params=SitePotential(wire, fixed={(0, 0): -1.0},
                 init_range=(-0.5, 0.5)), loss="mse", optimizer="levenberg_marquardt", steps=100, seed=0, n_starts=4,
                 tolerance=1e-24)
    assert result.loss < 1e-20
    np.testing.assert_allclose(result.onsite, truth, atol=1e-8)


def test_magnetisation_is_recovered_up_to_the_wire_mirrors():
    """Seed 004 Fig. 3 on 5 x 5: G fixes m_z = cos(theta) up to the mirrors in x and y and their product.

    H holds only real spin matrices, so G(flux) = G(-flux), and each mirror reverses B (params.MagnetisationAngles).
    """
    wire = mw.Wire(5, 5, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    theta = np.random.default_rng(7).uniform(0, 2 * np.pi, (5, 5))
    target = mw.conductance(wire, np.zeros((5, 5)), MAP_FLUX, MAP_ENERGY, theta)
    images = (theta, theta[::-1], theta[:, ::-1], theta[::-1, ::-1])
    for image in images[1:]:
        np.testing.assert_allclose(mw.conductance(wire, np.zeros((5, 5)), MAP_FLUX, MAP_ENERGY, image), target,
                                   atol=1e-12)
    # A generic change of the map is seen: the family is no larger than the symmetry says.
    assert np.abs(mw.conductance(wire, np.zeros((5, 5)), MAP_FLUX, MAP_ENERGY, theta.T) - target).max() > 1e-2
    result = fit(wire, target, MAP_FLUX, MAP_ENERGY, params=MagnetisationAngles(wire), loss="mse",
                 optimizer="levenberg_marquardt", steps=60, seed=0, n_starts=4, tolerance=1e-24)
    assert result.loss < 1e-20
    error = min(np.abs(np.cos(result.theta) - np.cos(image)).max() for image in images)
    assert error < 1e-6


def test_drawn_curve_then_smoothness():
    """Seed 000 Figs. 4-5 on 12 x 12: fit a drawn curve, then the smoothness term flattens the potential.

    At gamma = 0.01 L_pot settles near 0.2 of its start (a balance, not a slow descent: 600 and 900 steps give the
    same); gamma = 0.05 lowers it 10x (measured 0.097) while the RMS stays at 0.02 e^2/h.
    """
    wire = mw.Wire(12, 12)
    flux = np.linspace(0, 0.08, 41)
    target = 0.4 * CURVES["arches"](np.linspace(0, 1, 41))   # below the 12-wide wire's channel count (4 -> 1)
    model = SitePotential(wire, offset=4.0, init_range=(-0.5, 0.5))
    first = fit(wire, target, flux, 1.2, params=model, loss="log_rms",
                optimizer=Optimizer("adabelief", 0.02, schedule="constant"), steps=600, seed=0)
    smooth = fit(wire, target, flux, 1.2, params=model, initial_params=first.params,
                 loss=Loss("log_rms", smoothness=5e-2), optimizer=Optimizer("adabelief", 0.05, schedule="constant"),
                 steps=600, seed=0)
    rms = lambda conductance: np.sqrt(np.mean((conductance - target) ** 2))  # noqa: E731
    assert rms(first.conductance) < 0.2
    assert rms(smooth.conductance) < rms(first.conductance) + 0.05
    assert smoothness(smooth.onsite) < smoothness(first.onsite) / 5


def test_fourier_reverse_modelling():
    """Seed 004 Fig. 5 with 42 atoms: the predicted image's MSE falls well below the initial guess's."""
    reference, box = triangular_lattice(6, 7)
    truth = (reference + np.random.default_rng(0).normal(0, 0.25, reference.shape)) % box
    objective, data = FourierObjective.create(fourier_image(truth, box, 0.3, 48), reference, box, pixels=48)
    result = Design(objective, data, Optimizer("adam", 0.01, schedule="constant"), snapshot_every=100).run(300)
    assert result.history["loss"][-1] < result.history["loss"][0] / 5
    assert result.outputs["positions"].shape == (42, 2)
    # The image is periodic: moving every atom by a box vector changes nothing.
    shifted = objective.evaluate(result.params + np.asarray(box), data)[0]
    assert shifted == pytest.approx(result.loss, rel=1e-9)
