"""core.linalg: the one-matrix-per-LAPACK-call inverses, solves and log-determinants (used under jaxlib >= 0.10).

The looped functions are tested here whatever the installed jaxlib: they must equal jnp.linalg's, stay one matrix
per call under vmap and differentiation, and have jnp.linalg's derivatives.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from magwidgets.core import linalg

RNG = np.random.default_rng(7)
# well-conditioned stacks: the identity plus a small random part, so that 1e-12 is a fair tolerance
REAL = np.eye(6) + 0.2 * RNG.standard_normal((3, 4, 6, 6))
COMPLEX = REAL + 0.2j * RNG.standard_normal((3, 4, 6, 6))


def _lapack_operand_shapes(function, *args) -> set:
    """Shapes of the matrices handed to LAPACK (lu, triangular_solve, cholesky) anywhere in the traced program."""
    found = set()

    def visit(jaxpr):
        for equation in jaxpr.eqns:
            if equation.primitive.name in ("lu", "triangular_solve", "cholesky"):
                found.update(variable.aval.shape for variable in equation.invars)
            for parameter in equation.params.values():
                for item in parameter if isinstance(parameter, (list, tuple)) else [parameter]:
                    inner = getattr(item, "jaxpr", item)
                    if hasattr(inner, "eqns"):
                        visit(inner)

    visit(jax.make_jaxpr(function)(*args).jaxpr)
    return found


@pytest.mark.parametrize("stack", [REAL, COMPLEX], ids=["real", "complex"])
def test_looped_functions_equal_jnp_linalg(stack):
    rhs = RNG.standard_normal(stack.shape[:-1] + (2,)).astype(stack.dtype)
    np.testing.assert_allclose(linalg._inv(stack), np.linalg.inv(stack), atol=1e-12)
    np.testing.assert_allclose(jax.jit(linalg._solve)(stack, rhs), np.linalg.solve(stack, rhs), atol=1e-12)
    np.testing.assert_allclose(linalg._solve(stack, rhs[..., 0]), np.linalg.solve(stack, rhs[..., :1])[..., 0],
                               atol=1e-12)
    np.testing.assert_allclose(linalg._solve(stack[0, 0], rhs), np.linalg.solve(stack[0, 0], rhs), atol=1e-12)
    sign, log_abs = linalg._slogdet(stack)
    expected_sign, expected_log = np.linalg.slogdet(stack)
    np.testing.assert_allclose(sign, expected_sign, atol=1e-12)
    np.testing.assert_allclose(log_abs, expected_log, atol=1e-12)


def test_a_negative_determinant_keeps_its_sign():
    swapped = np.eye(3)[[1, 0, 2]] * 2.0  # one row swap: det = -8
    sign, log_abs = linalg._slogdet(jnp.asarray(swapped))
    assert float(sign) == -1.0 and float(log_abs) == pytest.approx(np.log(8.0), abs=1e-14)


def test_lapack_sees_one_matrix_per_call_under_vmap_and_gradients():
    def loss(a):
        return jnp.sum(jnp.abs(linalg._inv(a)) ** 2) + linalg._slogdet(a)[1] + jnp.sum(linalg._solve(a, a[0]))

    for traced in (jax.vmap(jax.vmap(loss)), jax.vmap(jax.grad(lambda a: jnp.sum(jax.vmap(loss)(a))))):
        shapes = _lapack_operand_shapes(traced, REAL)
        assert shapes and all(len(shape) == 2 for shape in shapes), shapes
    # the check can fail: jnp.linalg hands LAPACK the whole batch
    assert (3, 4, 6, 6) in _lapack_operand_shapes(jax.vmap(jnp.linalg.inv), REAL)


@pytest.mark.parametrize("stack", [REAL[0], COMPLEX[0]], ids=["real", "complex"])
def test_gradients_equal_jnp_linalg(stack):
    weights = RNG.standard_normal(stack.shape)

    def through(inverse, solver, determinant):
        def loss(a):
            x = solver(a, jnp.asarray(weights[..., :2], dtype=a.dtype))
            return (jnp.sum(weights * jnp.real(inverse(a))) + jnp.sum(jnp.abs(x) ** 2)
                    + jnp.sum(determinant(a)[1]))
        return loss

    ours = through(linalg._inv, linalg._solve, linalg._slogdet)
    reference = through(jnp.linalg.inv, jnp.linalg.solve, jnp.linalg.slogdet)
    real_part = jnp.real(jnp.asarray(stack))
    np.testing.assert_allclose(jax.grad(ours)(real_part), jax.grad(reference)(real_part), atol=1e-10)
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(ours)))(real_part), jax.vmap(jax.grad(reference))(real_part),
                               atol=1e-10)
    # second derivatives (the VMC's Laplacian differentiates log|det| twice)
    single = real_part[0]
    np.testing.assert_allclose(jax.hessian(lambda a: linalg._slogdet(a)[1])(single),
                               jax.hessian(lambda a: jnp.linalg.slogdet(a)[1])(single), atol=1e-10)


def test_public_functions_follow_the_installed_jaxlib():
    import jaxlib

    major_minor = tuple(int(part) for part in jaxlib.__version__.split(".")[:2])
    assert linalg.ONE_MATRIX_PER_CALL == (major_minor >= (0, 10))
    shapes = _lapack_operand_shapes(jax.vmap(linalg.inv), REAL[0])
    assert all(len(shape) == 2 for shape in shapes) == linalg.ONE_MATRIX_PER_CALL
