"""Variational Monte Carlo training and evaluation (seed 003), with the design driver's live-display contract.

One iteration: ``mcmc_steps`` Metropolis moves of every walker under the current psi; local energies; the energy
gradient in its covariance form

    grad E = 2 < (E_L - <E_L>) grad log|psi| >,

with E_L clipped to ``clip`` mean absolute deviations around its median (only in the gradient; reported energies
are unclipped); one step with the rate ``learning_rate / (1 + t / decay)``, either Adam's or along the natural
gradient (:class:`NaturalGradient`, stochastic reconfiguration); the Metropolis width nudged toward 50-55 %
acceptance. Walkers persist across iterations. A walker whose local energy is not finite is left out of that
iteration's averages and gradient; a gradient that is not finite is not applied. Before training,
:meth:`VMC.pretrain` can fit the orbitals to Hartree-Fock's (:mod:`~magwidgets.vmc.pretrain`); with the natural
gradient that is FermiNet's recipe, the one :data:`RECIPES` uses for Li, Be and LiH.

:class:`VMC` runs on the shared :class:`~magwidgets.run.RunLoop` (``iterate``, ``run``, callbacks, pause and
stop from other threads), so the VMC panel drives it with the same live runner as the design studio drives a
design. :meth:`VMC.evaluate` freezes the wavefunction and returns the energy with a blocking-analysis error bar.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree

from ..run import RunLoop
from .hamiltonian import local_energy
from .network import Network, init_params, log_psi
from .pretrain import hartree_fock, pretrain
from .sampling import adapt_width, initial_walkers, metropolis
from .systems import System


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


DEFAULT_RATES = {"adam": 3e-3, "natural": 0.05}   # name: default learning rate
# (optimizer, Hartree-Fock pretraining iterations) per system: FermiNet's recipe where the small network needs it
# to reach 5 mHa within 15 CPU minutes (seed 003; the VMC table of the documentation's benchmarks), plain Adam
# where it is enough.
RECIPES = {"Li": ("natural", 500), "Be": ("natural", 500), "LiH": ("natural", 500)}
DEFAULT_RECIPE = ("adam", 0)


@dataclass(frozen=True)
class Schedule:
    """The learning rate rate / (1 + t / decay) at iteration t; hashable by value, so runs share compiled steps."""

    rate: float
    decay: float

    def __call__(self, count):
        return self.rate / (1.0 + count / self.decay)


@lru_cache(maxsize=None)
def _optimizer(name: str, schedule: Schedule) -> optax.GradientTransformation:
    return optax.adam(schedule) if name == "adam" else optax.sgd(schedule)


@dataclass(frozen=True)
class NaturalGradient:
    """The natural gradient (Amari 1998), which for VMC is stochastic reconfiguration (Sorella 1998): seed 003's
    optimiser, of whose Fisher matrix FermiNet's KFAC is a Kronecker-factored approximation.

    The step is delta = (S + damping)^-1 g with the metric S_pq = < O_p O_q > - < O_p > < O_q > of the parameter
    derivatives O_p = d log|psi| / d theta_p over the walkers, solved in sample space through the identity
    (O^T O + lambda)^-1 O^T = O^T (O O^T + lambda)^-1, which costs a walkers x walkers Cholesky instead of a
    parameters x parameters one (Rende, Goldt, Becca & Sorella, "A simple linear algebra identity to optimize
    large-scale neural network quantum states", Commun. Phys. 2024). As in FermiNet's KFAC, a step of
    rate eta is shortened so that eta^2 delta^T S delta <= ``max_norm``: the wavefunction never changes by more
    than that in the Fisher metric, however small S's eigenvalues are. Damping and bound are FermiNet's KFAC
    defaults.
    """

    damping: float = 1e-3
    max_norm: float = 1e-3


def _natural_direction(log_abs, params, walkers, finite, centred, rate, natural: NaturalGradient):
    flat, unravel = ravel_pytree(params)
    derivatives = jax.vmap(jax.grad(lambda flat, electrons: log_abs(unravel(flat), electrons)),
                           in_axes=(None, 0))(flat, walkers)                                  # (walkers, parameters)
    count = jnp.maximum(jnp.sum(finite), 1)
    derivatives = jnp.where(finite[:, None], derivatives, 0.0)
    fluctuations = jnp.where(finite[:, None], derivatives - jnp.sum(derivatives, axis=0) / count, 0.0) / jnp.sqrt(count)
    residuals = jnp.where(finite, centred, 0.0) / jnp.sqrt(count)
    kernel = fluctuations @ fluctuations.T + natural.damping * jnp.eye(walkers.shape[0])
    direction = 2.0 * fluctuations.T @ jax.scipy.linalg.solve(kernel, residuals, assume_a="pos")
    metric_norm = jnp.sum((fluctuations @ direction) ** 2)                              # delta^T S delta
    shorten = jnp.minimum(1.0, jnp.sqrt(natural.max_norm / jnp.maximum(rate ** 2 * metric_norm, 1e-300)))
    return unravel(shorten * direction)


@partial(jax.jit, static_argnames=("system", "optimizer", "natural", "schedule", "mcmc_steps", "clip"))
def _iteration(system: System, optimizer, natural: NaturalGradient | None, schedule, mcmc_steps: int, clip: float,
               state: State):
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

    if natural is None:
        gradient = jax.grad(surrogate)(state.params)
    else:
        gradient = _natural_direction(log_abs, state.params, walkers, finite, centred, schedule(state.iteration),
                                      natural)
    usable = jnp.all(jnp.array([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(gradient)]))
    updates, optimizer_state = optimizer.update(gradient, state.optimizer, state.params)
    params = jax.tree_util.tree_map(lambda old, new: jnp.where(usable, new, old), state.params,
                                    optax.apply_updates(state.params, updates))
    optimizer_state = jax.tree_util.tree_map(lambda old, new: jnp.where(usable, new, old), state.optimizer,
                                             optimizer_state)
    log_values = jax.vmap(partial(log_abs, params))(walkers)
    width = adapt_width(state.width, acceptance)
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


class VMC(RunLoop):
    """Variational Monte Carlo of ``system`` with a FermiNet-style wavefunction.

    Parameters
    ----------
    system : System
        e.g. ``SYSTEMS["He"]`` or :func:`~magwidgets.vmc.systems.molecule`.
    network : Network
        Layer widths and number of determinants.
    walkers : int
        Number of Metropolis walkers (persist across iterations).
    optimizer : {"adam", "natural"}
        Adam from optax, or the natural gradient (:class:`NaturalGradient`, stochastic reconfiguration) applied
        with plain steps.
    learning_rate, decay : float
        The rate learning_rate / (1 + t / decay). Default 3e-3 for Adam (much above diverges, ferminet issue 57)
        and 0.05 for the natural gradient (FermiNet's KFAC rate).
    natural : NaturalGradient
        Damping and step-norm bound of the natural gradient.
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
                 optimizer: str = "adam", learning_rate: float | None = None, decay: float = 1000.0,
                 natural: NaturalGradient = NaturalGradient(), mcmc_steps: int = 10, clip: float = 5.0,
                 burn_in: int = 200, seed: int = 0, snapshot_every: int = 10, callbacks: Sequence[Callable] = ()):
        if walkers < 2:
            raise ValueError(f"walkers must be >= 2, got {walkers}")
        if optimizer not in DEFAULT_RATES:
            raise ValueError(f"optimizer must be one of {sorted(DEFAULT_RATES)}, got {optimizer!r}")
        learning_rate = DEFAULT_RATES[optimizer] if learning_rate is None else learning_rate
        if not (natural.damping > 0 and natural.max_norm > 0):
            raise ValueError(f"expected damping > 0 and max_norm > 0, got {natural}")
        if not (learning_rate > 0 and decay > 0 and mcmc_steps >= 1 and clip > 0 and snapshot_every >= 1):
            raise ValueError("expected learning_rate > 0, decay > 0, mcmc_steps >= 1, clip > 0, snapshot_every >= 1")
        super().__init__(snapshot_every, callbacks)
        self.system, self.network = system, network
        self.mcmc_steps, self.clip = int(mcmc_steps), float(clip)
        self.schedule = Schedule(float(learning_rate), float(decay))
        self.natural = natural if optimizer == "natural" else None
        self.optimizer = _optimizer(optimizer, self.schedule)
        parameter_key, walker_key, key = jax.random.split(jax.random.PRNGKey(seed), 3)
        params = init_params(parameter_key, system, network)
        positions = initial_walkers(walker_key, system, walkers)
        log_values = jax.vmap(lambda electrons: log_psi(params, system, electrons)[1])(positions)
        positions, log_values, key, *_ = _sample(system, int(burn_in) if burn_in else 1, params, positions,
                                                  log_values, jnp.asarray(0.3), key)
        self.state = State(params, self.optimizer.init(params), positions, log_values, jnp.asarray(0.3), key,
                           jnp.asarray(0))
        self._history: list[dict] = []
        self.pretraining_loss = np.zeros(0)   # the orbital loss of each pretraining iteration, if any

    def pretrain(self, iterations: int, basis: str = "cc-pvdz", learning_rate: float = 3e-3) -> np.ndarray:
        """Fit the orbitals to Hartree-Fock's in ``basis`` (:mod:`~magwidgets.vmc.pretrain`, needs PySCF) for
        ``iterations`` Adam steps before the energy is minimised; returns the orbital loss of each iteration."""
        if self.step:
            raise RuntimeError(f"pretraining comes before training; this run is at iteration {self.step}")
        if iterations < 1:
            raise ValueError(f"iterations must be >= 1, got {iterations}")
        params, walkers, log_values, width, key, losses = pretrain(
            self.state.params, self.system, hartree_fock(self.system, basis), self.state.walkers,
            self.state.log_values, self.state.width, self.state.key, iterations=iterations,
            learning_rate=learning_rate, mcmc_steps=self.mcmc_steps)
        self.state = State(params, self.optimizer.init(params), walkers, log_values, width, key, jnp.asarray(0))
        self.pretraining_loss = losses
        return losses

    # -- the steps the run loop takes -------------------------------------------------------------------------
    def _one_iteration(self, state: State):
        return _iteration(self.system, self.optimizer, self.natural, self.schedule, self.mcmc_steps, self.clip, state)

    def compile(self) -> None:
        """Compile one iteration now (on a copy of the state), so that a live display's first Run steps at once."""
        jax.block_until_ready(self._one_iteration(self.state)[1]["energy"])

    def _advance(self, n_steps: int) -> None:
        for _ in range(n_steps):
            self.state, metrics = self._one_iteration(self.state)
            self._history.append(jax.device_get(metrics))

    def snapshot(self, steps_per_second: float = 0.0, status: str = "running", shown: int = 64) -> VMCSnapshot:
        last = self._history[-1] if self._history else dict(energy=np.nan, variance=np.nan, acceptance=np.nan)
        return VMCSnapshot(step=self.step, energy=float(last["energy"]), variance=float(last["variance"]),
                           acceptance=float(last["acceptance"]), width=float(self.state.width),
                           walkers=np.asarray(self.state.walkers[:shown]), wall_time=self.wall_time,
                           steps_per_second=steps_per_second, status=status)

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
