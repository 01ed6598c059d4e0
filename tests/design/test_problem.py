"""The problem object: one V <-> on-site conversion, one truth -> target, one way to build a run."""
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.core.potentials import PRESETS, preset_potential
from magwidgets.design.params import GaussianDefects, SitePotential
from magwidgets.design.problem import SEED000, Measurement, Problem, fit
from magwidgets.design.tasks import NOTCH, TASKS
from magwidgets.widgets.explorer import FingerprintExplorer
from magwidgets.widgets.sketch import PotentialSketcher


def test_onsite_is_background_plus_potential_and_back():
    potential = np.random.default_rng(0).uniform(-1, 1, (30, 30))
    square = Measurement(mw.Wire(30, 30), 0.0, 1.2)
    ideal = Measurement(mw.Wire(30, 30, lead="ideal"), 0.0, 1.2)
    np.testing.assert_array_equal(square.onsite(potential), 4.0 + potential)   # square leads sit at 4t
    np.testing.assert_array_equal(ideal.onsite(potential), potential)          # ideal leads at 0
    np.testing.assert_allclose(square.potential(square.onsite(potential)), potential, atol=1e-15)


def test_open_channels_of_the_seed000_wire():
    """At B = 0 and E = 1.2 t, 2t(1 - cos(n pi / 31)) < 1.2 t for n = 1..11: eleven open channels, G = 11 e^2/h;
    the magnetic field closes channels as Landau levels form, never opens more."""
    channels = SEED000.open_channels
    assert channels.shape == SEED000.flux.shape
    assert channels[0] == pytest.approx(11.0, abs=1e-8)
    assert channels[-1] < channels[0] and np.all(np.abs(channels - np.round(channels)) < 1e-6)


def test_a_truth_carries_the_known_sites_of_its_fit():
    """Seed 004's notch v[0, 0] = -1 is known to the fit, so the target of any sketched truth has it too."""
    problem = TASKS["reconstruct_potential"].problem()
    potential = np.random.default_rng(1).uniform(-0.3, 0.3, (12, 12))
    pinned, _ = problem.known_sites(potential)
    assert pinned[0, 0] == NOTCH[(0, 0)]
    np.testing.assert_array_equal(np.delete(pinned.ravel(), 0), np.delete(potential.ravel(), 0))
    other = potential.copy()
    other[0, 0] = 0.7  # differs only on the known site: the same target
    np.testing.assert_array_equal(problem.target_of(potential), problem.target_of(other))
    free = Problem(problem.measurement, SitePotential(problem.wire))
    assert np.max(np.abs(free.target_of(potential) - free.target_of(other))) > 1e-3


def test_fit_and_the_studio_task_build_the_same_run():
    """One problem object: the task's design and mw.design.fit with the same settings step identically."""
    task = TASKS["identify_defect"]
    target = task.truth_conductance(task.default_truth()["potential"])
    from_task = task.design(target, snapshot_every=3).run(3).history["loss"]
    from_fit = fit(SEED000.wire, target, SEED000.flux, SEED000.energy, params=GaussianDefects(SEED000.wire, n=10),
                   loss="log_rms", optimizer=mw.design.Optimizer("rmsprop", 1e-2), steps=3,
                   snapshot_every=3).history["loss"]
    np.testing.assert_array_equal(from_task, from_fit)
    assert from_task[-1] < from_task[0]


def test_every_panel_draws_the_same_presets():
    """The sketcher, the explorer and the studio's default truth take their samples from one registry."""
    wire = SEED000.wire
    sketcher = PotentialSketcher(wire)
    explorer = FingerprintExplorer(wire, sketcher=sketcher, start=False)
    for name in PRESETS:
        sketcher.apply_preset(name)
        explorer.preset.value = name
        np.testing.assert_array_equal(sketcher.potential, preset_potential(name, wire, **(
            dict(strength=sketcher.disorder_strength.value, seed=sketcher.disorder_seed.value)
            if name == "disorder" else {})))
        if name != "disorder":
            np.testing.assert_array_equal(explorer.sample(0), preset_potential(name, wire))
    np.testing.assert_array_equal(TASKS["identify_defect"].default_truth()["potential"],
                                  preset_potential("antidot", wire))
    with pytest.raises(ValueError, match="unknown preset 'volcano'"):
        preset_potential("volcano", wire)
    assert explorer.wait(600)  # choosing a preset recomputes the fingerprints in the background
