"""Variational Monte Carlo: exact limits, antisymmetry, the AD Laplacian, the sampler, and a short He run."""
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from magwidgets.vmc import (SYSTEMS, VMC, Network, blocking, init_params, kinetic_energy, local_energy, log_psi,
                            metropolis, molecule)


def hydrogenic(system):
    """Parameters whose psi is exactly exp(-r): orbital weights zero, bias 1, envelope pi = sigma = 1."""
    params = init_params(jax.random.PRNGKey(0), system, Network(layers=((8, 4),), determinants=1))
    params["orbitals"][0]["w"] = jnp.zeros_like(params["orbitals"][0]["w"])
    return params


def test_hydrogen_1s_has_local_energy_minus_half_everywhere():
    system = SYSTEMS["H"]
    params = hydrogenic(system)
    points = np.random.default_rng(0).normal(0, 1.5, (200, 1, 3))
    energies = jax.jit(jax.vmap(partial(local_energy, lambda r: log_psi(params, system, r)[1], system)))(points)
    np.testing.assert_allclose(energies, -0.5, atol=1e-10)


def test_exchanging_two_same_spin_electrons_flips_the_sign():
    system = SYSTEMS["Li"]   # two up electrons, one down
    params = init_params(jax.random.PRNGKey(1), system)
    electrons = np.random.default_rng(1).normal(0, 1, (3, 3))
    swapped = electrons[[1, 0, 2]]
    sign, log_value = log_psi(params, system, electrons)
    sign_swapped, log_swapped = log_psi(params, system, swapped)
    assert sign_swapped == -sign
    assert log_swapped == pytest.approx(float(log_value), abs=1e-12)


def test_laplacian_by_automatic_differentiation_matches_finite_differences():
    system = SYSTEMS["He"]
    params = init_params(jax.random.PRNGKey(2), system)
    log_abs = jax.jit(lambda r: log_psi(params, system, r)[1])
    point = jnp.asarray(np.random.default_rng(2).normal(0, 1, 6))
    step = 1e-4
    unit = np.eye(6)
    second = sum((log_abs(point + step * e) - 2 * log_abs(point) + log_abs(point - step * e)) / step**2 for e in unit)
    gradient = jax.grad(log_abs)(point)
    expected = -0.5 * (second + gradient @ gradient)
    assert float(kinetic_energy(log_abs, point)) == pytest.approx(float(expected), rel=1e-5)


def test_metropolis_samples_the_hydrogen_1s_density():
    """|psi|^2 = exp(-2r)/pi has <r> = 3/2 and <r^2> = 3 bohr^2."""
    system = SYSTEMS["H"]
    params = hydrogenic(system)
    log_abs = lambda r: log_psi(params, system, r)[1]  # noqa: E731
    walkers = jax.random.normal(jax.random.PRNGKey(3), (2000, 1, 3))
    log_values = jax.vmap(log_abs)(walkers)
    key = jax.random.PRNGKey(4)
    walkers, log_values, _ = metropolis(log_abs, key, walkers, log_values, 1.0, 200)   # burn in
    moves = jax.jit(partial(metropolis, log_abs, width=1.0, steps=5))
    radii, squares = [], []
    for _ in range(64):
        key, subkey = jax.random.split(key)
        walkers, log_values, acceptance = moves(subkey, walkers, log_values)
        radius = np.linalg.norm(np.asarray(walkers)[:, 0], axis=-1)
        radii.append(radius.mean()), squares.append((radius**2).mean())
    for samples, exact in ((radii, 1.5), (squares, 3.0)):
        mean, error = blocking(np.array(samples))
        assert abs(mean - exact) < 4 * error + 1e-3, (mean, error, exact)
    assert 0.2 < float(acceptance) < 0.9


def test_blocking_error_of_a_correlated_series():
    """AR(1) with phi = 0.9: the error of the mean is sqrt((1 + phi)/(1 - phi)) = 4.36 times the naive one."""
    rng = np.random.default_rng(5)
    phi, n = 0.9, 2**15
    noise = rng.normal(size=n)
    series = np.empty(n)
    series[0] = noise[0]
    for t in range(1, n):
        series[t] = phi * series[t - 1] + np.sqrt(1 - phi**2) * noise[t]
    _, error = blocking(series)
    expected = np.sqrt((1 + phi) / (1 - phi)) / np.sqrt(n)
    assert error == pytest.approx(expected, rel=0.3)


@pytest.mark.slow
def test_short_helium_run_goes_below_hartree_fock():
    system = SYSTEMS["He"]
    run = VMC(system, walkers=256, snapshot_every=100, seed=0)
    history = run.run(400)
    assert np.all(np.isfinite(history["energy"]))
    evaluation = run.evaluate(100)
    assert evaluation.energy < system.hartree_fock
    # variational: not below the exact energy by more than three error bars
    assert evaluation.energy > system.exact - 3 * evaluation.error


def test_bad_geometries_are_refused():
    with pytest.raises(ValueError, match="unknown element"):
        molecule([("Xx", (0, 0, 0))])
    with pytest.raises(ValueError, match="cannot have"):
        molecule([("He", (0, 0, 0))], spin=1)
    with pytest.raises(ValueError, match="positions"):
        molecule([("H", (0, 0, np.nan))])
    assert molecule([("Li", (0, 0, 0)), ("H", (0, 0, 3.015))]).n_electrons == 4
