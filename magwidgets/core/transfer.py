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
mirrored transpose, one sweep each, instead of reverse mode through every inversion. Neither sweep stores its
states: the coefficient chain gives each one exactly at every re-normalisation point ("anchors", n x m per block),
and the backward pass re-propagates both families over all chunks of <= 5 slices at once, contracting them slice
by slice. For wires whose sweep matrices do not fit, :func:`checkpointed_amplitudes` runs JAX's reverse mode
through the sweep with ``jax.checkpoint`` over segments of blocks (memory O(sqrt(L)) per point, one extra forward
sweep).
"""
from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from .linalg import inv, solve
from .wire import Wire, apply_slice_hamiltonian

#: Slices between re-normalisations. On the seed 000 wire (30 x 30, a 10t antidot) 5 keeps the transfer-matrix
#: conductance within ~3e-12 of the recursive Green's function; the error grows like (growth per slice)^S.
DEFAULT_BLOCK_SIZE = 5
#: Largest number of state entries (slice size x channels x chunks) the adjoint pass steps at once per point.
CHUNK_BATCH_ELEMENTS = 4096


def _step(wire: Wire, energy, inverse_v, conj_v, state, slice_blocks):
    psi, w = state
    residual = energy * psi - apply_slice_hamiltonian(wire, slice_blocks, psi) - w
    return residual * inverse_v, conj_v * psi


def _sweep(wire: Wire, energy, inverse_v, conj_v, state, slices):
    """Propagate (psi, w) through ``slices`` (first slice first) by seed 004 eq. 6; return the final state.

    A scan, not a Python loop: XLA fuses an unrolled chain of steps into one kernel that recomputes every earlier
    step, which is ~40x slower on CPU.
    """
    def step(state, slice_blocks):
        return _step(wire, energy, inverse_v, conj_v, state, slice_blocks), None

    return jax.lax.scan(step, state, slices)[0]


class _Slices(NamedTuple):
    """A wire's slices in the order one sweep takes them, grouped for it (per point)."""

    energy: jnp.ndarray
    inverse_v: jnp.ndarray  # V^{-1} as an (n, 1) column
    conj_v: jnp.ndarray  # V^dag as an (n, 1) column
    groups: tuple  # arrays (count, size, W, n_orb, n_orb): blocks of slices, re-normalised after each block
    tail: jnp.ndarray  # the slices stepped after the last normalisation
    boundary: jnp.ndarray  # the last slice, where the far lead and the source are applied


def _stepping(v, energy, dtype) -> tuple:
    """The first three fields of :class:`_Slices`: E, V^{-1} and V^dag as (n, 1) columns."""
    return jnp.asarray(energy, dtype), (1 / v)[:, None], jnp.conj(v)[:, None]


def _slices_from_right(wire: Wire, blocks, v, energy, dtype, block_size: int) -> _Slices:
    """Slices x = L-1 .. 1 in k = (L - 1) // S blocks of S and a tail of (L - 1) % S; slice 0 is the boundary."""
    from_right = blocks[::-1].astype(dtype)
    n_steps = wire.length - 1
    n_blocks = n_steps // block_size
    grouped = from_right[: n_blocks * block_size].reshape((n_blocks, block_size) + from_right.shape[1:])
    return _Slices(*_stepping(v, energy, dtype), (grouped,), from_right[n_blocks * block_size : n_steps],
                   from_right[-1])


def _mirrored_slices(wire: Wire, transposed, v, energy, dtype) -> _Slices:
    """The mirrored wire's slices (x = 0 .. L-2 of the ``transposed`` blocks, already in ``dtype``; slice L-1 is the
    boundary), re-normalised where the wire's own sweep (:func:`_slices_from_right`) starts its blocks, so that
    both solutions are known exactly on the same slices.

    With L - 1 = S k + r: a first block of r + 1 slices, k - 1 blocks of S, and a tail of S - 1 slices.
    """
    size = DEFAULT_BLOCK_SIZE
    length = wire.length
    n_blocks, rest = divmod(length - 1, size)
    if n_blocks:
        shape = transposed.shape[1:]
        groups = (transposed[: rest + 1][None],
                  transposed[rest + 1 : length - size].reshape((n_blocks - 1, size) + shape))
        tail = transposed[length - size : length - 1]
    else:
        groups, tail = (), transposed[: length - 1]
    return _Slices(*_stepping(v, energy, dtype), groups, tail, transposed[-1])


def _site_products(wire: Wire, psi, partner):
    """sum_m psi[..., (y, a), m] partner[..., (y, b), m] for every site y: (..., W, n_orb, n_orb), the site blocks
    of psi partner^T."""
    n_orb = wire.n_orbitals
    lead = psi.shape[:-2]
    per_site = psi.reshape(lead + (wire.width, n_orb, 1, -1)) * partner.reshape(lead + (wire.width, 1, n_orb, -1))
    return jnp.sum(per_site, axis=-1)


def _boundary_coefficients(wire: Wire, slices: _Slices, psi, w, sigma, source):
    """c with ``[(E - H_b - Sigma) psi - w] c = source`` on the boundary slice b: the far lead and the source."""
    boundary = slices.energy * psi - apply_slice_hamiltonian(wire, slices.boundary, psi) - w
    return solve(boundary - sigma @ psi, source)


class _OutgoingBasis(NamedTuple):
    """One sweep's outgoing solutions in graph form (per point)."""

    stored: tuple  # per group of the _Slices: (P_j, W_j), the inverse ending block j and the Riccati matrix starting it
    riccati: jnp.ndarray  # W at the tail's start
    psi: jnp.ndarray  # the basis on the boundary slice
    w: jnp.ndarray


def _outgoing_basis(wire: Wire, slices: _Slices, riccati) -> _OutgoingBasis:
    """Sweep the n outgoing solutions from (1, ``riccati``), re-normalising to (1, w psi^{-1}) after every block."""
    identity = jnp.eye(wire.slice_size, dtype=riccati.dtype)

    def normalised_block(riccati, block_slices):
        psi, w = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, (identity, riccati), block_slices)
        inverse = inv(psi)
        return w @ inverse, (inverse, riccati)

    stored = []
    for group in slices.groups:
        riccati, group_stored = jax.lax.scan(normalised_block, riccati, group)
        stored.append(group_stored)
    psi, w = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, (identity, riccati), slices.tail)
    return _OutgoingBasis(tuple(stored), riccati, psi, w)


def _anchors(stored: tuple, riccati, coefficients):
    """The solution with ``coefficients`` on the tail's basis, exactly where the tail and each block start.

    Returns (per group of ``stored``: (psi, w) at its blocks' first slices, (count, n, m) each; (psi, w) at the
    tail's first slice). The chain c_j = P_j c_{j+1} runs against the sweep, so every P_j shrinks what the block
    grew and the chain is stable; a block's w = W_j c_j.
    """
    tail = (coefficients, riccati @ coefficients)

    def block_start(c_next, inverse):
        c = inverse @ c_next
        return c, c

    anchors = []
    for inverses, start_riccati in reversed(stored):
        coefficients, starts = jax.lax.scan(block_start, coefficients, inverses, reverse=True)
        # W_j c_j does not feed the chain: one batched product after it rather than one per step.
        anchors.insert(0, (starts, start_riccati @ starts))
    return tuple(anchors), tail


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
        psi, w = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, (identity, w), block_slices)
        inverse = inv(psi)
        return w @ inverse, rows @ inverse

    def block_step(carry, block_slices):
        return normalised_block(carry, block_slices), None

    w, rows = _scan_blocks(block_step, (sigma_right, rows), slices.groups[0], segment_blocks)
    psi_first, w_first = _sweep(wire, slices.energy, slices.inverse_v, slices.conj_v, (identity, w), slices.tail)
    coefficients = _boundary_coefficients(wire, slices, psi_first, w_first, sigma_left, source)
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
    instead of the adjoint method's 2 k (n, n) sweep matrices and block anchors; it costs about
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

    Per point: the backward sweep's inverses and starting Riccati matrices (2 k n^2, k = (L - 1) // 5 blocks)
    with XLA's copies of them, and the anchors of both solutions (4 (k + 1) n m) with the chunk pass's states;
    ``benchmarks/bench_scale.py`` prints it next to the measured peak.
    """
    n, n_blocks = wire.slice_size, (wire.length - 1) // DEFAULT_BLOCK_SIZE
    per_point = 4 * n_blocks * n * n + 8 * (n_blocks + 1) * n * n_channels
    return int(itemsize * n_points * per_point)


@partial(jax.custom_vjp, nondiff_argnums=(0,))
def scattering_amplitudes(wire: Wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right):
    """t = C_R^dag G_{L-1,0} C_L (N_R, N_L) and r = 1 - i C_L^dag G_{0,0} C_L (N_L, N_L), from one sweep.

    The forward pass is :func:`_row_sweep` (no per-block storage). Reverse mode by the adjoint method instead of
    differentiating the sweep: with dG = G dH G, the cotangent of slice x's on-site blocks is
    ``A_x tbar Psi_x^T`` restricted to each site, where Psi_x = G_{x,0} C_L are the scattering states and
    A_x = (G^T)_{x,L-1} C_R^* the adjoint states. G^T is the Green's function of the wire mirrored in x with
    transposed on-site blocks, the same hopping V and the leads' Sigma^T exchanged, so the adjoint states cost one
    more transfer sweep; it is sourced directly with C_R^* tbar (linear in the source). Neither family is stored
    slice by slice (:func:`_adjoint_products`). Value-and-gradient measured 2.6-2.9x the forward sweep on the seed
    000 wire (``benchmarks/bench_transport.py``). Flux, energy and the leads get zero cotangents. r serves the
    precision check (:func:`unitarity_defect`) and carries no gradient: differentiating it raises.
    """
    transmission, state_first = _row_sweep(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left,
                                           coupling_right.conj().T, DEFAULT_BLOCK_SIZE)
    return transmission, _reflection(coupling_left, state_first)


def _amplitudes_forward(wire, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right):
    primals = (blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right)
    blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right = (p.value for p in primals)
    slices = _slices_from_right(wire, blocks, v, energy, sigma_right.dtype, DEFAULT_BLOCK_SIZE)
    basis = _outgoing_basis(wire, slices, sigma_right)
    coefficients = _boundary_coefficients(wire, slices, basis.psi, basis.w, sigma_left, coupling_left)
    (block_anchors,), tail_anchor = _anchors(basis.stored, basis.riccati, coefficients)
    # Psi on slice L-1 is the first block's anchor (with no block, L <= 5, the tail's).
    state_right = block_anchors[0][0] if block_anchors[0].shape[0] else tail_anchor[0]
    amplitudes = (coupling_right.conj().T @ state_right, _reflection(coupling_left, basis.psi @ coefficients))
    return amplitudes, (block_anchors, tail_anchor, blocks, v, energy, sigma_left, sigma_right, coupling_left,
                        coupling_right)


def _adjoint_products(wire: Wire, blocks, v, energy, scattering_anchors, sigma_left, sigma_right, adjoint_source):
    """``A_x Psi_x^T`` on every site, (L, W, n_orb, n_orb) in x order, without storing either family per slice.

    The mirrored wire's sweep (:func:`_mirrored_slices`) is re-normalised where the wire's own blocks start, so
    the wire splits into k + 1 chunks of <= S = 5 slices (from the top: the k blocks, then slices r .. 0) with
    both solutions known exactly at a chunk's ends: Psi at its top (its sweep's block start), A at its bottom
    (the mirrored block start). Each family is re-propagated in its own sweep's direction from there, which keeps
    the rounding bounded by the S-slice growth that the re-normalisation already tolerates (stepping A down from
    the top instead measured 1e-6 relative gradient error at 100 t walls, against 1e-10). The chunks run together
    (vmapped in batches of up to ``CHUNK_BATCH_ELEMENTS``, 2 S steps), which on CPU costs ten loop iterations
    instead of 2 L.
    """
    block_anchors, tail_anchor = scattering_anchors
    dtype = sigma_right.dtype
    size = DEFAULT_BLOCK_SIZE
    n_blocks, rest = divmod(wire.length - 1, size)
    mirrored_x = jnp.swapaxes(blocks, -1, -2).astype(dtype)
    mirrored = _mirrored_slices(wire, mirrored_x, v, energy, dtype)
    basis = _outgoing_basis(wire, mirrored, sigma_left.T)
    coefficients = _boundary_coefficients(wire, mirrored, basis.psi, basis.w, sigma_right.T, adjoint_source)
    mirrored_anchors, mirrored_tail = _anchors(basis.stored, basis.riccati, coefficients)

    # Chunk c holds slices L-1-S c down to L-S (c + 1); the last one, r .. 0, is padded to S slices (dropped below).
    site_shape = blocks.shape[1:]
    padding = jnp.zeros((size - 1 - rest,) + site_shape, dtype)

    def chunked(descending):
        return jnp.concatenate([descending.astype(dtype), padding]).reshape((n_blocks + 1, size) + site_shape)

    upward = chunked(mirrored_x[::-1])[:, ::-1].at[-1].set(jnp.concatenate([mirrored_x[: rest + 1], padding]))
    # Psi starts from every chunk's top; A from its bottom: the mirrored tail's anchor (slice L-S, or 0 without
    # blocks), then the blocks' from the top down, the first block (slice 0) last.
    scattering_tops = tuple(jnp.concatenate([block, tail[None]]) for block, tail in zip(block_anchors, tail_anchor))
    adjoint_bottoms = tuple(jnp.concatenate([tail[None]] + [group[::-1] for group in reversed(groups)])
                            for tail, *groups in zip(mirrored_tail, *mirrored_anchors))
    # The slice the bottom-up pass meets first is the top-down pass's step ``lowest``: S - 1, or r in the last chunk.
    lowest = jnp.full(n_blocks + 1, size - 1).at[-1].set(rest)
    # The wire and its mirror share E and V, so both families step by seed 004 eq. 6 with (V^{-1}, V^dag), each
    # in its own sweep's direction: Psi down the chunk, A up.
    stepping = (mirrored.energy, mirrored.inverse_v, mirrored.conj_v)

    def chunk_products(chunk):
        top, bottom, downward_slices, upward_slices, lowest = chunk

        def down(state, slice_blocks):
            return _step(wire, *stepping, state, slice_blocks), state[0]

        def up(state, inputs):
            slice_blocks, scattering = inputs
            return _step(wire, *stepping, state, slice_blocks), _site_products(wire, state[0], scattering)

        scattering = jax.lax.scan(down, top, downward_slices)[1]
        scattering = jnp.take(scattering, (lowest - jnp.arange(size)) % size, axis=0)
        return jax.lax.scan(up, bottom, (upward_slices, scattering))[1]

    # Chunks at once where their states are small (seed 000: all 6), one at a time for large slices, whose states
    # would otherwise leave the cache (measured 1.3x slower at W = L = 200).
    batch = max(1, min(n_blocks + 1, CHUNK_BATCH_ELEMENTS // (wire.slice_size * adjoint_source.shape[-1])))
    chunks = (scattering_tops, adjoint_bottoms, chunked(blocks[::-1]), upward, lowest)
    products = jax.lax.map(chunk_products, chunks, batch_size=batch)[::-1]
    products = products.reshape((-1,) + products.shape[2:])
    return jnp.concatenate([products[: rest + 1], products[size:]])


def _amplitudes_backward(wire, residuals, cotangents):
    block_anchors, tail_anchor, blocks, v, energy, sigma_left, sigma_right, coupling_left, coupling_right = residuals
    transmission_bar, reflection_bar = cotangents
    if not isinstance(reflection_bar, SymbolicZero):
        raise ValueError("the reflection amplitudes of scattering_amplitudes carry no gradient; differentiate the "
                         "transmission (or use mw.scattering_matrix, whose RGF path is differentiable).")
    if isinstance(transmission_bar, SymbolicZero):
        transmission_bar = jnp.zeros(transmission_bar.aval.shape, transmission_bar.aval.dtype)
    blocks_bar = _adjoint_products(wire, blocks, v, energy, (block_anchors, tail_anchor), sigma_left, sigma_right,
                                   jnp.conj(coupling_right) @ transmission_bar)
    zeros = [jnp.zeros_like(a) for a in (v, energy, sigma_left, sigma_right, coupling_left, coupling_right)]
    return (blocks_bar.astype(blocks.dtype), *zeros)


scattering_amplitudes.defvjp(_amplitudes_forward, _amplitudes_backward, symbolic_zeros=True)
