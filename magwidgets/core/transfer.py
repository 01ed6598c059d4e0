"""Transfer-matrix solver with periodic re-normalisation (seed 004 eqs. 5-13): the fast path.

The n-dimensional space of wavefunctions that are purely outgoing into the right lead is propagated from the right
end of the wire to the left. A state is carried as the pair (psi_x, w_x = V^dag psi_{x+1}) with
V = H[x, x-1] = diag(-t exp(-2 pi i flux y)); the Schroedinger equation of slice x gives

    V psi_{x-1} = (E - H_x) psi_x - w_x,                               (seed 004 eq. 6)

which costs O(n) per column because H_x is tridiagonal in y and V is diagonal: O(n^2) per slice for the n
columns, against O(n^3) for a recursive-Green's-function step. The outgoing condition enters exactly at the start,
w_{L-1} = Sigma_R psi_{L-1} with psi_{L-1} = 1, and the left lead at the end: a source X on slice 0 requires
``[(E - H_0 - Sigma_L) psi_0 - w_0] c = X``.

Evanescent channels grow exponentially along the sweep and would make the columns parallel, so every
``block_size`` slices the basis is re-normalised (seed 004 eqs. 12-13 use a QR factorisation every S_D = 6
slices). We use the graph basis instead: (psi, w) -> (1, w psi^{-1}) = (1, V^dag F) with F the Riccati matrix
psi_{x+1} psi_x^{-1}, which is bounded wherever the recursive Green's function is. It spans the same space, costs
one n x n inversion instead of a 2n x n QR, and measured ~10x smaller error than QR at the same block size on the
seed 000 wire. The coefficients at the right end are recovered as ``c_right = P_1 P_2 ... P_k c`` with
P_j = psi_j^{-1} the inverses used, giving G_{L-1,0} without ever forming a transfer-matrix product.

Gradients (:func:`transmission_amplitudes`) use the adjoint method: the scattering states of the wire and of its
mirrored transpose, one sweep each, instead of reverse-mode through every inversion.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .wire import Wire, apply_slice_hamiltonian

#: Slices between re-normalisations. On the seed 000 wire (30 x 30, a 10t antidot) 5 keeps the transfer-matrix
#: conductance within ~3e-12 of the recursive Green's function; the error grows like (growth per slice)^S.
DEFAULT_BLOCK_SIZE = 5


def _step(wire: Wire, energy, inverse_v, conj_v, state, slice_blocks):
    psi, w = state
    residual = energy * psi - apply_slice_hamiltonian(wire, slice_blocks, psi) - w
    return residual * inverse_v, conj_v * psi


def _sweep(wire: Wire, energy, inverse_v, conj_v, state, slices, keep_states: bool = False):
    """Propagate (psi, w) through ``slices`` (first slice first) by seed 004 eq. 6; return (final, every psi).

    A scan, not a Python loop: XLA fuses an unrolled chain of steps into one kernel that recomputes every earlier
    step, which is ~40x slower on CPU.
    """
    def step(state, slice_blocks):
        new = _step(wire, energy, inverse_v, conj_v, state, slice_blocks)
        return new, (new[0] if keep_states else None)

    return jax.lax.scan(step, state, slices)


class _Slices(NamedTuple):
    """A wire's slices ordered from the right lead, grouped for the sweep (per point)."""

    energy: jnp.ndarray
    inverse_v: jnp.ndarray  # V^{-1} as an (n, 1) column
    conj_v: jnp.ndarray  # V^dag as an (n, 1) column
    blocks: jnp.ndarray  # (k, block_size, W, n_orb, n_orb): the slices of the k normalised blocks
    rest: jnp.ndarray  # the slices stepped after the last normalisation
    first: jnp.ndarray  # slice 0, where the left boundary is applied


def _slices_from_right(wire: Wire, blocks, v, energy, dtype, block_size: int) -> _Slices:
    from_right = blocks[::-1].astype(dtype)
    n_steps = wire.length - 1
    n_blocks = n_steps // block_size
    grouped = from_right[: n_blocks * block_size].reshape((n_blocks, block_size) + from_right.shape[1:])
    return _Slices(
        jnp.asarray(energy, dtype),
        (1 / v)[:, None],
        jnp.conj(v)[:, None],
        grouped,
        from_right[n_blocks * block_size : n_steps],
        from_right[-1],
    )


class _Sweep(NamedTuple):
    """What one right-to-left sweep leaves behind (per point)."""

    green_last: jnp.ndarray  # G_{L-1,0} X, (n, m)
    coefficients: jnp.ndarray  # c_j = P_j c_{j+1} for the k blocks, then c_{k+1}: (k+1, n, m)
    riccati_starts: jnp.ndarray  # w at the start of each block and of the remainder, (k+1, n, n)


def _propagate(wire: Wire, blocks, v, energy, sigma_left, sigma_right, source, block_size: int):
    """Sweep from the right lead to the left one and solve the left boundary for the source X."""
    dtype = sigma_right.dtype
    slices = _slices_from_right(wire, blocks, v, energy, dtype, block_size)
    identity = jnp.eye(wire.slice_size, dtype=dtype)

    def normalised_block(state, block_slices):
        psi, w = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, state, block_slices)[0]
        inverse = jnp.linalg.inv(psi)
        return (identity, w @ inverse), (inverse, state[1])

    state, (inverses, block_starts) = jax.lax.scan(normalised_block, (identity, sigma_right), slices.blocks)
    psi_first, w_first = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, state, slices.rest)[0]
    boundary = slices.energy * psi_first - apply_slice_hamiltonian(wire, slices.first, psi_first) - w_first
    coefficients = jnp.linalg.solve(boundary - sigma_left @ psi_first, source)

    def back_substitute(c, inverse):
        c = inverse @ c
        return c, c

    green_last, block_coefficients = jax.lax.scan(back_substitute, coefficients, inverses, reverse=True)
    return _Sweep(
        green_last,
        jnp.concatenate([block_coefficients, coefficients[None]]),
        jnp.concatenate([block_starts, state[1][None]]),
    )


def transfer_green_blocks(
    wire: Wire, blocks, v, energy, sigma_left, sigma_right, source, block_size: int = DEFAULT_BLOCK_SIZE
) -> jnp.ndarray:
    """The Green's function block between the lead interfaces applied to a source on slice 0: G_{L-1,0} X, (n, m).

    Parameters
    ----------
    blocks : (L, W, n_orb, n_orb) on-site blocks (``wire.onsite_blocks``).
    v : (n,) diagonal of the inter-slice hopping H[x+1, x] at this flux.
    energy : scalar Fermi energy.
    sigma_left, sigma_right : (n, n) lead self-energies at this point.
    source : (n, m) source X on slice 0, e.g. the left lead's channel couplings C_L.
    block_size : slices between re-normalisations (static).
    """
    return _propagate(wire, blocks, v, energy, sigma_left, sigma_right, source, block_size).green_last


def transfer_states(
    wire: Wire, blocks, v, energy, sigma_left, sigma_right, source, block_size: int = DEFAULT_BLOCK_SIZE
) -> jnp.ndarray:
    """Scattering states G_{x,0} X on every slice, (L, n, m), indexed by x.

    After the sweep, block j's true state starts as (c_j, F_j c_j) with F_j its starting Riccati matrix; only
    these m columns are propagated again through the block (m = open channels <= n), instead of storing every
    slice's n x n basis, which measured twice as slow.
    """
    sweep = _propagate(wire, blocks, v, energy, sigma_left, sigma_right, source, block_size)
    slices = _slices_from_right(wire, blocks, v, energy, sigma_right.dtype, block_size)
    n_blocks = slices.blocks.shape[0]

    def block_states(_, inputs):
        block_slices, riccati, c = inputs
        start = (c, riccati @ c)
        return None, _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, start, block_slices, True)[1]

    _, in_blocks = jax.lax.scan(
        block_states, None, (slices.blocks, sweep.riccati_starts[:-1], sweep.coefficients[:-1])
    )
    last_c = sweep.coefficients[-1]
    _, in_rest = block_states(None, (slices.rest, sweep.riccati_starts[-1], last_c))
    first = sweep.coefficients[0] if n_blocks else last_c  # psi_{L-1} = 1 in the first basis
    states = jnp.concatenate([first[None], in_blocks.reshape((-1,) + last_c.shape), in_rest])
    return states[::-1]


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def transmission_amplitudes(wire: Wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right):
    """Y = C_R^dag G_{L-1,0} C_L, the transmission matrix in the channel bases of Gamma = C C^dag, (N_R, N_L).

    Reverse mode by the adjoint method instead of differentiating the sweep: with dG = G dH G, the cotangent of
    slice x's on-site blocks is ``A_x Ybar Psi_x^T`` restricted to each site, where Psi_x = G_{x,0} C_L are the
    scattering states and A_x = (G^T)_{x,L-1} C_R^* the adjoint states. G^T is the Green's function of the wire
    mirrored in x with transposed on-site blocks, the same hopping V and the leads' Sigma^T exchanged, so the
    adjoint states cost one more transfer sweep plus a pass over m columns (value-and-gradient measured 3.3-4.0x the
    forward sweep, benchmarks/bench_transport.py; JAX's own transpose of every inversion measured 3.5-3.8x on the
    seed 000 wire). Flux, energy and the leads get zero cotangents.
    """
    green_source = transfer_green_blocks(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left)
    return coupling_right.conj().T @ green_source


def _amplitudes_forward(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right):
    states = transfer_states(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left)
    residuals = (states, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right)
    return coupling_right.conj().T @ states[-1], residuals


def _amplitudes_backward(wire, residuals, amplitudes_bar):
    states, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right = residuals
    mirrored_transposed = jnp.swapaxes(blocks, -1, -2)[::-1]
    adjoint = transfer_states(
        wire, mirrored_transposed, v, energy, sigma_right.T, sigma_left.T, jnp.conj(coupling_right)
    )[::-1]
    n_orb = wire.n_orbitals
    weighted = (adjoint @ amplitudes_bar).reshape(wire.length, wire.width, n_orb, 1, -1)
    blocks_bar = jnp.sum(weighted * states.reshape(wire.length, wire.width, 1, n_orb, -1), axis=-1)
    zeros = [jnp.zeros_like(a) for a in (v, energy, sigma_left, sigma_right, coupling_left, coupling_right)]
    return (blocks_bar.astype(blocks.dtype), *zeros)


transmission_amplitudes.defvjp(_amplitudes_forward, _amplitudes_backward)
