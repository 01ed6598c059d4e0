"""Public observables: conductance sweeps, scattering matrix, wavefunction intensity and LDOS.

Every function takes the static :class:`~magwidgets.core.wire.Wire`, an ``onsite`` array (L, W) of the full
on-site energies h_i (seed 000 uses 4t + defect potential), the flux per plaquette in units of h/e, the Fermi
energy in units of t and, with spin, the magnetisation angles ``theta`` (L, W). They accept NumPy or JAX arrays,
work under ``jax.jit`` and are differentiable with respect to ``onsite`` and ``theta`` (not flux or energy: the
leads are computed by LAPACK, see :mod:`magwidgets.core.leads`).

Precision: ``precision="double"`` (complex128, the default, agrees with Kwant to ~1e-12) or ``"single"``
(complex64, for GPUs; on the seed 000 wire the conductance error is up to ~3e-3 e^2/h, see README "Precision").
A complex64 transfer sweep checks current conservation, |N - T - R|, at every point and warns
(:class:`SinglePrecisionWarning`) where it exceeds :data:`SINGLE_PRECISION_TOLERANCE`.
"""
from __future__ import annotations

import warnings
from functools import partial
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from .leads import LeadSelfEnergies, Progress, lead_self_energies
from .rgf import rgf_green_columns, rgf_transmission_block
from .sharding import (BATCH, DEVICE_CHOICES, batch_mesh, gathered, map_batch, pad_batch, padded_length, place,
                       replicate)
from .transfer import adjoint_memory_bytes, checkpointed_amplitudes, scattering_amplitudes, unitarity_defect
from .wire import Wire, onsite_blocks, x_hopping

SOLVERS = ("transfer", "rgf")
PRECISIONS = {"double": jnp.complex128, "single": jnp.complex64}
#: The transfer-matrix solver re-normalises every 5 slices, so a site with |h - E| = X t grows its columns by up to
#: X^5 in between: measured against the recursive Green's function, ~2e-10 e^2/h at X = 100 on a 30 x 30 wire,
#: 3e-8 at 300, 1e-6 at 1000 (hard walls). Beyond this X :func:`conductance` uses the recursive Green's function.
TRANSFER_RANGE = 100.0
#: Largest |onsite| and |energy| accepted: complex arithmetic squares magnitudes and overflows beyond ~1e154
#: (G came out NaN for +-1e300 on one slice), while |h - E| above ~1e8 t is already a hard wall.
MAX_MAGNITUDE = 1e150
#: Largest current-conservation defect |N - T - R| (e^2/h) a complex64 transfer sweep may show before a
#: :class:`SinglePrecisionWarning`. The defect tracks the conductance error within a factor ~2 wherever both were
#: measured (README "Precision"): 3e-3 on seed 000, 2e-5 on seed 004's maps, 2e-2 for a 60 t antidot.
SINGLE_PRECISION_TOLERANCE = 1e-2
#: ``checkpoint=None`` switches to the memory-bounded reverse mode when the adjoint method's estimated peak
#: (:func:`magwidgets.core.transfer.adjoint_memory_bytes`) for the whole sweep exceeds this many bytes.
CHECKPOINT_ABOVE_BYTES = 4 * 2**30
#: Points evaluated together on the memory-bounded path (``checkpoint=True``).
CHECKPOINT_BATCH = 4


class SinglePrecisionWarning(UserWarning):
    """A complex64 conductance lost more accuracy than :data:`SINGLE_PRECISION_TOLERANCE`; use double precision."""


def _is_traced(value) -> bool:
    return isinstance(value, jax.core.Tracer)


def _check_site_array(wire: Wire, values, name: str) -> jnp.ndarray:
    if not isinstance(wire, Wire):
        raise ValueError(f"wire must be a magwidgets.Wire, got {type(wire).__name__}.")
    if values is None:
        raise ValueError(f"{name} is required: an array of shape (length, width) = {(wire.length, wire.width)}.")
    if not _is_traced(values):
        try:
            array = np.asarray(values)
        except (TypeError, ValueError):  # ragged nested lists
            raise ValueError(f"{name} must be a real array of shape {(wire.length, wire.width)}, got "
                             f"{type(values).__name__} rows of different lengths.") from None
        if array.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be a real array of shape {(wire.length, wire.width)}, got dtype {array.dtype}.")
        if array.shape == (wire.length, wire.width) and not np.all(np.isfinite(array)):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
            raise ValueError(f"{name} must be finite everywhere; found {array[bad]} at site (x, y) = {bad}.")
        if name == "onsite" and array.shape == (wire.length, wire.width) and array.size \
                and np.abs(array).max() > MAX_MAGNITUDE:
            bad = tuple(int(i) for i in np.unravel_index(np.argmax(np.abs(array)), array.shape))
            raise ValueError(f"onsite must lie within +-{MAX_MAGNITUDE:g} (a hard wall needs no more than ~1e3 t); "
                             f"found {array[bad]} at site (x, y) = {bad}.")
    shape = jnp.shape(values)
    if shape != (wire.length, wire.width):
        raise ValueError(
            f"{name} must have shape (length, width) = {(wire.length, wire.width)} indexed [x, y], got {shape}."
        )
    if _is_traced(values) and values.dtype == jnp.float64:
        # Already what the kernels take. Under un-jitted jax.grad, converting the tracer anyway is a primitive that
        # JAX linearises in Python on every call (2 ms per value-and-gradient here).
        return values
    return jnp.asarray(values, dtype=jnp.float64)


def _check_theta(wire: Wire, theta) -> Optional[jnp.ndarray]:
    if theta is None:
        return None
    if not wire.spin:
        raise ValueError("theta (magnetisation angles) needs a spin wire: Wire(..., spin=True, exchange=J).")
    return _check_site_array(wire, theta, "theta")


def _checked_sweep_axis(values, name: str) -> tuple[jnp.ndarray, bool]:
    if _is_traced(values):
        if jnp.ndim(values) > 1:
            raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {jnp.shape(values)}.")
        return jnp.atleast_1d(values), jnp.ndim(values) == 0
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):  # ragged nested lists
        array = np.asarray(None)
    if array.dtype.kind not in "iuf" or array.ndim > 1 or array.size == 0:
        raise ValueError(f"{name} must be a real scalar or a non-empty 1-D array, got {values!r}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite, got {values!r}.")
    if name == "energy" and np.any(np.abs(array) > MAX_MAGNITUDE):
        raise ValueError(f"energy must lie within +-{MAX_MAGNITUDE:g}, got {values!r}.")
    return np.atleast_1d(array.astype(float)), array.ndim == 0


def _reduced_flux(flux):
    """Concrete flux modulo one flux quantum per plaquette (sign kept, |flux| < 1; exact in floating point).

    With integer y, flux + 1 is a gauge transformation (exp(-2 pi i (flux + 1) y) = exp(-2 pi i flux y)), and
    2 pi flux y is accurate only for a small flux: a float beyond 2^53 is an integer, i.e. zero field.
    """
    return flux if _is_traced(flux) else np.fmod(flux, 1.0)


def _check_point(flux, energy) -> tuple:
    """One (flux, energy) point: finite real scalars (or traced values), the flux reduced by :func:`_reduced_flux`."""
    checked = []
    for value, name in ((flux, "flux"), (energy, "energy")):
        if not _is_traced(value):
            try:
                array = np.asarray(value)
            except (TypeError, ValueError):
                array = np.asarray(None)
            if array.ndim != 0 or array.dtype.kind not in "iuf" or not np.isfinite(array):
                raise ValueError(f"{name} must be a finite scalar here (one real number per point), got {value!r}.")
            if name == "energy" and abs(float(array)) > MAX_MAGNITUDE:
                raise ValueError(f"energy must lie within +-{MAX_MAGNITUDE:g}, got {value!r}.")
            value = float(array)
        checked.append(value)
    return _reduced_flux(checked[0]), checked[1]


def check_solver(solver: str, precision: str) -> None:
    """Raise ValueError unless ``solver`` is one of :data:`SOLVERS` and ``precision`` one of :data:`PRECISIONS`."""
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}.")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {tuple(PRECISIONS)}, got {precision!r}.")


def _cast(precision: str, *arrays):
    dtype = PRECISIONS[precision]
    return tuple(jnp.asarray(a).astype(dtype) for a in arrays)


def _warn_if_single_unsafe(defects) -> None:
    """Host side of the complex64 check: warn when some point lost more than the tolerated unitarity."""
    worst = float(np.nanmax(np.asarray(defects), initial=0.0))
    if worst > SINGLE_PRECISION_TOLERANCE or np.isnan(np.asarray(defects)).any():
        warnings.warn(
            f"complex64 lost current conservation: |N - T - R| reaches {worst:.1e} e^2/h (tolerance "
            f"{SINGLE_PRECISION_TOLERANCE:.0e}), so the conductance is wrong by about as much. Single precision "
            "cannot hold the exponential growth of the evanescent channels inside steep potentials "
            "(|h - E| of tens of t) between re-normalisations; use precision='double'.",
            SinglePrecisionWarning,
            stacklevel=2,
        )


@partial(jax.jit, static_argnames=("wire", "solver", "precision", "checkpoint"))
def _conductance_points(wire: Wire, solver: str, precision: str, onsite, theta, flux, energy, leads: LeadSelfEnergies,
                        checkpoint: bool = False):
    blocks = onsite_blocks(wire, onsite, theta)
    real = jnp.float32 if precision == "single" else jnp.float64
    check_unitarity = precision == "single" and solver == "transfer"

    def one_point(phi, e, sigma_left, sigma_right, coupling_left, coupling_right):
        blocks_, v, sigma_left, sigma_right, coupling_left, coupling_right = _cast(
            precision, blocks, x_hopping(wire, phi), sigma_left, sigma_right, coupling_left, coupling_right
        )
        e = e.astype(real)
        defect = jnp.zeros((), real)
        if solver == "transfer":
            amplitudes = checkpointed_amplitudes if checkpoint else scattering_amplitudes
            transmission, reflection = amplitudes(
                wire, blocks_, v, e, sigma_left, sigma_right, coupling_left, coupling_right
            )
            if check_unitarity:
                defect = unitarity_defect(transmission, jax.lax.stop_gradient(reflection))
        else:
            green = rgf_transmission_block(wire, blocks_, v, e, sigma_left, sigma_right)
            transmission = coupling_right.conj().T @ green @ coupling_left
        # Closed leads have zero couplings; the where also keeps a singular G at a bound state from leaking NaN.
        closed = jnp.all(coupling_left == 0)
        return jnp.where(closed, 0.0, jnp.sum(jnp.abs(transmission) ** 2)), jnp.where(closed, 0.0, defect)

    points = (flux, energy, leads.left, leads.right, leads.coupling_left, leads.coupling_right)
    if checkpoint:
        # Memory-bounded path: a few points at a time, so that only CHECKPOINT_BATCH points' segment
        # recomputations are alive at once (reverse mode keeps just the segment starts of every point).
        values, defects = jax.lax.map(lambda point: one_point(*point), points, batch_size=CHECKPOINT_BATCH)
    else:
        values, defects = jax.vmap(one_point)(*points)
    if check_unitarity:
        # A host callback, so that the check also runs inside jit, grad and the design loops.
        jax.debug.callback(_warn_if_single_unsafe, jax.lax.stop_gradient(defects))
    return values


@partial(jax.jit, static_argnames=("wire", "solver", "precision", "mesh", "n_points", "checkpoint"))
def _sharded_conductance_points(wire: Wire, solver: str, precision: str, mesh, n_points: Optional[int], onsite, theta,
                                flux, energy, leads: LeadSelfEnergies, checkpoint: bool = False):
    """:func:`_conductance_points` with the padded points split over ``mesh``.

    ``n_points=None`` returns the padded values where they were computed (the caller collects them on the host);
    otherwise the first ``n_points`` on every device, through an all-gather.
    """
    def local(onsite, theta, flux, energy, leads):
        return _conductance_points(wire, solver, precision, onsite, theta, flux, energy, leads,
                                   checkpoint=checkpoint)

    values = map_batch(local, mesh, replicated=2, batched=3, out_specs=BATCH)(onsite, theta, flux, energy, leads)
    return values if n_points is None else gathered(values[:n_points], mesh)


def _trim_closed_channels(leads: LeadSelfEnergies) -> LeadSelfEnergies:
    """Keep only as many coupling columns as the most open channels on the grid (at least one).

    Columns beyond ``n_open`` are zero; dropping them shrinks every product with the couplings (11 of 30 columns
    for the seed 000 wire). The width depends only on the grid, so a new potential never recompiles.
    """
    if _is_traced(leads.n_open_left):
        return leads
    width = max(1, int(np.max(leads.n_open_left)), int(np.max(leads.n_open_right)))
    return leads._replace(coupling_left=leads.coupling_left[..., :width], coupling_right=leads.coupling_right[..., :width])


class SweepGrid(NamedTuple):
    """The (flux, energy) points of a sweep with their lead self-energies, ready for :func:`grid_conductance`.

    A pytree of arrays, so a jitted loss can take it as an argument (baking the ~MB of lead data into a
    compiled function as constants makes XLA slower). ``flux`` and ``energy`` are flattened flux-major:
    point ``i * n_energy + j`` is ``(flux[i], energy[j])``.
    """

    flux: jnp.ndarray
    energy: jnp.ndarray
    leads: LeadSelfEnergies


def sweep_grid(wire: Wire, flux, energy, progress: Optional[Progress] = None) -> tuple[SweepGrid, tuple[int, ...]]:
    """Validate a flux/energy grid, compute (or fetch from the cache) its leads.

    ``progress(done, total)`` reports the lead computation of a new grid in points (see
    :func:`~magwidgets.core.leads.lead_self_energies`).

    Returns
    -------
    grid : SweepGrid
    shape : tuple
        ``(n_flux, n_energy)`` with scalar axes dropped: the shape :func:`conductance` returns.
    """
    flux, flux_scalar = _checked_sweep_axis(flux, "flux")
    flux = _reduced_flux(flux)
    energy, energy_scalar = _checked_sweep_axis(energy, "energy")
    n_flux, n_energy = flux.shape[0], energy.shape[0]
    xp = jnp if _is_traced(flux) or _is_traced(energy) else np
    flux_points = xp.repeat(flux, n_energy)
    energy_points = xp.tile(energy, n_flux)
    leads = _trim_closed_channels(lead_self_energies(wire, flux_points, energy_points, progress))
    shape = (() if flux_scalar else (n_flux,)) + (() if energy_scalar else (n_energy,))
    return SweepGrid(flux_points, energy_points, leads), shape


def _use_checkpoint(wire: Wire, grid: SweepGrid, precision: str, checkpoint: Optional[bool]) -> bool:
    """Resolve ``checkpoint=None``: the memory-bounded reverse mode once the adjoint method would need more than
    :data:`CHECKPOINT_ABOVE_BYTES` for this sweep (shapes only, so traced grids resolve too)."""
    if checkpoint is not None:
        return bool(checkpoint)
    itemsize = jnp.dtype(PRECISIONS[precision]).itemsize
    n_channels = grid.leads.coupling_left.shape[-1]
    return adjoint_memory_bytes(wire, grid.flux.shape[0], n_channels, itemsize) > CHECKPOINT_ABOVE_BYTES


def grid_conductance(
    wire: Wire, onsite, theta, grid: SweepGrid, *, solver: str = "transfer", precision: str = "double",
    checkpoint: Optional[bool] = None, mesh: Optional[jax.sharding.Mesh] = None,
) -> jnp.ndarray:
    """Conductance at every point of a :class:`SweepGrid`, flat (n_points,); the kernel of :func:`conductance`.

    No input checks beyond what :func:`conductance` does: this is the inner call of optimisation loops, which
    validate once up front. ``checkpoint`` as in :func:`conductance`. ``mesh``
    (:func:`~magwidgets.core.sharding.batch_mesh`) splits the points over its devices, also under ``jit`` and
    ``grad`` (a single-start design does this): the devices run side by side and the values equal the
    one-device ones to rounding (1e-12).
    """
    checkpoint = _use_checkpoint(wire, grid, precision, checkpoint)
    if mesh is not None:
        n_points = grid.flux.shape[0]
        flux, energy, leads = pad_batch(tuple(grid), padded_length(n_points, mesh))
        return _sharded_conductance_points(wire, solver, precision, mesh, n_points, onsite, theta, flux, energy,
                                           leads, checkpoint=checkpoint)
    return _conductance_points(wire, solver, precision, onsite, theta, grid.flux, grid.energy, grid.leads,
                               checkpoint=checkpoint)


def _sweep_mesh(devices: str, grid: SweepGrid, *fields):
    """The mesh a sweep's points are spread over (see :mod:`magwidgets.core.sharding`), or None for one device."""
    if devices not in DEVICE_CHOICES:
        raise ValueError(f"devices must be one of {DEVICE_CHOICES}, got {devices!r}.")
    if devices == "one" or jax.device_count() == 1:
        return None
    if _is_traced(grid.flux) or _is_traced(grid.energy):
        if devices == "all":
            raise ValueError("devices='all' needs concrete flux and energy (their leads are computed on the host).")
        return None
    # Under someone else's jit the placement is theirs to choose; "auto" leaves traced calls alone.
    if devices == "auto" and any(_is_traced(field) for field in fields):
        return None
    return batch_mesh(grid.flux.shape[0], devices)


def _sharded_grid_conductance(wire: Wire, onsite, theta, grid: SweepGrid, mesh, solver: str, precision: str):
    n_points = grid.flux.shape[0]
    flux, energy, leads = place(pad_batch(tuple(grid), padded_length(n_points, mesh)), mesh, BATCH)
    traced = _is_traced(onsite) or _is_traced(theta)
    onsite, theta = (None if value is None else value if _is_traced(value) else replicate(value, mesh)
                     for value in (onsite, theta))
    if traced or jax.process_count() > 1:
        return _sharded_conductance_points(wire, solver, precision, mesh, n_points, onsite, theta, flux, energy, leads)
    # One process holds every shard: read them on the host and hand back an ordinary default-device array, as the
    # one-device path does, instead of an all-gather that copies the result onto every device.
    values = _sharded_conductance_points(wire, solver, precision, mesh, None, onsite, theta, flux, energy, leads)
    return jnp.asarray(np.asarray(values)[:n_points])


def conductance(
    wire: Wire,
    onsite,
    flux,
    energy,
    theta=None,
    *,
    solver: str = "transfer",
    precision: str = "double",
    devices: str = "auto",
    checkpoint: Optional[bool] = None,
    progress: Optional[Progress] = None,
) -> jnp.ndarray:
    """Two-terminal Landauer conductance G = Tr t^dag t in units of e^2/h (seed 004 eq. 4).

    Parameters
    ----------
    wire : Wire
    onsite : (L, W) array
        Full on-site energies h_i (not only the disorder: a clean seed 000 wire has ``onsite = 4``).
    flux : float or (n_flux,) array
        Flux per plaquette in units of h/e (seed 000's pi B a^2 / phi_0 is ``pi * flux``).
    energy : float or (n_energy,) array
        Fermi energy in units of t.
    theta : (L, W) array, optional
        Magnetisation angles in the x-z plane (spin wires only).
    solver : {"transfer", "rgf"}
        Transfer-matrix method (fast) or recursive Green's function (reference); they agree to ~1e-10. For
        concrete inputs with some ``|onsite - energy|`` above ``TRANSFER_RANGE`` = 100 t (hard walls), where the
        transfer method loses digits, "transfer" runs the recursive Green's function instead.
    precision : {"double", "single"}
        complex128 or complex64. A complex64 transfer sweep checks current conservation at every point and
        issues a :class:`SinglePrecisionWarning` when ``|N - T - R|`` exceeds ``SINGLE_PRECISION_TOLERANCE``
        (1e-2 e^2/h): steep potentials, ``|h - E|`` of tens of t, need double precision (the documentation's
        benchmarks, "Precision").
    checkpoint : bool, optional
        How reverse mode through the transfer solver stores its work. False: the adjoint method (two sweeps per
        point; memory ~16 (4 k n^2 + 8 (k + 1) n m) bytes per point, see
        :func:`~magwidgets.core.transfer.adjoint_memory_bytes`). True: the memory-bounded path, JAX's reverse
        mode with ``jax.checkpoint`` over segments of ~sqrt(k / 4) normalised blocks (O(sqrt(L)) per point;
        :func:`~magwidgets.core.transfer.checkpointed_amplitudes`), ``CHECKPOINT_BATCH`` = 4 points at a time;
        slower at seed scale, about as fast at W = L = 200 (README "Large wires"). None (default): True when
        the adjoint method would need more than ``CHECKPOINT_ABOVE_BYTES`` (4 GiB) for the sweep. The forward
        pass and the values are the same either way; the RGF solver ignores it.
    devices : {"auto", "all", "one"}
        Where the (flux, energy) points run. ``"auto"`` (default): split them over every device (of every process
        under ``jax.distributed``) when there is more than one and the call is not inside a jit, else the default
        device; ``"all"``: always split (flux and energy must be concrete); ``"one"``: the default device. A
        split sweep equals the one-device result (padding repeats the last point and is dropped; see
        :mod:`magwidgets.core.sharding`); with one device nothing changes.
    progress : callable, optional
        ``progress(done, total)``: how many of the grid's (flux, energy) points have their lead self-energies,
        called from this thread several times a second while a grid not seen before is prepared (the leads are
        most of a first call's time; the sweep itself follows in one step). Not called when the leads are cached.

    Returns
    -------
    (n_flux, n_energy) array with scalar axes dropped. Fisher-Lee form ``Tr[Gamma_R G Gamma_L G^dag]`` with
    ``G = G_{L-1,0}``; exactly 0 where no channel is open; one spin species unless ``wire.spin`` (no factor 2).
    The flux enters modulo 1 (one flux quantum per plaquette is a gauge transformation).
    """
    check_solver(solver, precision)
    onsite = _check_site_array(wire, onsite, "onsite")
    theta = _check_theta(wire, theta)
    grid, shape = sweep_grid(wire, flux, energy, progress)
    if solver == "transfer" and not (_is_traced(onsite) or _is_traced(grid.energy)):
        heights, energies = np.asarray(onsite), np.asarray(grid.energy)
        reach = max(float(heights.max()) - float(energies.min()), float(energies.max()) - float(heights.min()))
        if reach + abs(wire.exchange) > TRANSFER_RANGE * wire.hopping:
            solver = "rgf"
    mesh = _sweep_mesh(devices, grid, onsite, theta)
    if mesh is not None:
        return _sharded_grid_conductance(wire, onsite, theta, grid, mesh, solver, precision).reshape(shape)
    return grid_conductance(wire, onsite, theta, grid, solver=solver, precision=precision,
                            checkpoint=checkpoint).reshape(shape)


def _point_leads(wire: Wire, flux, energy) -> LeadSelfEnergies:
    """Leads at one point already checked by :func:`_check_point`."""
    leads = lead_self_energies(wire, jnp.reshape(flux, (1,)) if _is_traced(flux) else np.reshape(flux, 1),
                               jnp.reshape(energy, (1,)) if _is_traced(energy) else np.reshape(energy, 1))
    return LeadSelfEnergies(*(field[0] for field in leads))


@partial(jax.jit, static_argnames=("wire",))
def _green_columns(wire: Wire, onsite, theta, flux, energy, leads: LeadSelfEnergies):
    blocks = onsite_blocks(wire, onsite, theta)
    return rgf_green_columns(wire, blocks, x_hopping(wire, flux), energy, leads.left, leads.right)


def _intensity(wire: Wire, columns, coupling) -> jnp.ndarray:
    # sum over incoming channels n of |psi_n|^2 = diag(G Gamma G^dag), summed over the orbitals of each site.
    per_orbital = jnp.sum(jnp.abs(columns @ coupling) ** 2, axis=-1)
    return per_orbital.reshape(wire.length, wire.width, wire.n_orbitals).sum(-1)


def wavefunction_intensity(wire: Wire, onsite, flux, energy, theta=None) -> jnp.ndarray:
    """Sum over the left lead's incoming modes of ``|psi_n(x, y)|^2``, shape (L, W) (seed 000 Fig. 3).

    Modes are normalised to unit current as in Kwant's ``wave_function``; the sum equals the diagonal of
    ``G_{x,0} Gamma_L G_{x,0}^dag`` and is summed over spin. Scalar flux and energy.
    """
    onsite = _check_site_array(wire, onsite, "onsite")
    theta = _check_theta(wire, theta)
    flux, energy = _check_point(flux, energy)
    leads = _point_leads(wire, flux, energy)
    to_first, _ = _green_columns(wire, onsite, theta, flux, energy, leads)
    return _intensity(wire, to_first, leads.coupling_left)


@partial(jax.jit, static_argnames=("wire",))
def _intensity_points(wire: Wire, onsite, theta, grid: SweepGrid) -> jnp.ndarray:
    blocks = onsite_blocks(wire, onsite, theta)

    def one(flux, energy, sigma_left, sigma_right, coupling_left):
        to_first, _ = rgf_green_columns(wire, blocks, x_hopping(wire, flux), energy, sigma_left, sigma_right)
        return _intensity(wire, to_first, coupling_left)

    leads = grid.leads
    return jax.vmap(one)(grid.flux, grid.energy, leads.left, leads.right, leads.coupling_left)


def wavefunction_intensity_sweep(wire: Wire, onsite, flux, energy, theta=None,
                                 progress: Optional[Progress] = None) -> jnp.ndarray:
    """:func:`wavefunction_intensity` at every flux of a sweep at one energy, shape (n_flux, L, W): the frames of
    an animation of ``|psi|^2`` across the field.

    .. math:: I_i(x, y) = \\sum_{n \\in \\mathrm{left}} |\\psi_n(x, y; \\Phi_i)|^2
              = [G_{x,0} \\Gamma_L G_{x,0}^\\dagger]_{(x, y), (x, y)}

    (seed 000 Fig. 3; modes normalised to unit current as Kwant's ``wave_function``). The leads of all fluxes
    come in bulk, as for a sweep (cached per grid), and the points run in one vmapped, compiled call.
    ``progress(done, total)`` reports the leads of a new grid.
    """
    onsite = _check_site_array(wire, onsite, "onsite")
    theta = _check_theta(wire, theta)
    if np.ndim(energy) != 0:
        raise ValueError(f"energy must be one number here (the frames share it), got shape {np.shape(energy)}")
    grid, _ = sweep_grid(wire, np.atleast_1d(np.asarray(flux, float)), energy, progress)
    return _intensity_points(wire, onsite, theta, grid)


def ldos(wire: Wire, onsite, flux, energy, theta=None) -> jnp.ndarray:
    """Local density of states per site (L, W), as ``kwant.ldos``: sum over both leads' incoming modes / 2 pi."""
    onsite = _check_site_array(wire, onsite, "onsite")
    theta = _check_theta(wire, theta)
    flux, energy = _check_point(flux, energy)
    leads = _point_leads(wire, flux, energy)
    to_first, to_last = _green_columns(wire, onsite, theta, flux, energy, leads)
    both = _intensity(wire, to_first, leads.coupling_left) + _intensity(wire, to_last, leads.coupling_right)
    return both / (2 * np.pi)


def scattering_matrix(wire: Wire, onsite, flux, energy, theta=None) -> jnp.ndarray:
    """Scattering matrix S = 1 - i C^dag G C over the open channels of (left, right), shape (N_L+N_R,)*2.

    Channels are the eigenvectors of Gamma = i(Sigma - Sigma^dag) (Mahaux-Weidenmueller form), so S equals
    Kwant's up to unitary rotations within each lead's channels: transmission eigenvalues, R and T agree. Its
    lower-left block (N_R, N_L) is the transmission matrix t. Flux and energy must be concrete scalars.
    """
    onsite = _check_site_array(wire, onsite, "onsite")
    theta = _check_theta(wire, theta)
    if _is_traced(flux) or _is_traced(energy):
        raise ValueError("scattering_matrix needs concrete flux and energy: the number of channels sets its shape.")
    flux, energy = _check_point(flux, energy)
    leads = _point_leads(wire, flux, energy)
    to_first, to_last = _green_columns(wire, onsite, theta, flux, energy, leads)
    n_left, n_right = int(leads.n_open_left), int(leads.n_open_right)
    coupling_left = leads.coupling_left[:, :n_left]
    coupling_right = leads.coupling_right[:, :n_right]
    ends = ((to_first[0], to_last[0]), (to_first[-1], to_last[-1]))  # [target end][source end]
    couplings = (coupling_left, coupling_right)
    rows = [
        jnp.concatenate([couplings[i].conj().T @ ends[i][j] @ couplings[j] for j in range(2)], axis=1)
        for i in range(2)
    ]
    return jnp.eye(n_left + n_right) - 1j * jnp.concatenate(rows, axis=0)


def transmission_matrix(wire: Wire, onsite, flux, energy, theta=None) -> jnp.ndarray:
    """Transmission matrix t from the left to the right lead, (N_R, N_L); ``G = sum |t|^2``."""
    smatrix = scattering_matrix(wire, onsite, flux, energy, theta)
    n_left = smatrix.shape[0] // 2  # both leads are of the same kind and width: N_L = N_R
    return smatrix[n_left:, :n_left]
