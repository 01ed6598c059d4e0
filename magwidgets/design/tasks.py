"""The design studio's tasks: the seed reproductions as ready-made problems with their published settings.

A :class:`Task` fixes the wire, the (flux, energy) grid, the parametrisation and the default loss and optimiser;
:meth:`Task.design` turns a target (a drawn curve, or the conductance of a sketched "true" potential or
magnetisation) into a :class:`~magwidgets.design.driver.Design`. The dashboard, notebooks and tests share these.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..core import Wire
from ..core.potentials import preset_potential
from .driver import Design
from .losses import Loss
from .optimize import Optimizer
from .params import GaussianDefects, MagnetisationAngles, SitePotential
from .problem import SEED000, SEED004_ENERGY, SEED004_FLUX, Measurement, Problem

NOTCH = {(0, 0): -1.0}                                  # seed 004's symmetry-breaking notch v[0, 0] = -1
# The 12 x 12 samples random starts can find (the documentation's benchmarks, "Inverse design"): potentials uniform in
# [-0.3, 0.3] (at [-1, 1] none of 8 starts finds the truth) and magnets tilted up to 1 rad from +z (with angles
# over the whole circle none of 8 does); the initial guesses are drawn from the same ranges.
SEED004_POTENTIAL_RANGE = (-0.3, 0.3)
SEED004_ANGLE_RANGE = (0.0, 1.0)


@dataclass(frozen=True)
class TaskStart:
    """What a task starts from: the hidden sample (``potential`` and, for a magnetisation, ``theta``; empty for a
    drawn-curve task) and the target it produces (None for a drawn-curve task)."""

    truth: dict
    target: Optional[np.ndarray]


@dataclass(frozen=True)
class Task:
    """One inverse problem of the studio.

    ``target_from`` says where the target comes from: ``"truth"`` (the conductance of a sketched potential or a
    random magnetisation, which the run should recover) or ``"curve"`` (a drawn or measured G(flux)).
    ``snapshot_every`` keeps one compiled chunk near 0.1-0.2 s on a 2-core CPU, so displays stay live and Pause
    acts within a second. ``n_starts`` is the number of random starts the studio offers by default: the 12 x 12
    potential map needs several (about one in four finds the truth, the documentation's benchmarks); its 8
    starts take ~0.6 s per one-step chunk.
    """

    name: str
    label: str
    measurement: Measurement
    loss_kind: str
    optimizer: Optimizer
    steps: int
    target_from: str
    snapshot_every: int = 1
    smoothness: float = 0.0
    continues: bool = False
    n_starts: int = 1

    @property
    def wire(self) -> Wire:
        return self.measurement.wire

    @property
    def flux(self) -> np.ndarray:
        return self.measurement.flux

    @property
    def energy(self) -> float | np.ndarray:
        return self.measurement.energy

    @property
    def is_map(self) -> bool:
        """True when the target is a G(flux, energy) map rather than a G(flux) curve."""
        return self.measurement.is_map

    @property
    def solves_magnetisation(self) -> bool:
        return self.wire.spin

    def parametrisation(self):
        if self.name == "identify_defect":
            return GaussianDefects(self.wire, n=10)
        if self.solves_magnetisation:
            return MagnetisationAngles(self.wire, onsite=0.0, init_range=SEED004_ANGLE_RANGE)
        if self.name == "reconstruct_potential":
            return SitePotential(self.wire, offset=0.0, fixed=NOTCH, init_range=SEED004_POTENTIAL_RANGE)
        return SitePotential(self.wire, offset=float(self.measurement.onsite(0.0)), init_range=(-0.5, 0.5))

    def problem(self, smoothness: Optional[float] = None) -> Problem:
        """This task's :class:`Problem`, with the task's smoothness weight unless ``smoothness`` is given."""
        smoothness = self.smoothness if smoothness is None else smoothness
        return Problem(self.measurement, self.parametrisation(), Loss(self.loss_kind, smoothness=smoothness))

    def default_truth(self, seed: int = 0) -> dict:
        """The sample a ``"truth"`` task starts from: seed 000's antidot, or seed 004's random map / angles."""
        rng = np.random.default_rng(seed)
        shape = self.measurement.shape
        if self.name == "identify_defect":
            return dict(potential=preset_potential("antidot", self.wire))
        if self.solves_magnetisation:
            return dict(potential=np.zeros(shape), theta=rng.uniform(*SEED004_ANGLE_RANGE, shape))
        return dict(potential=self.problem().known_sites(rng.uniform(*SEED004_POTENTIAL_RANGE, shape))[0])

    def start(self, seed: int = 0) -> TaskStart:
        """The task's starting sample and its target, in one call (what the studio shows when the task is picked)."""
        if self.target_from != "truth":
            return TaskStart({}, None)
        truth = self.default_truth(seed)
        return TaskStart(truth, self.truth_conductance(truth["potential"], truth.get("theta")))

    def truth_conductance(self, potential: np.ndarray, theta: Optional[np.ndarray] = None) -> np.ndarray:
        """The target of a sample with potential V (and angles ``theta``): its G on this task's grid, with the
        task's known sites (seed 004's notch) pinned in it too."""
        return self.problem().target_of(potential, theta)

    def design(self, target: np.ndarray, *, weights: Optional[np.ndarray] = None, optimizer: Optional[Optimizer] = None,
               smoothness: Optional[float] = None, **driver) -> Design:
        """A :class:`Design` fitting this task's parametrisation to ``target`` (shape of the task's grid); ``driver``
        options as :func:`~magwidgets.design.problem.fit`."""
        driver.setdefault("snapshot_every", self.snapshot_every)
        return self.problem(smoothness).design(target, optimizer or self.optimizer, weights=weights, **driver)


_SEED004 = Measurement(Wire(12, 12, lead="ideal"), SEED004_FLUX, SEED004_ENERGY)
_SEED004_SPIN = Measurement(Wire(12, 12, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25)), SEED004_FLUX,
                            SEED004_ENERGY)

TASKS: dict[str, Task] = {task.name: task for task in (
    Task("identify_defect", "Identify a defect (seed 000 Fig. 3)", SEED000, "log_rms",
         Optimizer("rmsprop", 1e-2), 3000, "truth"),
    Task("design_curve", "Design any curve (seed 000 Figs. 4-5)", SEED000, "log_rms",
         Optimizer("adabelief", 1e-2), 2000, "curve"),
    Task("smooth_design", "Smooth a design (seed 000 eq. 7)", SEED000, "log_rms",
         Optimizer("adabelief", 5e-2, schedule="constant"), 2000, "curve", smoothness=0.01, continues=True),
    Task("reconstruct_potential", "Reconstruct a potential from G(flux, E) (seed 004 Fig. 2)", _SEED004, "mse",
         Optimizer("levenberg_marquardt", 1e-2), 300, "truth", snapshot_every=1, n_starts=8),
    Task("reconstruct_magnetisation", "Reconstruct a magnetisation (seed 004 Fig. 3)", _SEED004_SPIN, "mse",
         Optimizer("levenberg_marquardt", 1e-2), 300, "truth", snapshot_every=2),
)}
