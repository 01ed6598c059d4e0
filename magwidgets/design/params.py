"""Parametrisations: maps from an optimiser's parameter pytree to the wire's ``onsite`` and ``theta`` arrays.

Each parametrisation is a frozen (hashable) dataclass with two pure methods:

- ``init(key)`` draws the initial parameters (the seeds' initial guesses);
- ``fields(params)`` returns ``(onsite, theta)`` with shapes (L, W) and (L, W) or None, jit- and grad-able.

``describe()`` gives a JSON-able record of the settings for checkpoints and results archives.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np

from ..core import Wire
from ..core.potentials import onsite_energy


def _site_grid(wire: Wire) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(wire.length, dtype=float), np.arange(wire.width, dtype=float), indexing="ij")


def _fixed_site_mask(wire: Wire, fixed: tuple[tuple[int, int, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros((wire.length, wire.width), bool)
    values = np.zeros((wire.length, wire.width))
    for x, y, value in fixed:
        if not (0 <= x < wire.length and 0 <= y < wire.width):
            raise ValueError(f"fixed site ({x}, {y}) lies outside the {wire.length} x {wire.width} wire")
        if not np.isfinite(value):
            raise ValueError(f"fixed site ({x}, {y}) has a non-finite value {value}")
        mask[x, y], values[x, y] = True, value
    return mask, values


def pin_sites(wire: Wire, fixed, free) -> jnp.ndarray:
    """``free`` with the fixed sites replaced by their values."""
    mask, values = _fixed_site_mask(wire, fixed)
    return jnp.where(mask, values, free)


def _normalise_fixed(fixed) -> tuple[tuple[int, int, float], ...]:
    """Accept ``{(x, y): value}`` or ``[(x, y, value), ...]``; store a hashable tuple."""
    items = fixed.items() if isinstance(fixed, dict) else (((x, y), v) for x, y, v in fixed)
    return tuple((int(x), int(y), float(v)) for (x, y), v in items)


def _random_field(key, shape, low: float, high: float) -> jnp.ndarray:
    return jax.random.uniform(key, shape, minval=low, maxval=high, dtype=jnp.float64)


@dataclass(frozen=True)
class SitePotential:
    """One free potential per site, ``onsite = offset + v`` (seed 000 sec. III B, seed 004 sec. III.1).

    Parameters
    ----------
    wire : Wire
    offset : float
        Added to every site: 4 for seed 000's square lattice (band bottom at E = 0), 0 for ideal leads.
    fixed : dict {(x, y): v} or sequence of (x, y, v)
        Sites held at a fixed potential and never updated: seed 004's symmetry-breaking notch is
        ``{(0, 0): -1.0}``. Mirror images of the potential give the same two-terminal G, and the notch picks one.
    init_range : (low, high)
        The initial guess is uniform random in this range (seed 004 Fig. 2(c) left); ``(0, 0)`` starts flat.
    theta : (L, W) array, optional
        Fixed magnetisation angles for spin wires.
    """

    wire: Wire
    offset: float = 0.0
    fixed: Any = ()
    init_range: tuple[float, float] = (-1.0, 1.0)
    theta: Optional[tuple] = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", _normalise_fixed(self.fixed))
        _fixed_site_mask(self.wire, self.fixed)
        if self.theta is not None:
            object.__setattr__(self, "theta", _frozen_site_array(self.wire, self.theta, "theta"))

    def init(self, key) -> jnp.ndarray:
        low, high = self.init_range
        return _random_field(key, (self.wire.length, self.wire.width), low, high)

    def fields(self, params) -> tuple[jnp.ndarray, Optional[jnp.ndarray]]:
        theta = None if self.theta is None else jnp.asarray(self.theta)
        return self.offset + pin_sites(self.wire, self.fixed, params), theta

    def describe(self) -> dict:
        return dict(kind="site_potential", offset=self.offset, fixed=[list(f) for f in self.fixed],
                    init_range=list(self.init_range))


@dataclass(frozen=True)
class GaussianDefects:
    """n Gaussian scatterers with free y, amplitude A and radius r at a fixed x (seed 000 eq. 5).

    h_i = offset + sum_k A_k exp(-((x_i - x_k)^2 + (y_i - y_k)^2) / r_k^2)

    ``offset`` defaults to the clean wire's on-site energy (4t next to square leads).

    Parameters ``{"y": (n,), "amplitude": (n,), "radius": (n,)}``. The x positions are fixed because
    translating a scatterer along a two-terminal wire with identical leads leaves G unchanged (seed 000
    sec. III A); the default is the middle column. The initial guess is seed 000's: y equally spaced from
    ``y_range[0]`` to ``y_range[1]`` (0 to 15), A = 1, r = 2 for all k; a positive ``key``-driven jitter can
    be added with ``init_jitter`` so that multi-start runs begin apart.
    """

    wire: Wire
    n: int = 10
    x: Optional[float] = None
    offset: Optional[float] = None
    y_range: tuple[float, float] = (0.0, 15.0)
    amplitude: float = 1.0
    radius: float = 2.0
    init_jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"GaussianDefects needs n >= 1 Gaussians, got n={self.n}")
        if self.x is None:
            object.__setattr__(self, "x", float(self.wire.length // 2))
        if self.offset is None:  # the Gaussians sit on the clean wire's on-site energy
            object.__setattr__(self, "offset", float(onsite_energy(self.wire, 0.0)))

    def init(self, key) -> dict:
        y = jnp.linspace(*self.y_range, self.n)
        y = y + self.init_jitter * jax.random.normal(key, (self.n,), dtype=jnp.float64)
        return dict(y=y, amplitude=jnp.full(self.n, self.amplitude), radius=jnp.full(self.n, self.radius))

    def fields(self, params) -> tuple[jnp.ndarray, None]:
        x, y = _site_grid(self.wire)
        squared = (x[..., None] - self.x) ** 2 + (y[..., None] - params["y"]) ** 2
        bumps = params["amplitude"] * jnp.exp(-squared / params["radius"] ** 2)
        return self.offset + jnp.sum(bumps, axis=-1), None

    def describe(self) -> dict:
        return dict(kind="gaussian_defects", n=self.n, x=self.x, offset=self.offset, y_range=list(self.y_range),
                    amplitude=self.amplitude, radius=self.radius, init_jitter=self.init_jitter)


@dataclass(frozen=True)
class MagnetisationAngles:
    """Free magnetisation angle theta per site, m = (sin theta, 0, cos theta) (seed 004 sec. III.2, eq. 15).

    ``onsite`` is fixed (default 0, the seed's clean spin wire). The initial guess is uniform in
    ``init_range`` (radians). Only ``cos theta`` and ``sin theta`` enter H, so theta is recovered modulo 2 pi.

    Two-terminal G is unchanged when the magnetisation map is mirrored in x or y or rotated by 180 degrees: H
    holds only the real matrices sigma_0, sigma_x, sigma_z (m has no y part), so complex conjugation maps
    H(flux) to H(-flux) and G(flux) = G(-flux); a mirror reverses B, and the x-mirror also swaps the leads, which
    leaves a two-terminal G unchanged. G data therefore determine theta only up to these four images (and the
    global theta -> -theta, a spin rotation about z, which keeps m_z). ``fixed = {(x, y): angle}`` pins known
    sites, a magnetic "notch" that selects one image, as seed 004's potential notch does.
    """

    wire: Wire
    onsite: Any = 0.0
    init_range: tuple[float, float] = (0.0, np.pi)
    fixed: Any = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", _normalise_fixed(self.fixed))
        _fixed_site_mask(self.wire, self.fixed)
        if not self.wire.spin:
            raise ValueError("MagnetisationAngles needs a spin wire: Wire(..., spin=True, exchange=J)")
        if np.ndim(self.onsite) != 0:
            object.__setattr__(self, "onsite", _frozen_site_array(self.wire, self.onsite, "onsite"))

    def init(self, key) -> jnp.ndarray:
        low, high = self.init_range
        return _random_field(key, (self.wire.length, self.wire.width), low, high)

    def fields(self, params) -> tuple[jnp.ndarray, jnp.ndarray]:
        onsite = jnp.broadcast_to(jnp.asarray(self.onsite, dtype=jnp.float64), (self.wire.length, self.wire.width))
        return onsite, pin_sites(self.wire, self.fixed, params)

    def describe(self) -> dict:
        return dict(kind="magnetisation_angles", init_range=list(self.init_range), fixed=[list(f) for f in self.fixed])


@dataclass(frozen=True)
class Custom:
    """Any user map from a parameter pytree to ``(onsite, theta)``.

    Parameters
    ----------
    initial : pytree or callable(key) -> pytree
        The starting parameters, or a function drawing them from a PRNG key (used for multi-start).
    fields_fn : callable(params) -> (onsite, theta or None)
        Must be written in jax.numpy so it can be differentiated.
    """

    initial: Any
    fields_fn: Callable = field(compare=False)
    name: str = "custom"

    def init(self, key):
        return self.initial(key) if callable(self.initial) else jax.tree_util.tree_map(jnp.asarray, self.initial)

    def fields(self, params):
        return self.fields_fn(params)

    def describe(self) -> dict:
        return dict(kind="custom", name=self.name)

    def __hash__(self) -> int:
        return hash((self.name, id(self.fields_fn)))


def _frozen_site_array(wire: Wire, values, name: str) -> tuple:
    array = np.asarray(values, dtype=float)
    if array.shape != (wire.length, wire.width):
        raise ValueError(f"{name} must have shape (L, W) = ({wire.length}, {wire.width}), got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf")
    return tuple(map(tuple, array))


PARAMETRISATIONS = {
    "site_potential": SitePotential,
    "gaussian_defects": GaussianDefects,
    "magnetisation_angles": MagnetisationAngles,
}


def parametrisation_from_config(wire: Wire, config: dict):
    """Build a parametrisation from a config table such as ``{kind = "gaussian_defects", n = 10}``."""
    settings = dict(config)
    kind = settings.pop("kind", None)
    if kind not in PARAMETRISATIONS:
        raise ValueError(f"params.kind must be one of {sorted(PARAMETRISATIONS)}, got {kind!r}")
    if "fixed" in settings:
        settings["fixed"] = [tuple(item) for item in settings["fixed"]]
    for key in ("init_range", "y_range"):
        if key in settings:
            settings[key] = tuple(settings[key])
    names = {f.name for f in dataclasses.fields(PARAMETRISATIONS[kind])} - {"wire"}
    unknown = set(settings) - names
    if unknown:
        raise ValueError(f"params ({kind}) has unknown field(s) {sorted(unknown)}; expected some of {sorted(names)}")
    return PARAMETRISATIONS[kind](wire, **settings)
