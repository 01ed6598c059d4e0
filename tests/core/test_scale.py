"""Large-wire paths (issue 6): the memory-bounded reverse mode, and the complex64 safety check."""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import magwidgets as mw
from magwidgets.core import SinglePrecisionWarning, observables, transfer
from magwidgets.core.wire import onsite_blocks, x_hopping


def antidot(length, width, amplitude, x0=15, y0=10, radius=2.0):
    x, y = np.meshgrid(np.arange(length), np.arange(width), indexing="ij")
    return 4 + amplitude * np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / radius**2)


@pytest.fixture(scope="module")
def moderate():
    """A 41 x 9 disordered wire (8 normalised blocks), 5 fluxes (the memory-bounded path takes them 4 at a time),
    the seed 000 loss against another sample's G."""
    rng = np.random.default_rng(21)
    wire = mw.Wire(41, 9)
    flux = np.linspace(0, 0.06, 5)
    target = np.asarray(mw.conductance(wire, 4 + rng.uniform(-1, 1, (41, 9)), flux, 1.1))
    return wire, 4 + rng.uniform(-1, 1, (41, 9)), flux, target


def test_checkpointed_gradient_equals_the_adjoint_gradient(moderate):
    wire, onsite, flux, target = moderate

    def loss(values, checkpoint):
        conductance = mw.conductance(wire, values, flux, 1.1, checkpoint=checkpoint)
        return jnp.sqrt(jnp.mean((jnp.log(conductance) - jnp.log(target)) ** 2))  # seed 000 eq. 4

    value, gradient = jax.value_and_grad(loss)(onsite, False)
    value_checkpointed, gradient_checkpointed = jax.value_and_grad(loss)(onsite, True)
    assert value_checkpointed == pytest.approx(float(value), abs=1e-14)
    # Two different exact algorithms (adjoint sweep against reverse mode through the sweep): rounding apart, by
    # 0.85e-12 and 1.04e-12 of the largest entry with two sets of leads that both solve their Dyson equations to 2e-15.
    np.testing.assert_allclose(gradient_checkpointed, gradient, rtol=0, atol=2e-12 * np.abs(gradient).max())


@pytest.mark.parametrize("segment_blocks", [1, 3, 5])
def test_segment_recomputation_does_not_change_the_gradient(moderate, segment_blocks):
    # Segments of 1, 3 (with a remainder of 2 blocks) and 5 blocks against plain reverse mode (one segment).
    wire, onsite, flux, _ = moderate
    grid, _ = observables.sweep_grid(wire, flux, 1.1)
    leads = grid.leads

    def conductance(values, segments):
        blocks = onsite_blocks(wire, values, None)

        def one(phi, e, sigma_left, sigma_right, coupling_left, coupling_right):
            t, _ = transfer.checkpointed_amplitudes(wire, blocks, x_hopping(wire, phi), e, sigma_left,
                                                    sigma_right, coupling_left, coupling_right, segments)
            return jnp.sum(jnp.abs(t) ** 2)

        return jnp.sum(jax.vmap(one)(grid.flux, grid.energy, leads.left, leads.right, leads.coupling_left,
                                     leads.coupling_right) ** 2)

    plain = jax.grad(conductance)(jnp.asarray(onsite), 0)
    segmented = jax.grad(conductance)(jnp.asarray(onsite), segment_blocks)
    np.testing.assert_allclose(segmented, plain, rtol=0, atol=1e-12 * np.abs(plain).max())


def test_checkpoint_is_chosen_above_the_memory_budget(moderate, monkeypatch):
    wire, onsite, flux, _ = moderate
    grid, _ = observables.sweep_grid(wire, flux, 1.1)
    assert not observables._use_checkpoint(wire, grid, "double", None)  # ~1 MB: the adjoint method
    estimate = transfer.adjoint_memory_bytes(wire, 5, grid.leads.coupling_left.shape[-1])
    monkeypatch.setattr(observables, "CHECKPOINT_ABOVE_BYTES", estimate - 1)
    assert observables._use_checkpoint(wire, grid, "double", None)
    assert not observables._use_checkpoint(wire, grid, "double", False)
    # 200 x 200 with 21 fluxes (m = 75 channels) is past the default 4 GiB budget; 30 x 30 x 101 is not.
    assert transfer.adjoint_memory_bytes(mw.Wire(200, 200), 21, 75) > observables.CHECKPOINT_ABOVE_BYTES / 2
    assert transfer.adjoint_memory_bytes(mw.Wire(30, 30), 101, 11) < 1e8


def test_reflection_is_current_conserving_and_not_differentiable(moderate):
    wire, onsite, flux, _ = moderate
    grid, _ = observables.sweep_grid(wire, flux[2], 1.1)
    leads = [field[0] for field in grid.leads[:4]]
    blocks, v = onsite_blocks(wire, jnp.asarray(onsite), None), x_hopping(wire, flux[2])
    t, r = transfer.scattering_amplitudes(wire, blocks, v, 1.1, *leads)
    assert float(transfer.unitarity_defect(t, r)) < 1e-10  # T + R = N in double precision

    def reflected(values):
        return jnp.sum(jnp.abs(transfer.scattering_amplitudes(wire, values, v, 1.1, *leads)[1]) ** 2)

    with pytest.raises(ValueError, match="no gradient"):
        jax.grad(reflected)(blocks.real.astype(complex))


def test_single_precision_warns_on_a_steep_antidot_but_not_on_seed_000():
    wire = mw.Wire(30, 30)
    flux = np.linspace(0, 0.12 / np.pi, 101)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SinglePrecisionWarning)
        seed000 = mw.conductance(wire, antidot(30, 30, 10.0), flux, 1.2, precision="single")
        jax.effects_barrier()
    exact = mw.conductance(wire, antidot(30, 30, 10.0), flux, 1.2)
    assert np.abs(seed000 - exact).max() < 1e-2  # complex64 is fine here (3e-3), and said nothing
    with pytest.warns(SinglePrecisionWarning, match="precision='double'"):
        steep = mw.conductance(wire, antidot(30, 30, 60.0), flux[::10], 1.2, precision="single")
        jax.effects_barrier()
    # and the warning was right: the error is of the size it reported
    assert np.abs(steep - mw.conductance(wire, antidot(30, 30, 60.0), flux[::10], 1.2)).max() > 3e-3


def test_single_precision_check_also_runs_under_jit_and_grad():
    wire, flux = mw.Wire(30, 30), np.linspace(0, 0.03, 5)
    steep = antidot(30, 30, 60.0)
    def total(values):
        return jnp.sum(mw.conductance(wire, values, flux, 1.2, precision="single"))

    for transformed in (jax.jit(total), jax.grad(total)):
        with pytest.warns(SinglePrecisionWarning):
            jax.block_until_ready(transformed(steep))
            jax.effects_barrier()
    with warnings.catch_warnings():
        warnings.simplefilter("error", SinglePrecisionWarning)
        mw.conductance(wire, steep, flux, 1.2)  # double precision: no check, no warning
        jax.effects_barrier()


def test_allocator_settings_respect_the_users_choice(monkeypatch):
    from magwidgets.core.process import keep_freed_memory

    monkeypatch.setenv("MAGWIDGETS_KEEP_FREED_MEMORY", "0")
    assert keep_freed_memory() is False
    monkeypatch.delenv("MAGWIDGETS_KEEP_FREED_MEMORY")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    assert keep_freed_memory() is False
