"""The design driver: resume equals an uninterrupted run, divergence reverts, stop rules, multi-start, errors."""
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.design import Design, Loss, Optimizer, SitePotential, TransportObjective


def _design(problem, tmp_path=None, **driver):
    wire, truth, flux, energy, target = problem
    objective, data = TransportObjective.create(wire, target, flux, energy, SitePotential(wire, fixed={(0, 0): -1.0}),
                                                Loss("mse"))
    optimizer = driver.pop("optimizer", Optimizer("adam", 0.02, schedule="constant"))
    return Design(objective, data, optimizer, seed=3, **driver)


def test_resume_continues_the_same_trajectory(small_map_problem, tmp_path):
    uninterrupted = _design(small_map_problem, snapshot_every=7).run(40)
    checkpoint = str(tmp_path / "run.npz")
    first = _design(small_map_problem, snapshot_every=7, checkpoint=checkpoint, checkpoint_every=10)
    for snapshot in first.iterate(40):
        if snapshot.step >= 17:
            break  # killed mid-run: the last checkpoint is at step 10
    resumed = _design(small_map_problem, snapshot_every=7, checkpoint=checkpoint, resume=True)
    assert resumed.step == 10
    result = resumed.run(40)
    assert result.steps == 40
    np.testing.assert_allclose(result.history["loss"], uninterrupted.history["loss"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(result.onsite, uninterrupted.onsite, rtol=0, atol=1e-10)


def test_resume_refuses_another_problem(small_map_problem, tmp_path):
    checkpoint = str(tmp_path / "run.npz")
    _design(small_map_problem, checkpoint=checkpoint).run(5)
    wire, truth, flux, energy, target = small_map_problem
    other = (wire, truth, flux, energy, target + 0.1)
    with pytest.raises(ValueError, match="different problem"):
        _design(other, checkpoint=checkpoint, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        _design(small_map_problem, checkpoint=str(tmp_path / "missing.npz"), resume=True)


def test_descent_accepts_only_falling_cost(small_map_problem):
    result = _design(small_map_problem, optimizer=Optimizer("descent", 50.0)).run(30)
    loss = result.history["loss"]
    assert np.all(np.diff(loss) <= 0), "accept/reject descent let the cost rise"
    assert loss[-1] < 0.5 * loss[0]
    assert np.any(np.diff(result.history["rate"]) < 0), "a rate of 50 should have been rejected at least once"


def test_an_oscillating_run_returns_its_best_point_with_the_conductance_there(small_map_problem):
    """RMSProp at a rate far too high overshoots; the result is the lowest-cost step, and its G is that potential's."""
    wire, truth, flux, energy, target = small_map_problem
    result = _design(small_map_problem, optimizer=Optimizer("rmsprop", 0.3, schedule="constant"), n_starts=2).run(30)
    loss = result.history["loss"]
    assert np.all(loss[-1] > loss.min(axis=0) + 1e-3), "this rate should end above its best cost"
    assert result.loss == pytest.approx(loss.min(), rel=1e-12)
    assert result.family_loss == pytest.approx(loss.min(axis=0), rel=1e-12)
    np.testing.assert_allclose(result.conductance, mw.conductance(wire, result.onsite, flux, energy), atol=1e-10)
    assert np.mean((result.conductance - target) ** 2) == pytest.approx(result.loss, rel=1e-8)


def test_diverging_step_reverts_to_last_good_parameters(small_map_problem):
    wire, truth, flux, energy, target = small_map_problem
    # A cost that is NaN beyond |v| > 3: a huge rate jumps there, the step is rejected and the rate shrinks.
    def fields(params):
        import jax.numpy as jnp
        return jnp.where(jnp.max(jnp.abs(params)) > 3, jnp.nan, 1.0) * params, None
    parametrisation = mw.design.Custom(np.zeros((6, 6)), fields)
    objective, data = TransportObjective.create(wire, target, flux, energy, parametrisation, Loss("mse"))
    design = Design(objective, data, Optimizer("adam", 10.0, schedule="constant"), snapshot_every=5)
    result = design.run(20)
    assert np.all(np.isfinite(result.history["loss"]))
    assert np.all(np.abs(result.onsite) <= 3)
    assert result.history["rate"][-1] < 1.0


def test_stop_rules_and_callbacks(small_map_problem):
    result = _design(small_map_problem, tolerance=1e9, snapshot_every=5).run(100)
    assert result.reason == "tolerance" and result.steps == 5
    seen = []
    result = _design(small_map_problem, snapshot_every=5, callbacks=[lambda s: seen.append(s.step) or s.step < 10]).run(100)
    assert result.reason == "callback" and seen == [0, 5, 10]
    flat = _design(small_map_problem, optimizer=Optimizer("adam", 1e-12, schedule="constant"), patience=10,
                   min_delta=1e-6, snapshot_every=5).run(100)
    assert flat.reason == "plateau" and flat.steps == 10


def test_multistart_keeps_the_family(small_map_problem):
    result = _design(small_map_problem, n_starts=3, snapshot_every=10).run(20)
    assert result.family.shape == (3, 6, 6)
    assert result.history["loss"].shape == (21, 3)
    assert result.loss == pytest.approx(result.family_loss.min())
    # Starts differ (different random guesses) and each evolves on its own.
    assert np.ptp(result.history["loss"][0]) > 0


def test_fit_contract(small_map_problem):
    wire, truth, flux, energy, target = small_map_problem
    result = mw.design.fit(wire, target, flux, energy, params=SitePotential(wire, fixed={(0, 0): -1.0}), loss="mse",
                           optimizer=Optimizer("adam", 0.02, schedule="constant"), steps=10, seed=0)
    assert result.onsite.shape == (6, 6) and result.theta is None
    assert result.history["loss"].shape == (11,)
    assert result.conductance.shape == target.shape
    np.testing.assert_allclose(result.conductance, mw.conductance(wire, result.onsite, flux, energy), atol=1e-12)
    assert result.onsite[0, 0] == -1.0


@pytest.mark.parametrize("bad, message", [
    (dict(target=np.zeros((3, 3))), "target has shape"),
    (dict(target="nan"), "NaN"),
    (dict(optimizer="lbfgs"), "optimizer.name"),
    (dict(loss="l1"), "loss.kind"),
    (dict(params={"kind": "spline"}), "params.kind"),
])
def test_bad_settings_fail_at_once(small_map_problem, bad, message):
    wire, truth, flux, energy, target = small_map_problem
    settings = dict(target=target, params=SitePotential(wire), loss="mse", optimizer="adam")
    settings.update(bad)
    if isinstance(settings["target"], str):
        settings["target"] = np.where(np.arange(target.size).reshape(target.shape) == 3, np.nan, target)
    with pytest.raises(ValueError, match=message):
        mw.design.fit(wire, settings.pop("target"), flux, energy, steps=5, **settings)


@pytest.mark.parametrize("setting, message", [(dict(checkpoint_every=-1), "checkpoint_every must be >= 1"),
                                              (dict(checkpoint_every=0), "checkpoint_every must be >= 1"),
                                              (dict(checkpoint_seconds=float("nan")), "checkpoint_seconds")])
def test_checkpoint_intervals_must_make_sense(small_map_problem, tmp_path, setting, message):
    wire, truth, flux, energy, target = small_map_problem
    objective, data = TransportObjective.create(wire, target, flux, energy, SitePotential(wire), Loss("mse"))
    with pytest.raises(ValueError, match=message):
        Design(objective, data, checkpoint=str(tmp_path / "run.npz"), **setting)
