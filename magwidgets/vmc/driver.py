"""Variational Monte Carlo training and evaluation (seed 003), with the design driver's live-display contract.

One iteration: ``mcmc_steps`` Metropolis moves of every walker under the current psi; local energies; the energy
gradient in its covariance form

    grad E = 2 < (E_L - <E_L>) grad log|psi| >,

with E_L clipped to ``clip`` mean absolute deviations around its median (only in the gradient; reported energies
are unclipped); one Adam step with the rate ``learning_rate / (1 + t / decay)``; the Metropolis width nudged
toward 50-55 % acceptance. Walkers persist across iterations. A walker whose local energy is not finite is left
out of that iteration's averages and gradient; a gradient that is not finite is not applied.

:class:`VMC` has the interface :class:`~magwidgets.design.live.LiveRun` drives (``iterate``, ``compile``,
``pause``/``unpause``/``stop``, ``step``, ``reason``), so the VMC panel runs it exactly as the design studio runs
a design. :meth:`VMC.evaluate` freezes the wavefunction and returns the energy with a blocking-analysis error bar.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Iterator, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..design.driver import RunControl
from .hamiltonian import local_energy
from .network import Network, init_params, log_psi
from .sampling import initial_walkers, metropolis
from .systems import System

TARGET_ACCEPTANCE = (0.50, 0.55)


class State(NamedTuple):
    params: dict
    optimizer: optax.OptState
    walkers: jnp.ndarray
    log_values: jnp.ndarray
    width: jnp.ndarray
    key: jnp.ndarray
    iteration: jnp.ndarray


@dataclass
class VMCSnapshot:
    """The run after ``step`` iterations: batch statistics of the last iteration and a few walkers to draw."""

    step: int
    energy: float
    variance: float
    acceptance: float
    width: float
    walkers: np.ndarray          # (n_shown, N, 3)
    wall_time: float
    steps_per_second: float
    status: str = "running"


@dataclass
class Evaluation:
    """Energy of a frozen wavefunction: mean and blocking-analysis standard error (hartree)."""

    energy: float
    error: float
    energies: np.ndarray = field(repr=False)   # the mean local energy of each evaluation iteration
    variance: float = 0.0
    acceptance: float = 0.0


def blocking(samples: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of a correlated series by Flyvbjerg-Petersen blocking.

    Pairs of neighbours are averaged repeatedly; the naive error of the blocked series grows until blocks are
    longer than the correlation time and then plateaus. The error reported is the first level whose estimate
    agrees with the next one within the next one's own uncertainty, or the largest estimate with at least eight
    blocks if no plateau is reached.
    """
    series = np.asarray(samples, float)
    if series.size < 2:
        raise ValueError(f"blocking needs at least 2 samples, got {series.size}")
    errors, uncertainties = [], []
    while series.size >= 8:
        error = np.std(series, ddof=1) / np.sqrt(series.size)
        errors.append(error)
        uncertainties.append(error / np.sqrt(2 * (series.size - 1)))
        series = 0.5 * (series[0:2 * (series.size // 2):2] + series[1:2 * (series.size // 2):2])
    mean = float(np.mean(samples))
    if not errors:
        return mean, float(np.std(samples, ddof=1) / np.sqrt(len(samples)))
    for level in range(len(errors) - 1):
        if abs(errors[level + 1] - errors[level]) <= uncertainties[level + 1]:
            return mean, float(max(errors[level], errors[level + 1]))
    return mean, float(max(errors))


def _batch_statistics(energies):
    finite = jnp.isfinite(energies)
    count = jnp.maximum(jnp.sum(finite), 1)
    safe = jnp.where(finite, energies, 0.0)
    mean = jnp.sum(safe) / count
    variance = jnp.sum(jnp.where(finite, (energies - mean) ** 2, 0.0)) / count
    return finite, mean, variance


@partial(jax.jit, static_argnames=("system", "optimizer", "mcmc_steps", "clip"))
def _iteration(system: System, optimizer, mcmc_steps: int, clip: float, state: State):
    log_abs = lambda params, electrons: log_psi(params, system, electrons)[1]  # noqa: E731
    key, move_key = jax.random.split(state.key)
    walkers, log_values, acceptance = metropolis(partial(log_abs, state.params), move_key, state.walkers,
                                                 state.log_values, state.width, mcmc_steps)
    energies = jax.vmap(lambda electrons: local_energy(partial(log_abs, state.params), system, electrons))(walkers)
    finite, mean, variance = _batch_statistics(energies)
    median = jnp.nanmedian(jnp.where(finite, energies, jnp.nan))
    spread = jnp.nanmean(jnp.where(finite, jnp.abs(energies - median), jnp.nan))
    clipped = jnp.where(finite, jnp.clip(energies, median - clip * spread, median + clip * spread), median)
    centred = jax.lax.stop_gradient(clipped - jnp.sum(jnp.where(finite, clipped, 0.0)) / jnp.maximum(jnp.sum(finite), 1))

    def surrogate(params):
        logs = jax.vmap(partial(log_abs, params))(walkers)
        return 2.0 * jnp.sum(jnp.where(finite, centred * logs, 0.0)) / jnp.maximum(jnp.sum(finite), 1)

    gradient = jax.grad(surrogate)(state.params)
    usable = jnp.all(jnp.array([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(gradient)]))
    updates, optimizer_state = optimizer.update(gradient, state.optimizer, state.params)
    params = jax.tree_util.tree_map(lambda old, new: jnp.where(usable, new, old), state.params,
                                    optax.apply_updates(state.params, updates))
    optimizer_state = jax.tree_util.tree_map(lambda old, new: jnp.where(usable, new, old), state.optimizer,
                                             optimizer_state)
    log_values = jax.vmap(partial(log_abs, params))(walkers)
    low, high = TARGET_ACCEPTANCE
    width = state.width * jnp.where(acceptance > high, 1.02, jnp.where(acceptance < low, 0.98, 1.0))
    new_state = State(params, optimizer_state, walkers, log_values, width, key, state.iteration + 1)
    return new_state, dict(energy=mean, variance=variance, acceptance=acceptance, width=state.width,
                           rejected=jnp.sum(~finite) + (~usable).astype(int))


@partial(jax.jit, static_argnames=("system", "mcmc_steps"))
def _sample(system: System, mcmc_steps: int, params, walkers, log_values, width, key):
    log_abs = lambda electrons: log_psi(params, system, electrons)[1]  # noqa: E731
    key, move_key = jax.random.split(key)
    walkers, log_values, acceptance = metropolis(log_abs, move_key, walkers, log_values, width, mcmc_steps)
    energies = jax.vmap(partial(local_energy, log_abs, system))(walkers)
    _, mean, variance = _batch_statistics(energies)
    return walkers, log_values, key, mean, variance, acceptance


class VMC(RunControl):
    """Variational Monte Carlo of ``system`` with a FermiNet-style wavefunction.

    Parameters
    ----------
    system : System
        e.g. ``SYSTEMS["He"]`` or :func:`~magwidgets.vmc.systems.molecule`.
    network : Network
        Layer widths and number of determinants.
    walkers : int
        Number of Metropolis walkers (persist across iterations).
    learning_rate, decay : float
        Adam's rate learning_rate / (1 + t / decay); Adam much above 3e-3 diverges (ferminet issue 57).
    mcmc_steps : int
        Metropolis moves per walker between parameter updates.
    clip : float
        Local energies beyond ``clip`` mean absolute deviations from the median are clipped in the gradient.
    burn_in : int
        Metropolis moves before the first iteration.
    seed : int
    snapshot_every : int
        Iterations between snapshots (and pause/stop checks).
    callbacks : sequence of callable(VMCSnapshot) -> bool | None
        Called with every snapshot; returning False stops the run.
    """

    def __init__(self, system: System, network: Network = Network(), *, walkers: int = 1024,
                 learning_rate: float = 3e-3, decay: float = 1000.0, mcmc_steps: int = 10, clip: float = 5.0,
                 burn_in: int = 200, seed: int = 0, snapshot_every: int = 10, callbacks: Sequence[Callable] = ()):
        if walkers < 2:
            raise ValueError(f"walkers must be >= 2, got {walkers}")
        if not (learning_rate > 0 and decay > 0 and mcmc_steps >= 1 and clip > 0 and snapshot_every >= 1):
            raise ValueError("expected learning_rate > 0, decay > 0, mcmc_steps >= 1, clip > 0, snapshot_every >= 1")
        self.system, self.network = system, network
        self.mcmc_steps, self.clip, self.snapshot_every = int(mcmc_steps), float(clip), int(snapshot_every)
        self.callbacks = list(callbacks)
        self.optimizer = optax.adam(lambda count: learning_rate / (1.0 + count / decay))
        parameter_key, walker_key, key = jax.random.split(jax.random.PRNGKey(seed), 3)
        params = init_params(parameter_key, system, network)
        positions = initial_walkers(walker_key, system, walkers)
        log_values = jax.vmap(lambda electrons: log_psi(params, system, electrons)[1])(positions)
        positions, log_values, key, *_ = _sample(system, int(burn_in) if burn_in else 1, params, positions,
                                                  log_values, jnp.asarray(0.3), key)
        self.state = State(params, self.optimizer.init(params), positions, log_values, jnp.asarray(0.3), key,
                           jnp.asarray(0))
        self.step, self.wall_time, self.reason = 0, 0.0, "not started"
        self._history: list[dict] = []
        super().__init__()

    # -- the loop ----------------------------------------------------------------------------------------------
    def _advance(self, state: State):
        return _iteration(self.system, self.optimizer, self.mcmc_steps, self.clip, state)

    def compile(self) -> None:
        """Compile one iteration now (on a copy of the state), so that a live display's first Run steps at once."""
        jax.block_until_ready(self._advance(self.state)[1]["energy"])

    def snapshot(self, steps_per_second: float = 0.0, status: str = "running", shown: int = 64) -> VMCSnapshot:
        last = self._history[-1] if self._history else dict(energy=np.nan, variance=np.nan, acceptance=np.nan)
        return VMCSnapshot(step=self.step, energy=float(last["energy"]), variance=float(last["variance"]),
                           acceptance=float(last["acceptance"]), width=float(self.state.width),
                           walkers=np.asarray(self.state.walkers[:shown]), wall_time=self.wall_time,
                           steps_per_second=steps_per_second, status=status)

    def iterate(self, steps: int) -> Iterator[VMCSnapshot]:
        """Advance until ``steps`` iterations in total, yielding a snapshot now and after every ``snapshot_every``."""
        self._stop_requested = False
        self.reason = "running"
        yield self._emit(self.snapshot())
        while self.step < steps and self.reason == "running":
            self._running.wait()
            if self._stop_requested:
                self.reason = "stopped"
                break
            started = time.perf_counter()
            chunk = min(self.snapshot_every, steps - self.step)
            for _ in range(chunk):
                self.state, metrics = self._advance(self.state)
                self._history.append(jax.device_get(metrics))
            elapsed = time.perf_counter() - started
            self.wall_time += elapsed
            self.step += chunk
            yield self._emit(self.snapshot(chunk / elapsed))
        if self.reason == "running":
            self.reason = "steps"

    def _emit(self, snapshot: VMCSnapshot) -> VMCSnapshot:
        if any(callback(snapshot) is False for callback in self.callbacks):
            self.reason = "callback"
        return snapshot

    def run(self, steps: int) -> dict:
        """Train for ``steps`` iterations in total; returns :meth:`history`."""
        for _ in self.iterate(steps):
            pass
        return self.history()

    def history(self) -> dict:
        """Per-iteration batch mean energy, variance, acceptance, Metropolis width and rejected walkers."""
        if not self._history:
            return {name: np.zeros(0) for name in ("energy", "variance", "acceptance", "width", "rejected")}
        return {name: np.array([entry[name] for entry in self._history]) for name in self._history[0]}

    def evaluate(self, iterations: int = 500) -> Evaluation:
        """The energy of the current wavefunction, frozen: ``iterations`` x ``mcmc_steps`` moves, blocking error."""
        if iterations < 16:
            raise ValueError(f"evaluate needs at least 16 iterations for a blocking analysis, got {iterations}")
        walkers, log_values, width, key = self.state.walkers, self.state.log_values, self.state.width, self.state.key
        energies, variances, acceptances = [], [], []
        for _ in range(int(iterations)):
            walkers, log_values, key, mean, variance, acceptance = _sample(
                self.system, self.mcmc_steps, self.state.params, walkers, log_values, width, key)
            energies.append(float(mean)), variances.append(float(variance)), acceptances.append(float(acceptance))
        energy, error = blocking(np.array(energies))
        return Evaluation(energy, error, np.array(energies), float(np.mean(variances)), float(np.mean(acceptances)))
