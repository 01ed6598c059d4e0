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
seed 000 wire. The coefficients at the right end are ``c_right = P_1 P_2 ... P_k c`` with P_j = psi_j^{-1} the
inverses used; the forward pass carries C_R^dag P_1 ... P_j along the sweep instead of storing the P_j
(:func:`_row_sweep`), so a point needs O(n^2) memory at any length, and never forms a transfer-matrix product.
The same sweep gives the reflection, and with it the current-conservation check of single precision
(:func:`unitarity_defect`).

Gradients (:func:`scattering_amplitudes`) use the adjoint method: the scattering states of the wire and of its
mirrored transpose, one sweep each, instead of reverse mode through every inversion; the adjoint states are
contracted with the stored ones slice by slice as they are formed. For wires whose stored states do not fit,
:func:`checkpointed_amplitudes` runs JAX's reverse mode through the sweep with ``jax.checkpoint`` over segments
of blocks (memory O(sqrt(L)) per point, one extra forward sweep).
"""
from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from .wire import Wire, apply_slice_hamiltonian

#: Slices between re-normalisations. On the seed 000 wire (30 x 30, a 10t antidot) 5 keeps the transfer-matrix
#: conductance within ~3e-12 of the recursive Green's function; the error grows like (growth per slice)^S.
DEFAULT_BLOCK_SIZE = 5


def _step(wire: Wire, energy, inverse_v, conj_v, state, slice_blocks):
    psi, w = state
    residual = energy * psi - apply_slice_hamiltonian(wire, slice_blocks, psi) - w
    return residual * inverse_v, conj_v * psi


def _sweep(wire: Wire, energy, inverse_v, conj_v, state, slices, emit=None, partners=None):
    """Propagate (psi, w) through ``slices`` (first slice first) by seed 004 eq. 6; return (final, emitted).

    ``emit(psi, partner)``, if given, maps the psi each step starts from (and the matching entry of ``partners``)
    to what the scan stacks: the state before the step, which XLA copies out of the carry, where stacking the new
    one made it compute every step twice. A scan, not a Python loop: XLA fuses an unrolled chain of steps into one
    kernel that recomputes every earlier step, which is ~40x slower on CPU.
    """
    def step(state, inputs):
        slice_blocks, partner = inputs
        new = _step(wire, energy, inverse_v, conj_v, state, slice_blocks)
        return new, (None if emit is None else emit(state[0], partner))

    return jax.lax.scan(step, state, (slices, partners))


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


def _site_products(wire: Wire, psi, partner):
    """sum_m psi[(y, a), m] partner[(y, b), m] for every site y: (W, n_orb, n_orb), the site blocks of psi partner^T."""
    n_orb = wire.n_orbitals
    return jnp.sum(psi.reshape(wire.width, n_orb, 1, -1) * partner.reshape(wire.width, 1, n_orb, -1), axis=-1)


def transfer_states(
    wire: Wire, blocks, v, energy, sigma_left, sigma_right, source, block_size: int = DEFAULT_BLOCK_SIZE,
    partner=None,
) -> jnp.ndarray:
    """Scattering states G_{x,0} X on every slice, (L, n, m) indexed by x; or their site products with ``partner``.

    The sweep keeps each block's inverse P_j and starting Riccati matrix F_j; after the left boundary gives c,
    one reverse pass recovers the block coefficients c_j = P_j c_{j+1} and propagates only the m columns
    (c_j, F_j c_j) through each block (m = open channels <= n), instead of storing every slice's n x n basis,
    which measured twice as slow.

    With ``partner`` (L, n, m), given in the order the slices are swept (x = L-1 first), the pass stores
    ``_site_products(state, partner)`` per slice instead of the state, (L, W, n_orb, n_orb) in that order: the
    adjoint method's contraction A_x tbar Psi_x^T formed on the fly, without storing the adjoint states. For the
    mirrored wire of the adjoint sweep that order is the original x order.
    """
    dtype = sigma_right.dtype
    slices = _slices_from_right(wire, blocks, v, energy, dtype, block_size)
    identity = jnp.eye(wire.slice_size, dtype=dtype)
    n_blocks = slices.blocks.shape[0]

    def normalised_block(state, block_slices):
        psi, w = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, state, block_slices)[0]
        inverse = jnp.linalg.inv(psi)
        return (identity, w @ inverse), (inverse, state[1])

    (_, w_last), (inverses, starts) = jax.lax.scan(normalised_block, (identity, sigma_right), slices.blocks)
    psi_first, w_first = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, (identity, w_last),
                                slices.rest)[0]
    boundary = slices.energy * psi_first - apply_slice_hamiltonian(wire, slices.first, psi_first) - w_first
    coefficients = jnp.linalg.solve(boundary - sigma_left @ psi_first, source)

    if partner is None:
        def emit(psi, _):
            return psi
        partners = (None, None, None)
    else:
        def emit(psi, partner_slice):
            return _site_products(wire, psi, partner_slice)
        in_blocks = partner[: n_blocks * block_size].reshape((n_blocks, block_size) + partner.shape[1:])
        partners = (in_blocks, partner[n_blocks * block_size : -1], partner[-1])

    def sweep_states(start, block_slices, block_partners):
        return _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, start, block_slices, emit,
                      block_partners)

    # Each block emits the states on its own slices, from its start (x = L-1 for the first block) on; the
    # remainder's end is slice 0.
    (psi_0, _), in_rest = sweep_states((coefficients, w_last @ coefficients), slices.rest, partners[1])

    def block_states(c_next, inputs):
        inverse, riccati, block_slices, block_partners = inputs
        c = inverse @ c_next
        return c, sweep_states((c, riccati @ c), block_slices, block_partners)[1]

    _, in_blocks = jax.lax.scan(block_states, coefficients, (inverses, starts, slices.blocks, partners[0]),
                                reverse=True)
    last = emit(psi_0, partners[2])
    emitted = jnp.concatenate([in_blocks.reshape((n_blocks * block_size,) + last.shape), in_rest, last[None]])
    return emitted if partner is not None else emitted[::-1]


def default_segment_blocks(n_blocks: int) -> int:
    """Normalised blocks per recomputed segment of the memory-bounded sweep: about sqrt(k / 4) of the k blocks.

    Reverse mode then stores the k / S segment starts (two (n, n)-sized matrices each) and, while one segment is
    recomputed, ~8 S matrices of size (n, n) (every slice's basis and the inversion's operands); S = sqrt(k / 4)
    balances the two.
    """
    return max(1, math.ceil(math.sqrt(n_blocks / 4)))


def _scan_blocks(body, carry, blocks, segment_blocks: Optional[int]):
    """``lax.scan(body, carry, blocks)[0]``; with ``segment_blocks`` S, as k // S ``jax.checkpoint``-ed segments.

    Reverse mode through a checkpointed segment stores only the carry at its start and recomputes the segment's
    S blocks when the backward pass reaches it (Griewank's two-level checkpointing): one more forward sweep in
    exchange for O(k / S + S) stored blocks instead of O(k).
    """
    n_blocks = blocks.shape[0]
    if not segment_blocks or segment_blocks >= n_blocks:
        return jax.lax.scan(body, carry, blocks)[0]
    n_segments = n_blocks // segment_blocks
    segments = blocks[: n_segments * segment_blocks].reshape((n_segments, segment_blocks) + blocks.shape[1:])

    # prevent_cse=False: inside a scan XLA cannot merge the recomputation with the forward pass anyway.
    @partial(jax.checkpoint, prevent_cse=False)
    def segment(carry, segment_slices):
        return jax.lax.scan(body, carry, segment_slices)[0], None

    carry = jax.lax.scan(segment, carry, segments)[0]
    return jax.lax.scan(body, carry, blocks[n_segments * segment_blocks :])[0]


def _row_sweep(wire: Wire, blocks, v, energy, sigma_left, sigma_right, source, rows, block_size: int,
               segment_blocks: Optional[int] = None):
    """One right-to-left sweep that stores nothing per block: returns (rows G_{L-1,0} X, G_{0,0} X).

    Instead of keeping the inverses P_j for the back-substitution c_right = P_1 ... P_k c, the rows
    R_j = R P_1 ... P_j (R = ``rows``, e.g. C_R^dag, m x n) are carried along the sweep, so that
    R G_{L-1,0} X = R_k c once the left boundary gives c. Same flops as the back-substitution (m n^2 per block),
    O(n^2) memory per point whatever the length. Every R_j = R psi_{L-1} psi_j^{-1} maps the outgoing solution
    at block j onto the right end, where it can only be smaller or propagate, so the products stay bounded.
    Plain JAX: differentiable by reverse mode, with ``segment_blocks`` checkpointing (see :func:`_scan_blocks`).
    """
    dtype = sigma_right.dtype
    slices = _slices_from_right(wire, blocks, v, energy, dtype, block_size)
    identity = jnp.eye(wire.slice_size, dtype=dtype)

    def normalised_block(carry, block_slices):
        w, rows = carry
        psi, w = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, (identity, w), block_slices)[0]
        inverse = jnp.linalg.inv(psi)
        return w @ inverse, rows @ inverse

    def block_step(carry, block_slices):
        return normalised_block(carry, block_slices), None

    w, rows = _scan_blocks(block_step, (sigma_right, rows), slices.blocks, segment_blocks)
    psi_first, w_first = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, (identity, w), slices.rest)[0]
    boundary = slices.energy * psi_first - apply_slice_hamiltonian(wire, slices.first, psi_first) - w_first
    coefficients = jnp.linalg.solve(boundary - sigma_left @ psi_first, source)
    return rows @ coefficients, psi_first @ coefficients


def _reflection(coupling_left, state_first):
    """r = 1 - i C_L^dag G_{0,0} C_L (Mahaux-Weidenmueller; zero coupling columns give r_ii = 1 exactly)."""
    return jnp.eye(coupling_left.shape[-1], dtype=state_first.dtype) - 1j * (coupling_left.conj().T @ state_first)


def unitarity_defect(transmission, reflection) -> jnp.ndarray:
    """|N - T - R| in units of e^2/h: current conservation, ``sum |t|^2 + sum |r|^2 = N`` per incoming channel.

    ``reflection`` is (m, m) over the m coupling columns of the left lead, m - N of which may be closed (zero
    couplings, r_ii = 1); their contribution cancels against m, so the defect is that of the N open channels.
    Exact arithmetic gives 0; in double precision it is ~1e-12, in single precision it measures how much rounding
    the transfer sweep amplified (see :data:`magwidgets.core.observables.SINGLE_PRECISION_TOLERANCE`).
    """
    total = jnp.sum(jnp.abs(transmission) ** 2) + jnp.sum(jnp.abs(reflection) ** 2)
    return jnp.abs(total - reflection.shape[-1])


def checkpointed_amplitudes(wire: Wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right,
                            segment_blocks: Optional[int] = None, block_size: int = DEFAULT_BLOCK_SIZE):
    """(t, r) like :func:`scattering_amplitudes`, differentiated by JAX's reverse mode with bounded memory.

    The memory-bounded gradient path for large wires: the sweep of :func:`_row_sweep` carries only
    (w, C_R^dag P_1 ... P_j) from block to block, and its k normalised blocks are grouped into segments of
    ``segment_blocks`` (default :func:`default_segment_blocks`, ~sqrt(k / 4)) under ``jax.checkpoint``. Reverse mode
    stores the segment starts and recomputes one segment at a time, so a point holds O((k / S + 8 S) n^2) numbers
    instead of the adjoint method's every-slice scattering states plus 2 k (n, n) sweep matrices; it costs about
    one more forward sweep than plain reverse mode (measured in ``benchmarks/bench_scale.py``). The gradient is
    exact: it equals the adjoint method's to rounding (tests/core/test_scale.py). r carries no gradient.
    """
    n_blocks = (wire.length - 1) // block_size
    segment_blocks = default_segment_blocks(n_blocks) if segment_blocks is None else segment_blocks
    transmission, state_first = _row_sweep(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left,
                                           coupling_right.conj().T, block_size, segment_blocks)
    return transmission, jax.lax.stop_gradient(_reflection(coupling_left, state_first))


def adjoint_memory_bytes(wire: Wire, n_points: int, n_channels: int, itemsize: int = 16) -> int:
    """Estimated peak memory of the adjoint method's value-and-gradient over ``n_points`` points (bytes).

    Per point: the scattering states of every slice kept for the backward pass (L n m numbers), and while a
    sweep runs, its inverses and starting Riccati matrices (2 k n^2, k = (L - 1) // 5 blocks) with XLA's copies
    of them; ``benchmarks/bench_scale.py`` prints it next to the measured peak.
    """
    n, n_blocks = wire.slice_size, (wire.length - 1) // DEFAULT_BLOCK_SIZE
    per_point = 2 * wire.length * n * n_channels + 4 * n_blocks * n * n
    return int(itemsize * n_points * per_point)


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

    The rows carried by :func:`_row_sweep` are the identity here (n^3 per block); the solvers carry C_R^dag.
    """
    rows = jnp.eye(wire.slice_size, dtype=sigma_right.dtype)
    return _row_sweep(wire, blocks, v, energy, sigma_left, sigma_right, source, rows, block_size)[0]


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def scattering_amplitudes(wire: Wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right):
    """t = C_R^dag G_{L-1,0} C_L (N_R, N_L) and r = 1 - i C_L^dag G_{0,0} C_L (N_L, N_L), from one sweep.

    The forward pass is :func:`_row_sweep` (no per-block storage). Reverse mode by the adjoint method instead of
    differentiating the sweep: with dG = G dH G, the cotangent of slice x's on-site blocks is
    ``A_x tbar Psi_x^T`` restricted to each site, where Psi_x = G_{x,0} C_L are the scattering states and
    A_x = (G^T)_{x,L-1} C_R^* the adjoint states. G^T is the Green's function of the wire mirrored in x with
    transposed on-site blocks, the same hopping V and the leads' Sigma^T exchanged, so the adjoint states cost one
    more transfer sweep plus a pass over m columns; the sweep is sourced directly with C_R^* tbar (linear in the
    source), which leaves one elementwise product per slice. Flux, energy and the leads get zero cotangents.
    r serves the precision check (:func:`unitarity_defect`) and carries no gradient: differentiating it raises.
    """
    transmission, state_first = _row_sweep(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left,
                                           coupling_right.conj().T, DEFAULT_BLOCK_SIZE)
    return transmission, _reflection(coupling_left, state_first)


def _amplitudes_forward(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right):
    primals = (blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right)
    blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right = (p.value for p in primals)
    states = transfer_states(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left)
    amplitudes = (coupling_right.conj().T @ states[-1], _reflection(coupling_left, states[0]))
    return amplitudes, (states, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right)


def _amplitudes_backward(wire, residuals, cotangents):
    states, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right = residuals
    transmission_bar, reflection_bar = cotangents
    if not isinstance(reflection_bar, SymbolicZero):
        raise ValueError("the reflection amplitudes of scattering_amplitudes carry no gradient; differentiate the "
                         "transmission (or use mw.scattering_matrix, whose RGF path is differentiable).")
    if isinstance(transmission_bar, SymbolicZero):
        transmission_bar = jnp.zeros(transmission_bar.aval.shape, transmission_bar.aval.dtype)
    mirrored_transposed = jnp.swapaxes(blocks, -1, -2)[::-1]
    # The mirrored wire is swept from x = 0 up, so its on-the-fly products come out in x order.
    blocks_bar = transfer_states(
        wire, mirrored_transposed, v, energy, sigma_right.T, sigma_left.T, jnp.conj(coupling_right) @ transmission_bar,
        partner=states,
    )
    zeros = [jnp.zeros_like(a) for a in (v, energy, sigma_left, sigma_right, coupling_left, coupling_right)]
    return (blocks_bar.astype(blocks.dtype), *zeros)


scattering_amplitudes.defvjp(_amplitudes_forward, _amplitudes_backward, symbolic_zeros=True)


def transmission_amplitudes(wire: Wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right):
    """Y = C_R^dag G_{L-1,0} C_L, the transmission matrix in the channel bases of Gamma = C C^dag, (N_R, N_L).

    The first output of :func:`scattering_amplitudes`, with its adjoint-method gradient (value-and-gradient
    measured ~3x the forward sweep on the seed 000 wire, ``benchmarks/bench_transport.py``).
    """
    return scattering_amplitudes(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right)[0]
