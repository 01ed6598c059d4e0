"""Transfer-matrix solver with periodic QR re-orthonormalisation (seed 004 eqs. 5-13): the fast path.

The n-dimensional space of wavefunctions that are purely outgoing into the right lead is propagated from the right
end of the wire to the left. A state is carried as the pair (psi_x, w_x = V^dag psi_{x+1}) with
V = H[x, x-1] = diag(-t exp(-2 pi i flux y)); the Schroedinger equation of slice x gives

    V psi_{x-1} = (E - H_x) psi_x - w_x,                               (seed 004 eq. 6)

which costs O(n) per column because H_x is tridiagonal in y and V is diagonal: O(n^2) per slice for the n
columns, against O(n^3) for a recursive-Green's-function step. The outgoing condition enters exactly at the start,
w_{L-1} = Sigma_R psi_{L-1} with psi_{L-1} = 1, and the left lead at the end: a source X on slice 0 requires
``[(E - H_0 - Sigma_L) psi_0 - w_0] c = X``.

Evanescent channels grow exponentially along the sweep and would make the columns parallel, so every
``block_size`` slices the (2n, n) stack is replaced by its QR factor Q and R is kept (seed 004 eqs. 12-13; S_D = 6
there). The coefficients on the right end are recovered by back-substitution through the R factors, giving the
Green's function blocks G_{L-1,0} and G_{0,0} without ever forming a transfer matrix product.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular

from .wire import Wire, apply_slice_hamiltonian

#: Slices between QR re-orthonormalisations. Seed 004 uses 6; 4 keeps a 30 x 30 wire with a 10t antidot within
#: 1e-10 of the recursive Green's function (tests/core/test_solvers.py) at almost the same speed.
DEFAULT_BLOCK_SIZE = 4


def transfer_green_blocks(
    wire: Wire, blocks, v, energy, sigma_left, sigma_right, block_size: int = DEFAULT_BLOCK_SIZE
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Green's function blocks (G_{L-1,0}, G_{0,0}), each (n, n), by the transfer-matrix method.

    Parameters
    ----------
    blocks : (L, W, n_orb, n_orb) on-site blocks (``wire.onsite_blocks``).
    v : (n,) diagonal of the inter-slice hopping H[x+1, x] at this flux.
    energy : scalar Fermi energy.
    sigma_left, sigma_right : (n, n) lead self-energies at this point.
    block_size : slices between QR re-orthonormalisations (static).
    """
    length, n = wire.length, wire.slice_size
    dtype = sigma_right.dtype
    v = v.astype(dtype)
    from_right = blocks[::-1].astype(dtype)

    def step(state, slice_blocks):
        psi, w = state
        residual = energy * psi - apply_slice_hamiltonian(wire, slice_blocks, psi) - w
        return residual / v[:, None], jnp.conj(v)[:, None] * psi

    n_steps = length - 1
    n_qr = n_steps // block_size
    state = (jnp.eye(n, dtype=dtype), sigma_right)

    def qr_block(state, block_slices):
        for k in range(block_size):
            state = step(state, block_slices[k])
        q, r = jnp.linalg.qr(jnp.concatenate(state, axis=0))
        return (q[:n], q[n:]), r

    qr_slices = from_right[: n_qr * block_size].reshape((n_qr, block_size) + from_right.shape[1:])
    state, r_factors = jax.lax.scan(qr_block, state, qr_slices)
    for x in range(n_qr * block_size, n_steps):
        state = step(state, from_right[x])

    psi_first, w_first = state
    boundary = energy * psi_first - apply_slice_hamiltonian(wire, from_right[-1], psi_first) - w_first
    coefficients = jnp.linalg.inv(boundary - sigma_left @ psi_first)
    green_first = psi_first @ coefficients

    def back_substitute(c, r):
        return solve_triangular(r, c, lower=False), None

    green_last, _ = jax.lax.scan(back_substitute, coefficients, r_factors, reverse=True)
    return green_last, green_first
