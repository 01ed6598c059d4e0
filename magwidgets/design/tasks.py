"""The design studio's tasks: the seed reproductions as ready-made problems with their published settings.

A :class:`Task` fixes the wire, the (flux, energy) grid, the parametrisation and the default loss and optimiser;
:meth:`Task.design` turns a target (a drawn curve, or the conductance of a sketched "true" potential or
magnetisation) into a :class:`~magwidgets.design.driver.Design`. The dashboard, notebooks and tests share these.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ..core import Wire, conductance
from ..core.potentials import background, gaussian_antidot
from .driver import Design
from .losses import Loss
from .objectives import TransportObjective
from .optimize import Optimizer
from .params import GaussianDefects, MagnetisationAngles, SitePotential

SEED000_FLUX = np.linspace(0.0, 0.12, 101) / math.pi   # pi B a^2 / phi_0 from 0 to 0.12 (seed 000)
SEED004_FLUX = np.linspace(0.0, 0.15, 31)               # seed 004 sec. IV
SEED004_ENERGY = np.linspace(-1.0, 1.0, 21)
NOTCH = {(0, 0): -1.0}                                  # seed 004's symmetry-breaking notch v[0, 0] = -1
# The 12 x 12 samples random starts can find (the documentation's benchmarks, "Inverse design"): potentials uniform in
# [-0.3, 0.3] (at [-1, 1] none of 8 starts finds the truth) and magnets tilted up to 1 rad from +z (with angles
# over the whole circle none of 8 does); the initial guesses are drawn from the same ranges.
SEED004_POTENTIAL_RANGE = (-0.3, 0.3)
SEED004_ANGLE_RANGE = (0.0, 1.0)


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
    wire: Wire
    flux: np.ndarray = field(repr=False)
    energy: float | np.ndarray = field(repr=False)
    loss_kind: str
    optimizer: Optimizer
    steps: int
    target_from: str
    snapshot_every: int = 1
    smoothness: float = 0.0
    continues: bool = False
    n_starts: int = 1

    @property
    def is_map(self) -> bool:
        """True when the target is a G(flux, energy) map rather than a G(flux) curve."""
        return np.ndim(self.energy) > 0

    @property
    def solves_magnetisation(self) -> bool:
        return self.wire.spin

    def parametrisation(self):
        if self.name == "identify_defect":
            return GaussianDefects(self.wire, n=10, offset=background(self.wire))
        if self.solves_magnetisation:
            return MagnetisationAngles(self.wire, onsite=0.0, init_range=SEED004_ANGLE_RANGE)
        if self.name == "reconstruct_potential":
            return SitePotential(self.wire, offset=0.0, fixed=NOTCH, init_range=SEED004_POTENTIAL_RANGE)
        return SitePotential(self.wire, offset=background(self.wire), init_range=(-0.5, 0.5))

    def default_truth(self, seed: int = 0) -> dict:
        """The sample a ``"truth"`` task starts from: seed 000's antidot, or seed 004's random map / angles."""
        rng = np.random.default_rng(seed)
        shape = (self.wire.length, self.wire.width)
        if self.name == "identify_defect":
            return dict(potential=gaussian_antidot(self.wire, self.wire.length // 2, round(self.wire.width / 3),
                                                   amplitude=10.0, radius=2.0))
        if self.solves_magnetisation:
            return dict(potential=np.zeros(shape), theta=rng.uniform(*SEED004_ANGLE_RANGE, shape))
        return dict(potential=self._with_notch(rng.uniform(*SEED004_POTENTIAL_RANGE, shape)))

    def _with_notch(self, potential: np.ndarray) -> np.ndarray:
        """V with the known notch pinned, through the parametrisation itself (its offset is 0)."""
        return np.asarray(self.parametrisation().fields(np.asarray(potential, float))[0])

    def truth_conductance(self, potential: np.ndarray, theta: Optional[np.ndarray] = None) -> np.ndarray:
        """G of a sample with potential V (on top of the background) on this task's grid."""
        if self.name == "reconstruct_potential":  # the notch is known, so the sketched truth carries it too
            potential = self._with_notch(potential)
        onsite = background(self.wire) + np.asarray(potential, float)
        return np.asarray(conductance(self.wire, onsite, self.flux, self.energy, theta))

    def design(self, target: np.ndarray, *, weights: Optional[np.ndarray] = None, optimizer: Optional[Optimizer] = None,
               smoothness: Optional[float] = None, seed: int = 0, n_starts: int = 1, initial_params=None,
               **driver) -> Design:
        """A :class:`Design` fitting this task's parametrisation to ``target`` (shape of the task's grid)."""
        smoothness = self.smoothness if smoothness is None else smoothness
        loss = Loss(self.loss_kind, smoothness=smoothness)
        objective, data = TransportObjective.create(self.wire, target, self.flux, self.energy, self.parametrisation(),
                                                    loss, weights=weights)
        driver.setdefault("snapshot_every", self.snapshot_every)
        return Design(objective, data, optimizer or self.optimizer, seed=seed, n_starts=n_starts,
                      initial_params=initial_params, **driver)


_SQUARE = Wire(30, 30)
_IDEAL = Wire(12, 12, lead="ideal")
_SPIN = Wire(12, 12, lead="ideal", spin=True, exchange=0.5, lead_k=(0.5, 0.25))

TASKS: dict[str, Task] = {task.name: task for task in (
    Task("identify_defect", "Identify a defect (seed 000 Fig. 3)", _SQUARE, SEED000_FLUX, 1.2, "log_rms",
         Optimizer("rmsprop", 1e-2), 3000, "truth"),
    Task("design_curve", "Design any curve (seed 000 Figs. 4-5)", _SQUARE, SEED000_FLUX, 1.2, "log_rms",
         Optimizer("adabelief", 1e-2), 2000, "curve"),
    Task("smooth_design", "Smooth a design (seed 000 eq. 7)", _SQUARE, SEED000_FLUX, 1.2, "log_rms",
         Optimizer("adabelief", 5e-2, schedule="constant"), 2000, "curve", smoothness=0.01, continues=True),
    Task("reconstruct_potential", "Reconstruct a potential from G(flux, E) (seed 004 Fig. 2)", _IDEAL,
         SEED004_FLUX, SEED004_ENERGY, "mse", Optimizer("levenberg_marquardt", 1e-2), 300, "truth",
         snapshot_every=1, n_starts=8),
    Task("reconstruct_magnetisation", "Reconstruct a magnetisation (seed 004 Fig. 3)", _SPIN, SEED004_FLUX,
         SEED004_ENERGY, "mse", Optimizer("levenberg_marquardt", 1e-2), 300, "truth", snapshot_every=2),
)}
