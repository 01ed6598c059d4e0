"""The local energy E_L = (H psi) / psi of a molecular Hamiltonian in atomic units (seed 003).

H = -1/2 sum_i nabla_i^2 - sum_{i,I} Z_I / |r_i - R_I| + sum_{i<j} 1 / |r_i - r_j| + sum_{I<J} Z_I Z_J / |R_I - R_J|,

and with log|psi| = f, the kinetic part is -1/2 (nabla^2 f + |nabla f|^2). The Laplacian comes from automatic
differentiation, forward over reverse: one Jacobian-vector product of the gradient per coordinate.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .systems import System


def potential_energy(system: System, electrons) -> jnp.ndarray:
    """Coulomb energy of one configuration ``electrons`` (N, 3), nuclei included."""
    electrons = jnp.reshape(electrons, (system.n_electrons, 3))
    to_nuclei = jnp.linalg.norm(electrons[:, None, :] - jnp.asarray(system.positions)[None], axis=-1)
    attraction = -jnp.sum(jnp.asarray(system.charges)[None, :] / to_nuclei)
    n = system.n_electrons
    if n > 1:
        i, j = np.triu_indices(n, 1)
        repulsion = jnp.sum(1.0 / jnp.linalg.norm(electrons[i] - electrons[j], axis=-1))
    else:
        repulsion = 0.0
    return attraction + repulsion + system.nuclear_repulsion


def kinetic_energy(log_abs_psi: Callable, electrons) -> jnp.ndarray:
    """``-1/2 (nabla^2 log|psi| + |nabla log|psi||^2)`` at ``electrons`` (flattened to 3N coordinates).

    ``log_abs_psi`` maps a (3N,) array to log|psi|.
    """
    coordinates = jnp.reshape(electrons, (-1,))
    gradient = jax.grad(log_abs_psi)
    unit = jnp.eye(coordinates.size, dtype=coordinates.dtype)

    def curvature(direction):
        return jax.jvp(gradient, (coordinates,), (direction,))[1] @ direction

    laplacian = jnp.sum(jax.vmap(curvature)(unit))
    first = gradient(coordinates)
    return -0.5 * (laplacian + first @ first)


def local_energy(log_abs_psi: Callable, system: System, electrons) -> jnp.ndarray:
    """``E_L(r) = -1/2 (nabla^2 log|psi| + |nabla log|psi||^2) + V(r)``, in hartree."""
    return kinetic_energy(log_abs_psi, electrons) + potential_energy(system, electrons)
