"""Losses and parametrisations against their equations; Gauss-Newton terms against the gradient."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.design import (GaussianDefects, Loss, MagnetisationAngles, SitePotential, TransportObjective,
                               cost_landscape, log_rms, mse, smoothness)


def test_losses_follow_their_equations():
    rng = np.random.default_rng(0)
    values, target, weights = rng.normal(size=20), rng.normal(size=20), rng.uniform(size=20)
    assert log_rms(values, target) == pytest.approx(np.log(np.sqrt(np.sum((values - target) ** 2))))
    assert mse(values, target) == pytest.approx(np.mean((values - target) ** 2))
    assert mse(values, target, weights) == pytest.approx(np.sum(weights * (values - target) ** 2) / weights.sum())
    onsite = rng.normal(size=(4, 5))
    bonds = [(onsite[x, y] - onsite[x + 1, y]) ** 2 for x in range(3) for y in range(5)]
    bonds += [(onsite[x, y] - onsite[x, y + 1]) ** 2 for x in range(4) for y in range(4)]
    assert smoothness(onsite) == pytest.approx(sum(bonds))
    total, parts = Loss("log_rms", smoothness=1e-2)(values, target, None, onsite)
    assert total == pytest.approx(parts["conductance"] + 1e-2 * parts["smoothness"])


def test_masked_points_do_not_count():
    wire = mw.Wire(4, 4, lead="ideal")
    flux = np.linspace(0, 0.1, 5)
    target = np.asarray(mw.conductance(wire, np.zeros((4, 4)), flux, 0.3))
    gappy, weights = target.copy(), np.ones(5)
    gappy[2], weights[2] = np.nan, 0.0
    objective, data = TransportObjective.create(wire, gappy, flux, 0.3, SitePotential(wire), Loss("mse"),
                                                weights=weights)
    loss, _ = objective.evaluate(jnp.zeros((4, 4)), data)
    assert loss == pytest.approx(0.0, abs=1e-20)


def test_seed000_multi_gaussian_initial_guess():
    wire = mw.Wire(30, 30)
    model = GaussianDefects(wire, n=10)
    params = model.init(jax.random.PRNGKey(0))
    np.testing.assert_allclose(params["y"], np.linspace(0, 15, 10))
    onsite, theta = model.fields(params)
    x, y = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    expected = 4 + sum(np.exp(-((x - 15) ** 2 + (y - yk) ** 2) / 4) for yk in np.linspace(0, 15, 10))
    np.testing.assert_allclose(onsite, expected, atol=1e-12)
    assert theta is None


def test_notch_stays_fixed_and_gets_no_gradient():
    wire = mw.Wire(5, 5, lead="ideal")
    model = SitePotential(wire, fixed={(0, 0): -1.0})
    onsite, _ = model.fields(jnp.full((5, 5), 0.3))
    assert onsite[0, 0] == -1.0 and onsite[1, 1] == pytest.approx(0.3)
    gradient = jax.grad(lambda v: mw.conductance(wire, model.fields(v)[0], 0.05, 0.2))(jnp.full((5, 5), 0.3))
    assert gradient[0, 0] == 0.0 and np.all(np.abs(gradient[1:, 1:]) > 0)
    with pytest.raises(ValueError, match="outside"):
        SitePotential(wire, fixed={(7, 0): -1.0})
    with pytest.raises(ValueError, match="spin wire"):
        MagnetisationAngles(wire)


@pytest.mark.parametrize("kind", ["mse", "log_rms"])
def test_gauss_newton_gradient_matches_autodiff(small_map_problem, kind):
    wire, truth, flux, energy, target = small_map_problem
    objective, data = TransportObjective.create(wire, target, flux, energy, SitePotential(wire), Loss(kind))
    params = jnp.asarray(np.random.default_rng(1).uniform(-0.5, 0.5, (6, 6)))
    (loss, _), gradient = jax.value_and_grad(objective.evaluate, has_aux=True)(params, data)
    (gn_loss, _), (jtj, jtr) = objective.gauss_newton(params, data)
    assert gn_loss == pytest.approx(float(loss), rel=1e-12)
    # d/dp sum r^2 = 2 J^T r; log-RMS = log sqrt(S) has gradient J^T r / S.
    expected = 2 * jtr if kind == "mse" else jtr / np.exp(2 * float(loss))
    np.testing.assert_allclose(expected, np.ravel(gradient), rtol=1e-8, atol=1e-14)
    assert np.all(np.linalg.eigvalsh(jtj) > -1e-12)


def test_cost_landscape_is_minimal_at_the_truth(small_map_problem):
    wire, truth, flux, energy, target = small_map_problem
    objective, data = TransportObjective.create(wire, target, flux, energy, SitePotential(wire, fixed={(0, 0): -1.0}),
                                                Loss("mse"))
    offsets = np.linspace(-0.3, 0.3, 7)
    landscape = cost_landscape(objective, data, jnp.asarray(truth), (2, 3), (4, 1), truth[2, 3] + offsets,
                               truth[4, 1] + offsets)
    assert landscape.shape == (7, 7)
    assert landscape[3, 3] == pytest.approx(0.0, abs=1e-20)
    assert np.all(landscape[np.arange(7) != 3] > 0)
