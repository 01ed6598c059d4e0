"""The tight-binding wire: geometry, leads, spin, and its slice Hamiltonians.

Conventions (the documentation's *Physics conventions* page; seed 000 sec. II, seed 004 eqs. 14-15): square lattice with a = 1, sites
(x, y) with x = 0..L-1 along the wire and y = 0..W-1 across it,

    H = sum_i h_i c_i^dag c_i - t sum_<ij> exp(i theta_ij) c_i^dag c_j,

Landau gauge with the vector potential along x, so that the hopping from (x, y) to (x+1, y) is
``H[(x+1, y), (x, y)] = -t exp(-2 pi i flux y)`` and hoppings along y carry no phase. ``flux`` is the flux per
plaquette in units of h/e. With spin, the on-site block is ``h sigma_0 + J (sigma_z cos theta + sigma_x sin theta)``
and every hopping carries sigma_0 (seed 004 eq. 15). Orbitals of a slice are ordered y-major: index
``y * n_orbitals + s``.

A :class:`Wire` is static configuration (hashable, never traced); the arrays it builds are functions of traced
``onsite``/``theta``/``flux`` and can be jitted and differentiated.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Tuple, Union

import jax.numpy as jnp
import numpy as np

LEAD_KINDS = ("square", "ideal")


@dataclass(frozen=True)
class Wire:
    """A two-terminal quantum wire of ``length`` x ``width`` sites.

    Parameters
    ----------
    length, width : int
        L sites along the transport direction x and W sites across it (both >= 1).
    hopping : float
        Nearest-neighbour hopping t (> 0); the energy unit of the project is t = 1.
    lead : {"square", "ideal"}
        ``"square"``: the wire continued to infinity with the same width, hopping and gauge (the field fills the
        leads) and on-site ``lead_onsite``. ``"ideal"``: W decoupled semi-infinite 1D chains, one per row, each
        attached to the end column by hopping t and held at wave number ``lead_k`` at every energy, so every row
        is an open channel (seed 004 eqs. 10-11).
    lead_onsite : float
        On-site energy of the square leads (default 4t: the band bottom sits at E = 0).
    lead_k : float or (float, float)
        Wave number of the ideal leads, 0 < k < pi (default pi/2); with spin, ``(k_up, k_down)`` along sigma_z.
    spin : bool
        Two orbitals per site with exchange coupling to a magnetisation in the x-z plane (seed 004 eq. 15).
    exchange : float
        Exchange energy J of the spin model.
    """

    length: int
    width: int
    hopping: float = 1.0
    lead: str = "square"
    lead_onsite: float = 4.0
    lead_k: Union[float, Tuple[float, float]] = math.pi / 2
    spin: bool = False
    exchange: float = 0.0

    def __post_init__(self) -> None:
        for name in ("length", "width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Wire {name} must be an integer >= 1, got {value!r}.")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.lead, str) or self.lead not in LEAD_KINDS:
            raise ValueError(f"Wire lead must be one of {LEAD_KINDS}, got {self.lead!r}.")
        for name in ("hopping", "lead_onsite", "exchange"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
                    or not math.isfinite(value):
                raise ValueError(f"Wire {name} must be a finite real number, got {value!r}.")
            object.__setattr__(self, name, float(value))
        if self.hopping <= 0:
            raise ValueError(f"Wire hopping must be > 0 (it is the energy unit t), got {self.hopping!r}.")
        if not isinstance(self.spin, (bool, np.bool_)):
            raise ValueError(f"Wire spin must be True or False, got {self.spin!r}.")
        object.__setattr__(self, "spin", bool(self.spin))
        if self.exchange != 0 and not self.spin:
            raise ValueError("Wire exchange J is only meaningful with spin=True.")
        try:
            wave_numbers = np.atleast_1d(np.asarray(self.lead_k, dtype=float))
        except (TypeError, ValueError):
            wave_numbers = np.zeros(0)  # not real numbers: reported as the wrong count below
        expected = 2 if self.spin else 1
        if wave_numbers.shape == (1,) and self.spin:
            wave_numbers = np.repeat(wave_numbers, 2)
        if wave_numbers.shape != (expected,):
            raise ValueError(
                f"Wire lead_k must be one wave number{' or (k_up, k_down)' if self.spin else ''}, "
                f"got {self.lead_k!r}."
            )
        if not np.all((wave_numbers > 0) & (wave_numbers < math.pi)):
            raise ValueError(f"Wire lead_k must lie strictly between 0 and pi (open channels), got {self.lead_k!r}.")
        object.__setattr__(
            self, "lead_k", tuple(float(k) for k in wave_numbers) if self.spin else float(wave_numbers[0])
        )

    @property
    def n_orbitals(self) -> int:
        """Orbitals per site: 2 with spin, else 1."""
        return 2 if self.spin else 1

    @property
    def slice_size(self) -> int:
        """Dimension n = W * n_orbitals of one slice (column) of the wire."""
        return self.width * self.n_orbitals


def onsite_blocks(wire: Wire, onsite: jnp.ndarray, theta: jnp.ndarray | None) -> jnp.ndarray:
    """On-site Hamiltonian blocks of every site, shape (L, W, n_orb, n_orb).

    ``h sigma_0 + J (sigma_z cos theta + sigma_x sin theta)`` with spin (seed 004 eq. 15), ``h`` without.
    """
    onsite = jnp.asarray(onsite)
    if not wire.spin:
        return onsite[:, :, None, None].astype(jnp.result_type(onsite, jnp.complex64))
    theta = jnp.zeros(onsite.shape) if theta is None else jnp.asarray(theta)
    z = wire.exchange * jnp.cos(theta)
    x = wire.exchange * jnp.sin(theta)
    block = jnp.stack([jnp.stack([onsite + z, x], -1), jnp.stack([x, onsite - z], -1)], -2)
    return block.astype(jnp.result_type(block, jnp.complex64))


def x_hopping(wire: Wire, flux: jnp.ndarray) -> jnp.ndarray:
    """Diagonal of the inter-slice hopping ``V = H[x+1, x]``, shape (n,): ``-t exp(-2 pi i flux y)``."""
    rows = jnp.repeat(jnp.arange(wire.width), wire.n_orbitals)
    return -wire.hopping * jnp.exp(-2j * jnp.pi * flux * rows)


def apply_slice_hamiltonian(wire: Wire, blocks: jnp.ndarray, states: jnp.ndarray) -> jnp.ndarray:
    """``H_x @ states`` for one slice without forming the (n, n) matrix: O(n) per column.

    Parameters
    ----------
    blocks : (W, n_orb, n_orb) on-site blocks of the slice.
    states : (n, m) wavefunctions on the slice, y-major orbital order.
    """
    n_orb = wire.n_orbitals
    per_site = states.reshape(wire.width, n_orb, -1)
    # Broadcast-and-sum rather than einsum: XLA fuses it, where a batched dot over tiny blocks is slow.
    result = jnp.sum(blocks[:, :, :, None] * per_site[:, None, :, :], axis=2)
    zero_row = jnp.zeros_like(per_site[:1])
    below = jnp.concatenate([zero_row, per_site[:-1]], axis=0)
    above = jnp.concatenate([per_site[1:], zero_row], axis=0)
    return (result - wire.hopping * (below + above)).reshape(states.shape)


def slice_hamiltonian(wire: Wire, blocks: jnp.ndarray) -> jnp.ndarray:
    """Dense intra-slice Hamiltonian H_x, shape (n, n), from on-site blocks (W, n_orb, n_orb)."""
    n_orb = wire.n_orbitals
    onsite_part = jnp.einsum("yab,yz->yazb", blocks, jnp.eye(wire.width, dtype=blocks.dtype))
    onsite_part = onsite_part.reshape(wire.slice_size, wire.slice_size)
    chain = jnp.eye(wire.width, k=1) + jnp.eye(wire.width, k=-1)
    return onsite_part - wire.hopping * jnp.kron(chain, jnp.eye(n_orb))
