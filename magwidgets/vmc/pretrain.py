"""Hartree-Fock pretraining of the network's orbitals (seed 003; FermiNet's recipe).

Before the energy is minimised, every determinant's orbital matrix phi^d_k(r_i) is fitted to the occupied
Hartree-Fock orbitals, the up block to the up orbitals and the down block to the down ones, the off-diagonal
blocks to zero:

    L = < sum_d sum_{i,k} (phi^d_k(r_i) - phi^HF_k(r_i))^2 >_{r ~ |psi|^2},

with the walkers drawn from the network's own |psi|^2 (so they are equilibrated for the VMC that follows). For
Be and LiH this puts the shell structure in place before the first energy gradient; without it the small
network spends minutes finding the 1s shell. The Hartree-Fock orbitals come from PySCF in a Gaussian basis;
their missing nuclear cusp does not matter, because the envelopes and the energy minimisation put it back.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache, partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .network import log_psi, orbital_matrices
from .sampling import adapt_width, metropolis
from .systems import ELEMENTS, System

SYMBOLS = {charge: symbol for symbol, charge in ELEMENTS.items()}
#: What to do when PySCF is missing: it is an optional extra (190 MB), not a dependency of the transport code.
PYSCF_MISSING = ('Hartree-Fock pretraining needs PySCF, which magwidgets installs with its [vmc] extra: '
                 'pip install "magwidgets[vmc]"')


def pyscf_available() -> bool:
    """Whether PySCF can be imported (without importing it: that takes seconds)."""
    return importlib.util.find_spec("pyscf") is not None


@dataclass(frozen=True, eq=False)
class HartreeFock:
    """Unrestricted Hartree-Fock orbitals of a system: ``energy`` (hartree) and ``orbitals`` at electron positions."""

    energy: float
    basis: str
    molecule: object                  # pyscf.gto.Mole
    up: np.ndarray                    # (n_ao, n_up) occupied coefficients
    down: np.ndarray                  # (n_ao, n_down)

    def orbitals(self, electrons: np.ndarray) -> np.ndarray:
        """(walkers, N, N) block-diagonal targets at ``electrons`` (walkers, N, 3): rows electrons, columns orbitals."""
        electrons = np.asarray(electrons, float)
        walkers, n, _ = electrons.shape
        n_up = self.up.shape[1]
        basis = self.molecule.eval_gto("GTOval_sph", electrons.reshape(-1, 3)).reshape(walkers, n, -1)
        target = np.zeros((walkers, n, n))
        target[:, :n_up, :n_up] = basis[:, :n_up] @ self.up
        target[:, n_up:, n_up:] = basis[:, n_up:] @ self.down
        return target


def hartree_fock(system: System, basis: str = "cc-pvdz") -> HartreeFock:
    """Solve unrestricted Hartree-Fock for ``system`` with PySCF in ``basis``.

    Raises
    ------
    ImportError
        PySCF is not installed; the message says how to install it (:data:`PYSCF_MISSING`).
    ValueError
        A nuclear charge is not a whole element number (pseudo-atoms have no Gaussian basis).
    """
    try:
        from pyscf import gto, scf
    except ImportError as error:
        raise ImportError(PYSCF_MISSING) from error
    atoms = []
    for charge, position in zip(system.charges, system.positions):
        if charge != round(charge) or int(charge) not in SYMBOLS:
            raise ValueError(f"pretraining needs nuclei with whole charges of known elements {sorted(SYMBOLS)}, "
                             f"got Z = {charge}")
        atoms.append((SYMBOLS[int(charge)], tuple(position)))
    molecule = gto.M(atom=atoms, unit="Bohr", basis=basis, spin=system.n_up - system.n_down,
                     charge=int(round(sum(system.charges))) - system.n_electrons, verbose=0)
    solver = scf.UHF(molecule)
    solver.kernel()
    if not solver.converged:
        raise RuntimeError(f"Hartree-Fock did not converge for {system.name} in {basis}")
    occupied = [coefficients[:, occupation > 0] for coefficients, occupation in zip(solver.mo_coeff, solver.mo_occ)]
    return HartreeFock(float(solver.e_tot), basis, molecule, occupied[0], occupied[1])


def orbital_loss(params: dict, system: System, walkers, targets) -> jnp.ndarray:
    """Mean over walkers and determinants of the summed squared difference to the Hartree-Fock orbitals."""
    orbitals = jax.vmap(lambda electrons: orbital_matrices(params, system, electrons)[0])(walkers)  # (W, D, N, N)
    return jnp.mean(jnp.sum((orbitals - targets[:, None]) ** 2, axis=(-1, -2)))


@lru_cache(maxsize=None)
def _adam(learning_rate: float) -> optax.GradientTransformation:
    return optax.adam(learning_rate)   # one object per rate, so that every pretraining reuses the compiled step


@partial(jax.jit, static_argnames=("system", "optimizer"))
def _fit_step(system: System, optimizer, params, optimizer_state, walkers, targets):
    loss, gradient = jax.value_and_grad(orbital_loss)(params, system, walkers, targets)
    updates, optimizer_state = optimizer.update(gradient, optimizer_state, params)
    return optax.apply_updates(params, updates), optimizer_state, loss


@partial(jax.jit, static_argnames=("system", "steps"))
def _move(system: System, steps: int, params, walkers, log_values, width, key):
    return metropolis(lambda electrons: log_psi(params, system, electrons)[1], key, walkers, log_values, width, steps)


def pretrain(params: dict, system: System, orbitals: HartreeFock, walkers, log_values, width, key, *,
             iterations: int, learning_rate: float = 3e-3, mcmc_steps: int = 10):
    """Fit ``params``' orbitals to ``orbitals`` for ``iterations`` Adam steps, moving the walkers under the network.

    Returns
    -------
    params, walkers, log_values, width, key, losses (one per iteration)
    """
    optimizer = _adam(float(learning_rate))
    optimizer_state = optimizer.init(params)
    losses = np.empty(int(iterations))
    for iteration in range(int(iterations)):
        key, move_key = jax.random.split(key)
        walkers, log_values, acceptance = _move(system, mcmc_steps, params, walkers, log_values, width, move_key)
        width = adapt_width(width, acceptance)
        targets = jnp.asarray(orbitals.orbitals(np.asarray(walkers)))
        params, optimizer_state, loss = _fit_step(system, optimizer, params, optimizer_state, walkers, targets)
        losses[iteration] = float(loss)
    log_values = jax.vmap(lambda electrons: log_psi(params, system, electrons)[1])(walkers)
    return params, walkers, log_values, width, key, losses
