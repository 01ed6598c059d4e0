"""The design run: one driver for notebooks, the dashboard and the command line.

:class:`Design` advances an objective in compiled chunks of steps (a ``lax.fori_loop`` of
:func:`~magwidgets.design.optimize.update_step`, vmapped over starts) on the shared :class:`~magwidgets.run.RunLoop`,
which between chunks yields a :class:`Snapshot`, calls callbacks, applies the stop rules (tolerance, plateau),
honours pause/stop requests from other threads and writes checkpoints. A checkpoint holds the complete optimiser state, so ``resume`` continues the same
trajectory as an uninterrupted run with the same seed (equal loss history on CPU).

:func:`~magwidgets.design.problem.fit` (one call) and :meth:`~magwidgets.design.problem.Problem.design` build it.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..core.sharding import (AXIS, BATCH, DEVICE_CHOICES, batch_mesh, gathered, map_batch, pad_batch, padded_length,
                             replicate)
from ..io.archives import read_archive, read_metadata, write_archive
from ..run import RunLoop
from .optimize import BestPoint, Optimizer, StepState, initial_state, update_step

CHECKPOINT_FORMAT = 2  # 2: the state carries every start's best point


class _Outputs:
    """``onsite``, ``theta`` and ``conductance`` read from ``outputs`` (None where the objective has none)."""

    outputs: dict

    @property
    def onsite(self) -> Optional[np.ndarray]:
        return self.outputs.get("onsite")

    @property
    def theta(self) -> Optional[np.ndarray]:
        return self.outputs.get("theta")

    @property
    def conductance(self) -> Optional[np.ndarray]:
        return self.outputs.get("conductance")


@dataclass
class Snapshot(_Outputs):
    """The state of a run after ``step`` steps, for live displays (arrays of the best start)."""

    step: int
    loss: float
    parts: dict
    params: Any
    outputs: dict
    losses: np.ndarray
    best_start: int
    rate: float
    wall_time: float
    steps_per_second: float
    status: str = "running"


@dataclass
class DesignResult(_Outputs):
    """What a finished (or stopped) run returns.

    ``params``, ``outputs`` (``onsite``, ``theta``, ``conductance``, ...) and ``loss`` are those of the lowest cost
    any start reached, at the step where it reached it (an optimiser that oscillates around a minimum may have
    stepped away since; ``history`` shows every step); ``family`` holds every start's best parameters and
    ``family_loss`` their costs (the inverse problem is not unique, seed 000 sec. III B). ``history`` maps "loss",
    "conductance", "smoothness" (the loss parts) and "rate" to arrays of shape (steps + 1,) for one start or
    (steps + 1, n_starts) for several.
    """

    params: Any
    outputs: dict
    loss: float
    history: dict
    family: Any
    family_loss: np.ndarray
    steps: int
    reason: str
    wall_time: float
    description: dict = field(default_factory=dict)


def _record(state: StepState) -> dict:
    return dict(loss=state.loss, rate=state.rate, **state.parts)


@partial(jax.jit, static_argnames=("objective", "optimizer"))
def _start(objective, optimizer: Optimizer, params, data) -> StepState:
    return jax.vmap(partial(initial_state, objective, optimizer), in_axes=(0, None))(params, data)


@partial(jax.jit, static_argnames=("objective", "optimizer", "chunk"))
def _advance(objective, optimizer: Optimizer, chunk: int, state: StepState, data, n_steps):
    """Run ``n_steps <= chunk`` steps; the trip count is dynamic so a short last chunk does not recompile."""
    step = jax.vmap(partial(update_step, objective, optimizer), in_axes=(0, None))
    buffers = jax.tree_util.tree_map(lambda v: jnp.zeros((chunk,) + v.shape, v.dtype), _record(state))

    def body(index, carry):
        state, buffers = carry
        state = step(state, data)
        buffers = jax.tree_util.tree_map(lambda buffer, value: buffer.at[index].set(value), buffers, _record(state))
        return state, buffers

    return jax.lax.fori_loop(0, n_steps, body, (state, buffers))


# Several devices: the starts are independent, so each device runs _start/_advance unchanged on its slice of the
# (padded) start axis and the result is gathered back onto every device (see magwidgets.core.sharding).
@partial(jax.jit, static_argnames=("objective", "optimizer", "mesh"))
def _start_sharded(objective, optimizer: Optimizer, mesh, params, data) -> StepState:
    n_starts = jax.tree_util.tree_leaves(params)[0].shape[0]
    local = map_batch(lambda data, params: _start(objective, optimizer, params, data), mesh, replicated=1,
                      batched=1, out_specs=BATCH)
    state = local(data, pad_batch(params, padded_length(n_starts, mesh)))
    return gathered(jax.tree_util.tree_map(lambda v: v[:n_starts], state), mesh)


@partial(jax.jit, static_argnames=("objective", "optimizer", "chunk", "mesh"))
def _advance_sharded(objective, optimizer: Optimizer, chunk: int, mesh, state: StepState, data, n_steps):
    n_starts = state.loss.shape[0]
    local = map_batch(lambda data, n_steps, state: _advance(objective, optimizer, chunk, state, data, n_steps), mesh,
                      replicated=2, batched=1, out_specs=(BATCH, jax.sharding.PartitionSpec(None, AXIS)))
    state, buffers = local(data, n_steps, pad_batch(state, padded_length(n_starts, mesh)))
    state = jax.tree_util.tree_map(lambda v: v[:n_starts], state)
    buffers = jax.tree_util.tree_map(lambda v: v[:, :n_starts], buffers)
    return gathered((state, buffers), mesh)


def _fingerprint(objective, optimizer: Optimizer, seed: int, n_starts: int, data, initial_params) -> str:
    """Identify a run: everything that determines its trajectory (the lead data is derived, so left out)."""
    digest = hashlib.sha256()
    digest.update(json.dumps(dict(objective=objective.describe(), optimizer=optimizer.describe(), seed=seed,
                                  n_starts=n_starts), sort_keys=True, default=str).encode())
    inputs = {name: value for name, value in data.items() if name != "grid"}
    for leaf in jax.tree_util.tree_leaves((inputs, initial_params)):
        digest.update(np.ascontiguousarray(np.asarray(leaf)).tobytes())
    return digest.hexdigest()


def _to_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def checkpoint_step(path: str) -> Optional[int]:
    """The step a checkpoint written by :meth:`Design.save` holds, or None if there is no readable one."""
    try:
        return int(read_metadata(path, "checkpoint")["step"])
    except (OSError, KeyError, ValueError):
        return None


class Design(RunLoop):
    """A resumable design run.

    Parameters
    ----------
    objective, data
        From :meth:`TransportObjective.create` or :meth:`FourierObjective.create`.
    optimizer : Optimizer
    seed : int
        Seeds the initial guesses (``objective.init``); the run is otherwise deterministic.
    n_starts : int
        Number of initial guesses optimised together (vmapped); the best one is reported, all are kept. With
        several starts and several devices (all processes' under ``jax.distributed``), the starts are split over
        the devices (:mod:`magwidgets.core.sharding`): each device advances its own starts, and the run equals
        the one-device run.
    initial_params : pytree, optional
        Starting parameters instead of ``objective.init``; with several starts, a leading axis of n_starts.
    snapshot_every : int
        Steps per compiled chunk: snapshots, callbacks, stop rules and pause/stop act between chunks.
    checkpoint : path, optional
        Where to write checkpoints (``.npz``); written atomically every ``checkpoint_every`` steps and/or
        ``checkpoint_seconds`` seconds, and when the run ends.
    resume : bool
        Load the state from ``checkpoint`` (which must exist and belong to the same problem) and continue.
    tolerance : float, optional
        Stop when the best cost falls to or below this value.
    patience, min_delta
        Stop when the best cost has not improved by more than ``min_delta`` for ``patience`` steps.
    callbacks : sequence of callable(Snapshot) -> bool | None
        Called with every snapshot; returning False stops the run.
    devices : {"auto", "all", "one"}
        ``"one"`` keeps every start on the default device; ``"auto"`` and ``"all"`` split them (see n_starts).
    """

    def __init__(self, objective, data, optimizer: Optimizer = Optimizer(), *, seed: int = 0, n_starts: int = 1,
                 initial_params=None, snapshot_every: int = 10, checkpoint: Optional[str] = None,
                 checkpoint_every: Optional[int] = None, checkpoint_seconds: Optional[float] = None,
                 resume: bool = False, tolerance: Optional[float] = None, patience: Optional[int] = None,
                 min_delta: float = 0.0, callbacks: Sequence[Callable] = (), devices: str = "auto") -> None:
        if n_starts < 1:
            raise ValueError(f"n_starts must be >= 1, got {n_starts}")
        if optimizer.second_order and not hasattr(objective, "gauss_newton"):
            raise ValueError(f"optimizer {optimizer.name!r} needs a least-squares objective with gauss_newton()")
        if optimizer.second_order and getattr(getattr(objective, "loss", None), "smoothness", 0):
            raise ValueError("optimizer 'levenberg_marquardt' needs a pure least-squares cost: set loss.smoothness "
                             "to 0 or use adam/adabelief")
        super().__init__(snapshot_every, callbacks, checkpoint, checkpoint_every, checkpoint_seconds)
        self.objective, self.data, self.optimizer = objective, data, optimizer
        self.seed, self.n_starts = int(seed), int(n_starts)
        self.tolerance, self.patience, self.min_delta = tolerance, patience, min_delta
        # The starts' mesh (None on one device or with one start) and the data copied onto every device of it.
        if devices not in DEVICE_CHOICES:
            raise ValueError(f"devices must be one of {DEVICE_CHOICES}, got {devices!r}")
        self.mesh = batch_mesh(self.n_starts, devices) if self.n_starts > 1 else None
        if self.n_starts == 1 and hasattr(objective, "split_points"):
            # one start: its grid's points go to every device instead
            self.objective = objective = objective.split_points(devices)
        self._placed_data = data if self.mesh is None else replicate(data, self.mesh)
        self.fingerprint = _fingerprint(objective, optimizer, self.seed, self.n_starts, data, initial_params)
        params = self._initial_params(initial_params)
        if resume:
            self._load(checkpoint, params)
        else:
            self.state = self._start_state(params)
            if not np.all(np.isfinite(np.asarray(self.state.loss))):
                raise ValueError("the cost at the initial parameters is not finite; check the initial guess and "
                                 "the target")
            self.step = 0
            self.wall_time = 0.0
            self._history = [jax.tree_util.tree_map(lambda v: np.asarray(v)[None], _record(self.state))]
        self.reason = "not started"
        self._best = float(np.min(np.asarray(self.state.loss)))
        self._best_step = self.step

    def _initial_params(self, initial_params):
        if initial_params is None:
            keys = jax.random.split(jax.random.PRNGKey(self.seed), self.n_starts)
            return jax.vmap(self.objective.init)(keys)
        tree = jax.tree_util.tree_map(jnp.asarray, initial_params)
        if self.n_starts == 1:
            return jax.tree_util.tree_map(lambda leaf: leaf[None], tree)
        for leaf in jax.tree_util.tree_leaves(tree):
            if leaf.shape[:1] != (self.n_starts,):
                raise ValueError(f"initial_params for {self.n_starts} starts need a leading axis of length "
                                 f"{self.n_starts}, got a leaf of shape {leaf.shape}")
        return tree

    # -- the loop -----------------------------------------------------------------------------------------------
    def _start_state(self, params) -> StepState:
        if self.mesh is None:
            return _start(self.objective, self.optimizer, params, self.data)
        return _start_sharded(self.objective, self.optimizer, self.mesh, replicate(params, self.mesh),
                              self._placed_data)

    def _advance_chunk(self, n_steps: int):
        if self.mesh is None:
            return _advance(self.objective, self.optimizer, self.snapshot_every, self.state, self.data, n_steps)
        return _advance_sharded(self.objective, self.optimizer, self.snapshot_every, self.mesh, self.state,
                                self._placed_data, n_steps)

    def compile(self) -> None:
        """Compile the step chunk now with a zero-step call, so that a live display's first Run starts at once."""
        jax.block_until_ready(self._advance_chunk(0))

    def snapshot(self, steps_per_second: float = 0.0, status: str = "running") -> Snapshot:
        losses = np.asarray(self.state.loss)
        best = int(np.argmin(losses))
        pick = lambda tree: jax.tree_util.tree_map(lambda v: np.asarray(v[best]), tree)  # noqa: E731
        return Snapshot(step=self.step, loss=float(losses[best]), parts={k: float(v) for k, v in pick(self.state.parts).items()},
                        params=pick(self.state.params), outputs=pick(self.state.outputs), losses=losses,
                        best_start=best, rate=float(np.asarray(self.state.rate)[best]), wall_time=self.wall_time,
                        steps_per_second=steps_per_second, status=status)

    def _advance(self, n_steps: int) -> None:
        self.state, buffers = self._advance_chunk(n_steps)
        jax.block_until_ready(self.state.loss)
        self._history.append(jax.tree_util.tree_map(lambda buffer: np.asarray(buffer)[:n_steps], buffers))
        self._chunk_losses = np.asarray(buffers["loss"])[:n_steps]

    def _stop_rule(self) -> Optional[str]:
        """"tolerance" once the best cost is <= ``tolerance``; "plateau" after ``patience`` steps without a gain
        of more than ``min_delta`` (judged step by step within the chunk)."""
        for offset, losses in enumerate(self._chunk_losses):
            best = float(np.min(losses))
            step = self.step - len(self._chunk_losses) + offset + 1
            if best < self._best - self.min_delta:
                self._best, self._best_step = best, step
        if self.tolerance is not None and self._best <= self.tolerance:
            return "tolerance"
        if self.patience is not None and self.step - self._best_step >= self.patience:
            return "plateau"
        return None

    def run(self, steps: int) -> DesignResult:
        for _ in self.iterate(steps):
            pass
        return self.result()

    def _merged_history(self) -> dict:
        """History with the start axis kept: (steps + 1, n_starts) per entry."""
        return {name: np.concatenate([chunk[name] for chunk in self._history]) for name in self._history[0]}

    def history(self) -> dict:
        merged = self._merged_history()
        if self.n_starts == 1:
            merged = {name: values[:, 0] for name, values in merged.items()}
        return merged

    def best_point(self) -> BestPoint:
        """The lowest-cost point any start has reached so far (NumPy arrays, without the start axis)."""
        start = int(np.argmin(np.asarray(self.state.best.loss)))
        return jax.tree_util.tree_map(lambda v: np.asarray(v[start]), self.state.best)

    def result(self) -> DesignResult:
        best = self.best_point()
        return DesignResult(params=best.params, outputs=best.outputs, loss=float(best.loss), history=self.history(),
                            family=_to_numpy(self.state.best.params), family_loss=np.asarray(self.state.best.loss),
                            steps=self.step, reason=self.reason, wall_time=self.wall_time,
                            description=self.describe())

    @property
    def target(self) -> np.ndarray:
        """The target this run fits, in the shape of the objective's output (e.g. (n_flux,) or (n_flux, n_energy))."""
        target = np.asarray(self.data["target"])
        return target.reshape(self.objective.shape) if hasattr(self.objective, "shape") else target

    def describe(self) -> dict:
        return dict(objective=self.objective.describe(), optimizer=self.optimizer.describe(), seed=self.seed,
                    n_starts=self.n_starts)

    # -- checkpoints ------------------------------------------------------------------------------------------
    def save(self, path: str) -> None:
        """Write the full run state to ``path`` atomically (a killed write leaves the previous checkpoint)."""
        leaves = jax.tree_util.tree_leaves(self.state)
        history = self._merged_history()
        meta = dict(format=CHECKPOINT_FORMAT, fingerprint=self.fingerprint, step=self.step, wall_time=self.wall_time,
                    n_leaves=len(leaves), history=sorted(history), description=self.describe())
        arrays = {f"state_{index}": np.asarray(leaf) for index, leaf in enumerate(leaves)}
        arrays.update({f"history_{name}": values for name, values in history.items()})
        write_archive(path, "checkpoint", arrays, meta)
        self._saved_step = self.step

    def _load(self, path: Optional[str], params) -> None:
        if path is None or not os.path.exists(path):
            raise FileNotFoundError(f"resume=True but there is no checkpoint at {path!r}")
        archive, meta = read_archive(path, "checkpoint")
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is a design checkpoint of another format ({meta.get('format')!r}, expected "
                             f"{CHECKPOINT_FORMAT}): start a new run")
        if meta["fingerprint"] != self.fingerprint:
            raise ValueError(f"{path} belongs to a different problem (target, grid, parametrisation, loss, "
                             "optimizer, seed or n_starts differ); start a new run or use the original settings")
        structure = jax.eval_shape(lambda p: _start(self.objective, self.optimizer, p, self.data), params)
        shapes = jax.tree_util.tree_leaves(structure)
        leaves = [jnp.asarray(archive[f"state_{index}"]) for index in range(meta["n_leaves"])]
        if [leaf.shape for leaf in leaves] != [shape.shape for shape in shapes]:
            raise ValueError(f"{path}: the stored state does not match this problem's shapes")
        self.state = jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(structure), leaves)
        if self.mesh is not None:
            self.state = replicate(self.state, self.mesh)
        self._history = [{name: archive[f"history_{name}"] for name in meta["history"]}]
        self.step, self.wall_time = int(meta["step"]), float(meta["wall_time"])
