"""The smoothed-map cost (coarse-to-fine fits of G(flux, E) maps): the smoothing operator and its Gauss-Newton terms."""
import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

import magwidgets as mw
from magwidgets.design import Loss, SitePotential, TransportObjective, fit
from magwidgets.design.objectives import smoothing_matrix

FLUX, ENERGY = np.linspace(0, 0.15, 6), np.linspace(-1, 1, 5)


def test_smoothing_matrix_averages_and_width_zero_is_the_identity():
    matrix = smoothing_matrix((6, 5), (1.5, 0.7))
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0, atol=1e-14)
    assert np.all(matrix >= 0)
    np.testing.assert_allclose(matrix @ np.full(30, 2.5), 2.5, atol=1e-13)   # a flat map is left as it is
    np.testing.assert_array_equal(smoothing_matrix((6, 5), 0), np.eye(30))
    # Only the energy axis smoothed: points of different fluxes never mix.
    blocks = smoothing_matrix((6, 5), (0, 2)).reshape(6, 5, 6, 5)
    assert np.abs(blocks[0, :, 1, :]).max() == 0 and blocks[0, 0, 0, 4] > 0


@pytest.mark.parametrize("widths", [-1.0, (1.0, np.nan)])
def test_bad_widths_are_refused(widths):
    with pytest.raises(ValueError, match="smoothing widths"):
        smoothing_matrix((6, 5), widths)


def test_smoothing_with_weights_is_refused():
    wire = mw.Wire(4, 4, lead="ideal")
    target = np.zeros((6, 5))
    with pytest.raises(ValueError, match="smoothing and weights"):
        TransportObjective.create(wire, target, FLUX, ENERGY, SitePotential(wire), Loss("mse"),
                                  weights=np.ones((6, 5)), smoothing=1.0)


def test_smoothed_cost_and_its_gauss_newton_terms():
    """cost = |S (G - G_targ)|^2 / N, and (J^T J, J^T r) are those of the smoothed residuals (checked by autodiff)."""
    wire = mw.Wire(4, 4, lead="ideal")
    rng = np.random.default_rng(3)
    truth, guess = rng.uniform(-1, 1, (4, 4)), rng.uniform(-1, 1, (4, 4))
    target = mw.conductance(wire, truth, FLUX, ENERGY)
    objective, data = TransportObjective.create(wire, target, FLUX, ENERGY, SitePotential(wire), Loss("mse"),
                                                smoothing=(1.0, 1.0))
    smoothing = smoothing_matrix((6, 5), 1.0)
    residual = smoothing @ (mw.conductance(wire, guess, FLUX, ENERGY) - target).reshape(-1)
    (cost, _), (jtj, jtr) = objective.gauss_newton(guess, data)
    np.testing.assert_allclose(cost, np.mean(residual ** 2), rtol=1e-12)
    assert float(objective.evaluate(truth, data)[0]) < 1e-28
    # The gradient of the cost is 2 J^T r for cost = sum r^2 with r scaled by 1 / sqrt(N).
    gradient = jax.grad(lambda p: objective.evaluate(p, data)[0])(guess)
    np.testing.assert_allclose(2 * jtr, ravel_pytree(gradient)[0], rtol=1e-8, atol=1e-14)
    # The smoothed cost is not the plain one: smoothing really acts.
    _, plain = TransportObjective.create(wire, target, FLUX, ENERGY, SitePotential(wire), Loss("mse"))
    assert abs(float(objective.evaluate(guess, plain)[0]) - cost) > 1e-4 * cost


def test_fit_takes_smoothing():
    wire = mw.Wire(4, 4, lead="ideal")
    truth = np.random.default_rng(5).uniform(-0.3, 0.3, (4, 4))
    target = mw.conductance(wire, truth, FLUX, ENERGY)
    result = fit(wire, target, FLUX, ENERGY, params=SitePotential(wire, init_range=(-0.3, 0.3)), loss="mse",
                 optimizer="levenberg_marquardt", steps=5, seed=0, smoothing=(1.0, 0.5))
    assert result.loss < result.history["loss"][0]
