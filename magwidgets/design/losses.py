"""Cost functions of the inverse problem, and the target data they compare against.

- log-RMS (seed 000 eq. 4):  L = log sqrt( sum_B w_B [G(B) - G_targ(B)]^2 )
- MSE (seed 004 eq. 1):      f = sum_i w_i [g_i - y_i]^2 / sum_i w_i   (w = 1: the seed's 1/N_data mean)
- smoothness (seed 000 eq. 6): L_pot = sum_<ij> (h_i - h_j)^2 over nearest-neighbour pairs
- total (seed 000 eq. 7):    L_tot = L_cond + gamma L_pot

Weights are per-point (0 masks a point out, e.g. a gap in measured data). All functions are pure and jit-able.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import jax.numpy as jnp
import numpy as np

KINDS = ("log_rms", "mse")


def log_rms(values, target, weights=None) -> jnp.ndarray:
    """Seed 000 eq. 4: log of the root of the (weighted) sum of squared deviations."""
    squared = (values - target) ** 2
    if weights is not None:
        squared = weights * squared
    return 0.5 * jnp.log(jnp.sum(squared))


def mse(values, target, weights=None) -> jnp.ndarray:
    """Seed 004 eq. 1: mean squared deviation, weighted by ``weights`` when given."""
    squared = (values - target) ** 2
    if weights is None:
        return jnp.mean(squared)
    return jnp.sum(weights * squared) / jnp.sum(weights)


def smoothness(onsite) -> jnp.ndarray:
    """Seed 000 eq. 6: sum over nearest-neighbour bonds of (h_i - h_j)^2, along x and along y."""
    return jnp.sum(jnp.diff(onsite, axis=0) ** 2) + jnp.sum(jnp.diff(onsite, axis=1) ** 2)


@dataclass(frozen=True)
class Loss:
    """The cost L_tot = L_cond + gamma L_pot (seed 000 eq. 7).

    Parameters
    ----------
    kind : {"log_rms", "mse"}
        The conductance term: seed 000 eq. 4 or seed 004 eq. 1.
    smoothness : float
        gamma, the weight of the nearest-neighbour smoothness term (seed 000 uses 1e-2; 0 switches it off).
    """

    kind: str = "log_rms"
    smoothness: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"loss.kind must be one of {KINDS}, got {self.kind!r}")
        if not np.isfinite(self.smoothness) or self.smoothness < 0:
            raise ValueError(f"loss.smoothness (gamma) must be a finite number >= 0, got {self.smoothness}")

    def __call__(self, values, target, weights, onsite) -> tuple[jnp.ndarray, dict]:
        """Return ``(total, parts)`` with parts ``{"conductance": L_cond, "smoothness": L_pot}``."""
        conductance_term = (log_rms if self.kind == "log_rms" else mse)(values, target, weights)
        potential_term = smoothness(onsite)
        total = conductance_term + self.smoothness * potential_term if self.smoothness else conductance_term
        return total, dict(conductance=conductance_term, smoothness=potential_term)


@dataclass(frozen=True)
class Target:
    """Target data on a (flux, energy) grid: a G(flux) curve or a G(flux, energy) map, with optional weights.

    ``values`` has the shape ``mw.conductance`` returns for the grid. ``weights`` (same shape, >= 0) weight each
    point; a weight of 0 masks it out, and only there may ``values`` be NaN (a gap in measured data).
    """

    values: np.ndarray
    weights: Optional[np.ndarray] = None

    def checked(self, shape: tuple[int, ...]) -> "Target":
        """Validate against the grid shape; return a copy with NaNs in masked points replaced by 0."""
        values = np.asarray(self.values, dtype=float)
        if values.shape != shape:
            raise ValueError(f"target has shape {values.shape} but the flux/energy grid gives G of shape {shape} "
                             "(n_flux, n_energy with scalar axes dropped)")
        weights = None
        if self.weights is not None:
            weights = np.asarray(self.weights, dtype=float)
            if weights.shape != shape:
                raise ValueError(f"target weights have shape {weights.shape}, expected the target's shape {shape}")
            if not np.all(np.isfinite(weights)) or np.any(weights < 0):
                raise ValueError("target weights must be finite and >= 0 (0 masks a point out)")
            if not np.any(weights > 0):
                raise ValueError("target weights are all zero: nothing to fit")
        used = np.ones(shape, bool) if weights is None else weights > 0
        if not np.all(np.isfinite(values[used])):
            raise ValueError("target contains NaN or inf at points that are fitted; give those points weight 0 "
                             "(weights=...) to mark gaps in the data")
        return Target(np.where(used, values, 0.0), weights)
