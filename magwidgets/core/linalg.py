"""Dense inverses, solves and log-determinants that hand LAPACK one matrix per call.

jaxlib 0.10's CPU LAPACK kernels split a batch of matrices into tasks on XLA's intra-op thread pool and wait for
them from inside that pool. When two batched kernels run at once (two independent solves of one program scheduled
side by side, or two programs run from two Python threads, as the dashboard's panels do), each waits for tasks
queued behind the other and no thread is left to run them: the process hangs at 0 % CPU
(``scripts/jax_lapack_deadlock.py`` reproduces it). A kernel given one matrix runs it in the calling thread.

So under jaxlib >= 0.10 these functions loop over the batch inside the compiled program (``lax.map``), one matrix
per LAPACK call, and keep doing so under ``jax.vmap`` (a custom batching rule) and under differentiation (the
derivatives are written with matrix products and further looped solves, never with JAX's batched kernels). Under
jaxlib 0.9, whose kernels run a batch in the calling thread, they are ``jnp.linalg``'s own functions.
The results are the same LAPACK factorisations either way (LU with partial pivoting, ``getrf``/``getrs``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import jaxlib

__all__ = ["inv", "solve", "slogdet", "ONE_MATRIX_PER_CALL"]

#: True where the batch is looped over in the program (jaxlib >= 0.10), False where LAPACK takes it whole.
ONE_MATRIX_PER_CALL: bool = tuple(int(part) for part in jaxlib.__version__.split(".")[:2]) >= (0, 10)


def _looped(function, *operands):
    """``function`` (one matrix per operand, no batch) applied over the operands' common leading batch axes."""
    batch = jnp.broadcast_shapes(*(operand.shape[:-2] for operand in operands))
    if not batch:
        return function(*operands)
    flat = [jnp.broadcast_to(operand, batch + operand.shape[-2:]).reshape((-1,) + operand.shape[-2:])
            for operand in operands]
    result = jax.lax.map(lambda args: function(*args), tuple(flat))
    return jax.tree_util.tree_map(lambda leaf: leaf.reshape(batch + leaf.shape[1:]), result)


def _batched_by_looping(one_matrix):
    """``one_matrix`` with a batching rule that loops over the batch instead of batching the LAPACK call."""
    custom = jax.custom_batching.custom_vmap(one_matrix)

    @custom.def_vmap
    def rule(axis_size, in_batched, *operands):
        # the rule sees the batch axis first; an unbatched operand is shared by every member of the batch
        operands = [operand if batched else jnp.broadcast_to(operand, (axis_size,) + operand.shape)
                    for operand, batched in zip(operands, in_batched)]
        result = jax.lax.map(lambda args: custom(*args), tuple(operands))
        return result, jax.tree_util.tree_map(lambda _: True, result)

    return custom


@_batched_by_looping
def _solve_one(a, b):
    # a (n, n), b (n, m): one getrf and one getrs
    return jax.scipy.linalg.lu_solve(jax.scipy.linalg.lu_factor(a), b)


@_batched_by_looping
def _lu_one(a):
    lu, pivots, _ = jax.lax.linalg.lu(a)
    return lu, pivots


def _solve(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    if b.ndim == a.ndim - 1:  # (..., n) right-hand sides, as jnp.linalg.solve takes them
        return _solve(a, b[..., None])[..., 0]
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a, b = jnp.broadcast_to(a, batch + a.shape[-2:]), jnp.broadcast_to(b, batch + b.shape[-2:])
    # custom_linear_solve differentiates through a x = b implicitly (dx = a^{-1} (db - da x)) and transposes with
    # a^T, so neither differentiation nor transposition ever sees the looped LAPACK calls
    return jax.lax.custom_linear_solve(
        lambda x: a @ x, b,
        solve=lambda _, rhs: _looped(_solve_one, a, rhs),
        transpose_solve=lambda _, rhs: _looped(_solve_one, jnp.swapaxes(a, -1, -2), rhs))


def _inv(a: jnp.ndarray) -> jnp.ndarray:
    return _solve(a, jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape))


@jax.custom_jvp
def _slogdet(a: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    lu, pivots = _looped(_lu_one, a)
    diagonal = jnp.diagonal(lu, axis1=-2, axis2=-1)
    swaps = jnp.sum(pivots != jnp.arange(a.shape[-1], dtype=pivots.dtype), axis=-1)
    sign = jnp.where(swaps % 2 == 1, -1, 1).astype(a.dtype) * jnp.prod(
        diagonal / jnp.abs(diagonal).astype(a.dtype), axis=-1)
    return sign, jnp.sum(jnp.log(jnp.abs(diagonal)), axis=-1)


@_slogdet.defjvp
def _slogdet_jvp(primals, tangents):
    # d log det a = tr(a^{-1} da); the sign of a real matrix does not change to first order
    (a,), (da,) = primals, tangents
    sign, log_abs = _slogdet(a)
    trace = jnp.trace(_solve(a, da), axis1=-2, axis2=-1)
    if jnp.issubdtype(a.dtype, jnp.complexfloating):
        return (sign, log_abs), (sign * 1j * jnp.imag(trace), jnp.real(trace))
    return (sign, log_abs), (jnp.zeros_like(sign), trace)


def inv(a: jnp.ndarray) -> jnp.ndarray:
    """a^{-1} for a (..., n, n) stack of square matrices; ``jnp.linalg.inv`` (see the module's note on batches)."""
    return _inv(a) if ONE_MATRIX_PER_CALL else jnp.linalg.inv(a)


def solve(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """x with a x = b, a (..., n, n) and b (..., n) or (..., n, m); ``jnp.linalg.solve`` (see the module's note)."""
    return _solve(a, b) if ONE_MATRIX_PER_CALL else jnp.linalg.solve(a, b)


def slogdet(a: jnp.ndarray) -> tuple[jnp.ndarray, jnp.ndarray]:
    """(sign, log|det a|) of a (..., n, n) stack; ``jnp.linalg.slogdet`` (see the module's note on batches)."""
    return _slogdet(a) if ONE_MATRIX_PER_CALL else jnp.linalg.slogdet(a)
