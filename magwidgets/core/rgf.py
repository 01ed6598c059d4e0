"""Recursive Green's function solver (the reference method; Kwant's physics, slice by slice).

With the leads folded into self-energies, the retarded Green's function of the wire is
``G = (E - H - Sigma_L - Sigma_R)^{-1}``. Sweeping slices x = 0..L-1 (Lee & Fisher; MacKinnon 1985),

    g_x = (E - H_x - V g_{x-1} V^dag)^{-1},    G_{x,0} = g_x V G_{x-1,0},

with ``V = H[x, x-1]`` diagonal (Landau gauge), Sigma_L entering at x = 0 and Sigma_R at x = L-1. The last
``g`` is the full G_{L-1,L-1}. A backward sweep gives the right-connected g and, combined, every column block
G_{x,0} and G_{x,L-1} needed for wavefunction intensities and the LDOS. Cost: one n x n inversion per slice.

All functions take one (flux, energy) point; the observables vmap them over grids.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .linalg import inv
from .wire import Wire, slice_hamiltonian


def _slice_hamiltonians(wire: Wire, blocks: jnp.ndarray) -> jnp.ndarray:
    return jax.vmap(lambda b: slice_hamiltonian(wire, b))(blocks)


def _sweep(energy, hamiltonians, v, sigma_first, sigma_last):
    """Left-connected sweep over the given slices: returns (g_x for all x, G_{x,0} for all x).

    ``v`` is the diagonal of H[x, x-1]; ``sigma_first`` acts on the first slice, ``sigma_last`` on the last.
    """
    n = hamiltonians.shape[-1]
    eye = jnp.eye(n, dtype=hamiltonians.dtype)
    length = hamiltonians.shape[0]
    is_last = jnp.arange(length) == length - 1
    # A fictitious g_{-1} with V g_{-1} V^dag = Sigma_first, and G_{-1,0} = V^{-1}, start the recursion.
    g_start = sigma_first / (v[:, None] * jnp.conj(v)[None, :])
    column_start = jnp.diag(1 / v).astype(hamiltonians.dtype)

    def step(carry, slice_data):
        g_previous, column_previous = carry
        hamiltonian, last = slice_data
        inverse = energy * eye - hamiltonian - v[:, None] * g_previous * jnp.conj(v)[None, :]
        inverse = inverse - jnp.where(last, sigma_last, jnp.zeros_like(sigma_last))
        g = inv(inverse)
        column = g @ (v[:, None] * column_previous)
        return (g, column), (g, column)

    _, (gs, columns) = jax.lax.scan(step, (g_start, column_start), (hamiltonians, is_last))
    return gs, columns


def rgf_transmission_block(wire: Wire, blocks, v, energy, sigma_left, sigma_right) -> jnp.ndarray:
    """G_{L-1,0}, the block of the retarded Green's function connecting the two lead interfaces, (n, n).

    Parameters
    ----------
    blocks : (L, W, n_orb, n_orb) on-site blocks (``wire.onsite_blocks``).
    v : (n,) diagonal of the inter-slice hopping H[x+1, x] at this flux.
    energy : scalar Fermi energy.
    sigma_left, sigma_right : (n, n) lead self-energies at this point.
    """
    hamiltonians = _slice_hamiltonians(wire, blocks)
    _, columns = _sweep(energy, hamiltonians, v, sigma_left, sigma_right)
    return columns[-1]


def rgf_green_columns(wire: Wire, blocks, v, energy, sigma_left, sigma_right) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Every slice's Green's function block to both ends: (G_{x,0}, G_{x,L-1}), each (L, n, n).

    G_{x,0} = g^R_x V G_{x-1,0} with g^R the right-connected Green's function (from a backward sweep);
    G_{x,L-1} likewise from the left-connected one. The wavefunctions of states entering from the left are
    psi = G_{x,0} C_L (``leads.coupling_matrix``), so that sum_n |psi_n|^2 = diag(G_{x,0} Gamma_L G_{x,0}^dag).
    """
    hamiltonians = _slice_hamiltonians(wire, blocks)
    zero = jnp.zeros_like(sigma_left)
    # Left-connected (Sigma_L only) and right-connected (Sigma_R only, on the mirrored wire) sweeps.
    g_left, _ = _sweep(energy, hamiltonians, v, sigma_left, zero)
    g_right_mirrored, _ = _sweep(energy, hamiltonians[::-1], jnp.conj(v), sigma_right, zero)
    g_right = g_right_mirrored[::-1]
    length, n = hamiltonians.shape[0], hamiltonians.shape[-1]
    eye = jnp.eye(n, dtype=hamiltonians.dtype)
    vv = v[:, None] * jnp.conj(v)[None, :]
    cv = jnp.conj(v)[:, None] * v[None, :]

    def full_diagonal(x_first_side, g_neighbour_right, sigma):
        # G_{xx} at an end slice: both the lead and the rest of the wire folded in.
        return inv(energy * eye - hamiltonians[x_first_side] - sigma - g_neighbour_right)

    if length == 1:
        corner = inv(energy * eye - hamiltonians[0] - sigma_left - sigma_right)
        return corner[None], corner[None]
    g00 = full_diagonal(0, cv * g_right[1], sigma_left)
    g_last = full_diagonal(length - 1, vv * g_left[length - 2], sigma_right)

    def forward(column, g_r):
        column = g_r @ (v[:, None] * column)
        return column, column

    _, rest = jax.lax.scan(forward, g00, g_right[1:])
    to_first = jnp.concatenate([g00[None], rest])

    def backward(column, g_l):
        column = g_l @ (jnp.conj(v)[:, None] * column)
        return column, column

    _, rest = jax.lax.scan(backward, g_last, g_left[:-1][::-1])
    to_last = jnp.concatenate([rest[::-1], g_last[None]])
    return to_first, to_last
