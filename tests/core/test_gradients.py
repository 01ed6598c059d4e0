"""Reverse-mode gradients against central finite differences, and no recompilation for a new potential."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.core import observables


def central_difference(function, array, index, step=1e-5):
    plus, minus = array.copy(), array.copy()
    plus[index] += step
    minus[index] -= step
    return (function(plus) - function(minus)) / (2 * step)


def log_rms(conductance, target):
    return jnp.sqrt(jnp.mean((jnp.log(conductance) - jnp.log(target)) ** 2))  # seed 000 eq. 4


@pytest.mark.parametrize("solver", ["transfer", "rgf"])
def test_onsite_gradient_matches_finite_differences(solver):
    rng = np.random.default_rng(11)
    wire = mw.Wire(14, 7)
    onsite = 4 + rng.uniform(-1, 1, (14, 7))
    flux = np.linspace(0, 0.06, 5)
    target = np.asarray(mw.conductance(wire, 4 + rng.uniform(-1, 1, (14, 7)), flux, 1.1))

    def loss(values):
        return log_rms(mw.conductance(wire, values, flux, 1.1, solver=solver), target)

    gradient = np.asarray(jax.grad(loss)(onsite))
    for index in [(0, 0), (7, 3), (13, 6), (5, 1)]:
        expected = central_difference(lambda a: float(loss(a)), onsite, index)
        assert gradient[index] == pytest.approx(expected, rel=1e-5, abs=1e-10)


def test_theta_and_onsite_gradients_of_a_spin_wire_match_finite_differences():
    rng = np.random.default_rng(12)
    wire = mw.Wire(12, 6, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    onsite, theta = rng.uniform(-1, 1, (12, 6)), rng.uniform(0, 2 * np.pi, (12, 6))
    flux, energy = np.linspace(0, 0.15, 4), np.array([-0.5, 0.5])
    target = np.asarray(mw.conductance(wire, onsite, flux, energy, rng.uniform(0, 2 * np.pi, (12, 6))))

    def loss(values, angles):
        return jnp.mean((mw.conductance(wire, values, flux, energy, angles) - target) ** 2)  # seed 004 eq. 1

    onsite_gradient, theta_gradient = (np.asarray(g) for g in jax.grad(loss, argnums=(0, 1))(onsite, theta))
    for index in [(0, 0), (6, 2), (11, 5)]:
        assert theta_gradient[index] == pytest.approx(
            central_difference(lambda a: float(loss(onsite, a)), theta, index), rel=1e-5, abs=1e-11
        )
        assert onsite_gradient[index] == pytest.approx(
            central_difference(lambda a: float(loss(a, theta)), onsite, index), rel=1e-5, abs=1e-11
        )


@pytest.mark.parametrize("length", [1, 2, 5, 6, 9, 10, 12, 13, 16, 23])
def test_adjoint_gradient_equals_the_recursive_greens_function_gradient(length):
    # Every chunk layout of the adjoint pass (L - 1 = 5 k + r: no block, one, several; every remainder r), a
    # field, and 100 t walls, against JAX's reverse mode through the recursive Green's function.
    rng = np.random.default_rng(length)
    wire = mw.Wire(length, 6)
    onsite = 4 + rng.uniform(-1, 1, (length, 6)) + 100.0 * (rng.random((length, 6)) < 0.1)
    flux = np.array([0.0, 0.07])
    weights = jnp.array([0.3, 1.0])

    def loss(values, solver):
        conductance = observables.grid_conductance(wire, values, None, grid, solver=solver, checkpoint=False)
        return jnp.sum(weights * conductance)

    grid, _ = observables.sweep_grid(wire, flux, 1.1)
    adjoint, reference = (np.asarray(jax.grad(loss)(onsite, solver)) for solver in ("transfer", "rgf"))
    assert np.abs(adjoint - reference).max() <= 1e-8 * np.abs(reference).max()


def test_adjoint_gradient_of_a_spin_wire_equals_the_recursive_greens_function_gradient():
    rng = np.random.default_rng(14)
    wire = mw.Wire(17, 5, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))
    onsite, theta = rng.uniform(-0.3, 0.3, (17, 5)), rng.uniform(0, 2 * np.pi, (17, 5))
    grid, _ = observables.sweep_grid(wire, np.array([0.0, 0.03]), 0.0)

    def loss(values, angles, solver):
        return jnp.sum(observables.grid_conductance(wire, values, angles, grid, solver=solver, checkpoint=False))

    adjoint, reference = (jax.grad(loss, argnums=(0, 1))(onsite, theta, solver) for solver in ("transfer", "rgf"))
    for ours, expected in zip(adjoint, reference):
        assert np.abs(np.asarray(ours) - np.asarray(expected)).max() <= 1e-10 * np.abs(np.asarray(expected)).max()


def test_gradient_of_the_wavefunction_intensity_matches_finite_differences():
    rng = np.random.default_rng(13)
    wire = mw.Wire(6, 5)
    onsite = 4 + rng.uniform(-1, 1, (6, 5))

    def loss(values):
        return jnp.sum(mw.wavefunction_intensity(wire, values, 0.05, 1.3)[2:4] ** 2)

    gradient = np.asarray(jax.grad(loss)(onsite))
    for index in [(0, 0), (3, 2)]:
        assert gradient[index] == pytest.approx(central_difference(lambda a: float(loss(a)), onsite, index), rel=1e-5)


def test_a_new_potential_does_not_recompile():
    wire = mw.Wire(10, 6)
    flux = np.linspace(0, 0.1, 7)
    mw.conductance(wire, np.full((10, 6), 4.0), flux, 1.0)
    compiled = observables._conductance_points._cache_size()
    for seed in range(3):
        mw.conductance(wire, 4 + np.random.default_rng(seed).uniform(-1, 1, (10, 6)), flux, 1.0)
    assert observables._conductance_points._cache_size() == compiled


def test_works_under_jit_with_a_traced_grid():
    wire = mw.Wire(6, 4)
    onsite = 4 + np.random.default_rng(14).uniform(-1, 1, (6, 4))
    flux = np.array([0.0, 0.05, 0.1])
    jitted = jax.jit(lambda values, phi: mw.conductance(wire, values, phi, 1.0))
    np.testing.assert_allclose(jitted(onsite, flux), mw.conductance(wire, onsite, flux, 1.0), atol=1e-12)
