"""Hartree-Fock pretraining and the natural gradient: the pieces FermiNet needs for Be and LiH."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from magwidgets.vmc import SYSTEMS, VMC, log_psi, molecule
from magwidgets.vmc.driver import NaturalGradient, _natural_direction
from magwidgets.vmc.network import orbital_matrices
from magwidgets.vmc.pretrain import hartree_fock

pytestmark = pytest.mark.slow


def test_hartree_fock_energies_are_near_the_hartree_fock_limit():
    # cc-pVDZ is a few mHa above the basis-set limit, never below it (variational in the basis)
    for name in ("Li", "Be", "LiH"):
        system = SYSTEMS[name]
        energy = hartree_fock(system).energy
        assert system.hartree_fock - 1e-4 < energy < system.hartree_fock + 5e-3, (name, energy)


def test_hartree_fock_orbitals_are_normalised_and_block_diagonal():
    system = SYSTEMS["Li"]
    orbitals = hartree_fock(system)
    # integrate |phi_k|^2 on PySCF's molecular quadrature grid: each occupied orbital holds one electron
    from pyscf.dft import gen_grid
    grid = gen_grid.Grids(orbitals.molecule)
    grid.build()
    electrons = np.repeat(grid.coords[:, None, :], system.n_electrons, axis=1)   # every electron at the point
    targets = orbitals.orbitals(electrons)
    up_norms = grid.weights @ targets[:, 0, :system.n_up] ** 2
    down_norms = grid.weights @ targets[:, system.n_up, system.n_up:] ** 2
    np.testing.assert_allclose(np.concatenate([up_norms, down_norms]), 1.0, atol=1e-6)
    assert np.all(targets[:, :system.n_up, system.n_up:] == 0) and np.all(targets[:, system.n_up:, :system.n_up] == 0)


def test_pretraining_fits_the_orbitals_and_brings_the_energy_most_of_the_way_to_hartree_fock():
    system = SYSTEMS["Li"]
    run = VMC(system, walkers=256, seed=1, burn_in=50)
    untrained = run.evaluate(40).energy                                   # about -4 Ha: no shell structure yet
    losses = run.pretrain(300)
    assert losses[-1] < losses[0] / 50
    orbitals = jax.vmap(lambda electrons: orbital_matrices(run.state.params, system, electrons)[0])(run.state.walkers)
    targets = hartree_fock(system).orbitals(np.asarray(run.state.walkers))
    targets = np.broadcast_to(targets[:, None], orbitals.shape)                  # the same for every determinant
    relative = np.linalg.norm(orbitals - targets) / np.linalg.norm(targets)
    assert relative < 0.1
    # before any energy step, the energy has come at least 80 % of the way from the untrained network to E_HF
    # (not all of it: Gaussian orbitals lack the nuclear cusp, and a 5 % orbital error costs tenths of a hartree)
    pretrained = run.evaluate(40).energy
    assert abs(pretrained - system.hartree_fock) < 0.2 * (untrained - system.hartree_fock), (untrained, pretrained)


def test_pretraining_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="whole charges"):
        hartree_fock(molecule([(1.5, (0, 0, 0))]))
    run = VMC(SYSTEMS["He"], walkers=16, burn_in=1)
    run.run(1)
    with pytest.raises(RuntimeError, match="before training"):
        run.pretrain(10)


def test_natural_gradient_in_sample_space_equals_the_parameter_space_solve():
    system = SYSTEMS["He"]
    run = VMC(system, walkers=64, seed=3, burn_in=20)
    params, walkers = run.state.params, run.state.walkers
    log_abs = lambda params, electrons: log_psi(params, system, electrons)[1]  # noqa: E731
    energies = np.random.default_rng(0).normal(-2.9, 0.3, 64)
    centred = jnp.asarray(energies - energies.mean())
    finite = jnp.ones(64, bool).at[5].set(False)                          # one walker left out
    centred = centred.at[5].set(0.0)
    natural = NaturalGradient(damping=1e-2, max_norm=1e30)
    direction, _ = ravel_pytree(_natural_direction(log_abs, params, walkers, finite, centred, 0.01, natural))

    flat, unravel = ravel_pytree(params)
    derivatives = np.asarray(jax.vmap(jax.grad(lambda flat, electrons: log_abs(unravel(flat), electrons)),
                                      in_axes=(None, 0))(flat, walkers))[np.asarray(finite)]
    fluctuations = derivatives - derivatives.mean(axis=0)
    metric = fluctuations.T @ fluctuations / len(fluctuations)                      # S
    gradient = 2 * fluctuations.T @ np.asarray(centred)[np.asarray(finite)] / len(fluctuations)
    expected = np.linalg.solve(metric + natural.damping * np.eye(len(metric)), gradient)
    np.testing.assert_allclose(direction, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())

    bounded = NaturalGradient(damping=1e-2, max_norm=1e-6)
    short, _ = ravel_pytree(_natural_direction(log_abs, params, walkers, finite, centred, 0.01, bounded))
    assert 0.01 ** 2 * short @ metric @ short == pytest.approx(1e-6, rel=1e-6)


def test_a_short_natural_gradient_run_of_helium_goes_below_hartree_fock():
    system = SYSTEMS["He"]
    run = VMC(system, walkers=256, optimizer="natural", snapshot_every=50, seed=0)
    run.run(250)
    evaluation = run.evaluate(100)
    assert system.exact - 3 * evaluation.error < evaluation.energy < system.hartree_fock
