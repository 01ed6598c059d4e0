"""What a design run is about: a wire measured on a (flux, energy) grid, and the inverse problem posed on it.

:class:`Measurement` is the forward model the panels show: a wire and the grid its conductance is measured on, the
one conversion between a sample's potential V and the on-site energy h = background + V, and the quantities
computed from a sample (G on the grid, the clean wire's open channels, the wavefunction intensity at a point).
:class:`Problem` adds a parametrisation and a loss: it turns a known sample (the truth) into a target, and a target
into a :class:`~magwidgets.design.driver.Design`. :func:`fit`, the studio's tasks
(:mod:`magwidgets.design.tasks`) and the TOML configs (:mod:`magwidgets.design.config`) all build one.

The seed reproductions' grids are defined here once: :data:`SEED000` (seed 000: a 30 x 30 wire with square leads
at E = 1.2 t, pi B a^2 / phi_0 from 0 to 0.12) and :data:`SEED004_FLUX`, :data:`SEED004_ENERGY` (seed 004 sec. IV).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

import jax
import numpy as np

from ..core import Wire, conductance, wavefunction_intensity, wavefunction_intensity_sweep
from ..core.observables import Progress
from ..core.potentials import onsite_energy, potential_of
from .driver import Design, DesignResult
from .losses import Loss
from .objectives import TransportObjective
from .optimize import Optimizer
from .params import PARAMETRISATIONS, MagnetisationAngles, SitePotential, parametrisation_from_config, pin_sites

SEED000_FLUX = np.linspace(0.0, 0.12 / math.pi, 101)   # Phi / Phi_0, i.e. pi B a^2 / phi_0 from 0 to 0.12 (seed 000)
SEED000_ENERGY = 1.2
SEED004_FLUX = np.linspace(0.0, 0.15, 31)               # seed 004 sec. IV
SEED004_ENERGY = np.linspace(-1.0, 1.0, 21)


@dataclass(frozen=True, eq=False)
class Measurement:
    """A wire and the (flux, energy) grid its two-terminal conductance is measured on.

    Parameters
    ----------
    wire : Wire
    flux : float or 1-D array
        Flux per plaquette Phi / Phi_0 = B a^2 / (h/e).
    energy : float or 1-D array
        Fermi energy in units of t; an array makes G a (flux, energy) map.
    """

    wire: Wire
    flux: Any
    energy: Any

    def __post_init__(self) -> None:
        for name in ("flux", "energy"):
            value = getattr(self, name)
            object.__setattr__(self, name, float(value) if np.ndim(value) == 0 else np.asarray(value, float))

    @property
    def is_map(self) -> bool:
        """True when G is a (flux, energy) map rather than a G(flux) curve."""
        return np.ndim(self.energy) > 0

    @property
    def shape(self) -> tuple[int, int]:
        """The sample's shape (L, W)."""
        return (self.wire.length, self.wire.width)

    def onsite(self, potential) -> np.ndarray:
        """h = background(wire) + V: the on-site energy of a sample with potential V (shape (L, W))."""
        return onsite_energy(self.wire, potential)

    def potential(self, onsite) -> np.ndarray:
        """V = h - background(wire): the potential of on-site energies h."""
        return potential_of(self.wire, onsite)

    def conductance(self, onsite, theta=None, *, progress: Optional[Progress] = None) -> np.ndarray:
        """G [e^2/h] on the grid of a sample with on-site energies ``onsite`` (and magnetisation angles ``theta``)."""
        return np.asarray(conductance(self.wire, onsite, self.flux, self.energy, theta, progress=progress))

    @cached_property
    def open_channels(self) -> np.ndarray:
        """The clean wire's G(flux) at the grid's first energy: its open channels N(flux), which no potential can
        scatter G above (a potential can only reflect)."""
        energy = float(np.atleast_1d(self.energy)[0])
        clean = self.onsite(np.zeros(self.shape))
        return np.asarray(conductance(self.wire, clean, np.atleast_1d(self.flux), energy))

    def wavefunction_intensity(self, onsite, flux: float, energy: float, theta=None) -> np.ndarray:
        """Sum over the left lead's incoming modes of ``|psi_n(x, y)|^2`` at one point (flux, energy), shape (L, W)."""
        return np.asarray(wavefunction_intensity(self.wire, onsite, float(flux), float(energy), theta))

    def wavefunction_frames(self, onsite, energy: float, theta=None, *,
                            progress: Optional[Progress] = None) -> np.ndarray:
        """``|psi|^2(x, y)`` at every flux of the grid at one energy, shape (n_flux, L, W), in one batched call: the
        frames of an animation across the field."""
        return np.asarray(wavefunction_intensity_sweep(self.wire, onsite, np.atleast_1d(self.flux), float(energy),
                                                       theta, progress=progress))


SEED000 = Measurement(Wire(30, 30), SEED000_FLUX, SEED000_ENERGY)
"""Seed 000's measurement: the 30 x 30 wire with square leads, 101 fluxes up to pi B a^2 / phi_0 = 0.12, E = 1.2 t."""


@dataclass(frozen=True, eq=False)
class Problem:
    """An inverse problem: find the parameters of ``parametrisation`` whose G on ``measurement``'s grid fits a target.

    Parameters
    ----------
    measurement : Measurement
    parametrisation : SitePotential, GaussianDefects, MagnetisationAngles or Custom
        Maps the fitted parameters to (onsite, theta) (:mod:`magwidgets.design.params`).
    loss : Loss
    """

    measurement: Measurement
    parametrisation: Any
    loss: Loss = Loss()

    @property
    def wire(self) -> Wire:
        return self.measurement.wire

    def known_sites(self, potential, theta=None) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """A sample with the parametrisation's known (fixed) sites pinned: a truth carries what the fit is told."""
        potential = np.asarray(potential, float)
        fixed = getattr(self.parametrisation, "fixed", ())
        if fixed and isinstance(self.parametrisation, SitePotential):
            potential = pin_sites(self.wire, fixed, potential)
        if fixed and isinstance(self.parametrisation, MagnetisationAngles) and theta is not None:
            theta = pin_sites(self.wire, fixed, theta)
        return potential, theta

    def target_of(self, potential, theta=None) -> np.ndarray:
        """The target a known sample (potential V, magnetisation angles ``theta``) produces: its G on the grid."""
        potential, theta = self.known_sites(potential, theta)
        return self.measurement.conductance(self.measurement.onsite(potential), theta)

    def objective(self, target, *, weights=None, smoothing=None, solver: str = "transfer",
                  precision: str = "double") -> tuple[TransportObjective, dict]:
        """The compiled objective and its data (:meth:`TransportObjective.create`) for ``target``."""
        m = self.measurement
        return TransportObjective.create(m.wire, target, m.flux, m.energy, self.parametrisation, self.loss,
                                         weights=weights, smoothing=smoothing, solver=solver, precision=precision)

    def design(self, target, optimizer: Optimizer = Optimizer(), *, weights=None, smoothing=None,
               solver: str = "transfer", precision: str = "double", **driver) -> Design:
        """A :class:`~magwidgets.design.driver.Design` fitting this problem to ``target``; ``driver`` options as
        :func:`fit`."""
        objective, data = self.objective(target, weights=weights, smoothing=smoothing, solver=solver,
                                         precision=precision)
        return Design(objective, data, optimizer, **driver)

    def fields_of_starts(self, params) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """(onsite, theta) of a stack of parameters, one per start (the leading axis)."""
        onsite, theta = jax.vmap(self.parametrisation.fields)(params)
        return np.asarray(onsite), None if theta is None else np.asarray(theta)


def _as_parametrisation(wire, params):
    if isinstance(params, str):
        params = dict(kind=params)
    if isinstance(params, dict):
        return parametrisation_from_config(wire, params)
    if not hasattr(params, "fields") or not hasattr(params, "init"):
        raise ValueError(f"params must be a parametrisation (one of {sorted(PARAMETRISATIONS)} or Custom) or a "
                         f"config dict, got {params!r}")
    return params


def fit(wire, target, flux, energy, *, params, loss=Loss(), optimizer=Optimizer(), steps: int = 1000,
        seed: int = 0, weights=None, smoothing=None, solver: str = "transfer", precision: str = "double",
        **driver) -> DesignResult:
    """Fit a parametrised wire to a target conductance and return the :class:`DesignResult`.

    Parameters
    ----------
    wire : Wire
    target : array or Target
        G on the grid, with the shape ``mw.conductance(wire, onsite, flux, energy)`` returns.
    flux, energy : float or 1-D array
    params : parametrisation, config dict or kind name
        e.g. ``GaussianDefects(wire, n=10)``, ``{"kind": "site_potential", "offset": 4}``.
    loss : Loss or {"log_rms", "mse"}
    optimizer : Optimizer or {"rmsprop", "adabelief", "adam", "descent"}
    steps : int
        Total number of steps (a resumed run continues up to this number).
    seed : int
    weights : array, optional
        Per-point weights of the target (0 masks a point).
    smoothing : float or (float, float), optional
        Fit the Gaussian-smoothed map instead (widths in flux and energy grid steps,
        :func:`~magwidgets.design.objectives.smoothing_matrix`); the first stages of a coarse-to-fine fit.
    **driver
        Passed to :class:`Design`: ``n_starts``, ``initial_params``, ``snapshot_every``, ``checkpoint``,
        ``checkpoint_every``, ``checkpoint_seconds``, ``resume``, ``tolerance``, ``patience``, ``min_delta``,
        ``callbacks``, ``devices``.
    """
    loss = Loss(loss) if isinstance(loss, str) else loss
    optimizer = Optimizer(optimizer) if isinstance(optimizer, str) else optimizer
    problem = Problem(Measurement(wire, flux, energy), _as_parametrisation(wire, params), loss)
    return problem.design(target, optimizer, weights=weights, smoothing=smoothing, solver=solver,
                          precision=precision, seed=seed, **driver).run(steps)
