"""The design studio: pick a task, sketch the sample or draw the target, and watch the optimisation live.

The run itself is :class:`~magwidgets.session.live.LiveRun` (the driver in a worker thread); this panel only
turns button clicks into its flags and renders the snapshots it hands over, so the kernel stays responsive.
One frame is: the loss history, G now against the target, the design's potential (or m_z = cos theta)
and its wavefunction-intensity map at a chosen flux, plus the step, loss and speed readouts.
"""
from __future__ import annotations

import io
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from typing import Optional

import bqplot
import ipywidgets as widgets
import jax
import numpy as np

from ..design import Optimizer
from ..design.optimize import OPTIMIZERS
from ..session.autosave import AUTOSAVE_SECONDS, Autosave, find_autosave, list_autosaves, new_autosave, served
from ..design.challenge import decode as decode_challenge
from ..design.config import CURVES
from ..design.driver import Design, Snapshot
from ..session.live import LiveRun
from ..design.tasks import TASKS, Task
from ..io.archives import save_design_result
from ..io.measured import curves_to_csv
from .challenge import ClassChallenge
from ._common import LatestOnly, RunButtons, download_link, message_line, section, show_message, tagged
from .maps import SiteMap, curve_figure, legend, legend_html
from .player import FieldPlayer
from .sketch import PotentialSketcher
from .target import TargetSketcher

MAX_PLOTTED_STEPS = 1000
TARGET_COLOUR, CHANNEL_COLOUR, DESIGN_COLOUR = "#1f77b4", "#999999", "#d62728"
PLAY_WAITS = "Play: the design's |ψ|² across the field is computed when a run stops"


class DesignStudio(widgets.VBox):
    """Inverse design, live: the heart of the dashboard.

    Parameters
    ----------
    task : str
        Initial task, a key of :data:`magwidgets.design.tasks.TASKS` (default seed 000's defect identification).
    min_interval : float
        Seconds between redraws while running (0.1: at most 10 frames per second).
    prepare : bool
        Build and compile the default run in the background at once, so that the first Run starts stepping.
    autosave_seconds : float
        Longest time between autosaves of a running design.

    Notes
    -----
    Attributes a notebook or a test may drive: ``potential_sketcher`` and ``target_sketcher`` (the inputs),
    ``runner`` (the :class:`LiveRun`), ``result()`` (the current :class:`DesignResult`), ``autosave`` (the
    current run's :class:`~magwidgets.session.autosave.Autosave`), :meth:`resume`, and the buttons
    ``run_button``, ``pause_button``, ``stop_button``, ``reset_button``, ``resume_button``, and ``challenge`` (the
    :class:`~magwidgets.widgets.challenge.ClassChallenge` row: a code for the current hidden sample, or a code's
    hidden sample as the target).

    Every run is autosaved under a code shown below the buttons; after a dead kernel or a closed tab, the code and
    Resume continue it. In a notebook the newest autosave is offered at once; on a served dashboard only by code.
    """

    def __init__(self, task: str = "identify_defect", *, min_interval: float = 0.1, prepare: bool = True,
                 autosave_seconds: float = AUTOSAVE_SECONDS) -> None:
        super().__init__()
        self.add_class("mw-design-studio")
        self.min_interval = float(min_interval)
        self.autosave_seconds = float(autosave_seconds)
        self._frame_lock = threading.Lock()
        self.runner: Optional[LiveRun] = None
        self.autosave: Optional[Autosave] = None
        # the last run's parametrisation and best parameters: where "smooth a design" starts
        self._previous: Optional[tuple[dict, object]] = None
        self._target_map: Optional[np.ndarray] = None
        self._truth: dict = {}
        self._sketch_sets_target = True  # a sketched truth's target follows the sketch
        self._hand_draw: dict[int, Optional[bqplot.interacts.Interaction]] = {}  # per flux-grid length

        self.task_picker = tagged(widgets.Dropdown(options=[(t.label, t.name) for t in TASKS.values()], value=task,
                                                     description="task", layout=dict(width="430px")), "mw-task")
        self.optimizer_picker = tagged(widgets.Dropdown(options=OPTIMIZERS, description="optimiser",
                                                          layout=dict(width="260px")), "mw-optimizer")
        self.rate_box = tagged(widgets.BoundedFloatText(min=1e-6, max=10.0, step=1e-3, description="rate",
                                                          layout=dict(width="160px")), "mw-rate")
        self.smoothness_box = tagged(widgets.BoundedFloatText(min=0.0, max=100.0, step=1e-3, description="γ smooth",
                                                                layout=dict(width="170px")), "mw-smoothness")
        self.steps_box = tagged(widgets.BoundedIntText(min=1, max=1_000_000, description="steps",
                                                         layout=dict(width="170px")), "mw-steps")
        self.starts_box = tagged(widgets.BoundedIntText(value=1, min=1, max=16, description="starts",
                                                          layout=dict(width="140px")), "mw-starts")
        self.seed_box = tagged(widgets.IntText(value=0, description="seed", layout=dict(width="130px")), "mw-seed")
        self.controls = RunButtons(self._on_run, self._on_reset, lambda: self.runner)
        self.run_button, self.pause_button, self.stop_button, self.reset_button = self.controls.buttons
        self.step_readout = tagged(widgets.HTML("0", description="step"), "mw-step")
        self.loss_readout = tagged(widgets.HTML("–", description="loss"), "mw-loss")
        self.speed_readout = tagged(widgets.HTML("–", description="steps/s"), "mw-speed")
        self.status = self.controls.status
        self.progress = tagged(widgets.IntProgress(min=0, max=1, value=0, layout=dict(width="300px")), "mw-progress")
        self.message = message_line()
        self.downloads = tagged(widgets.HTML(""), "mw-downloads")
        self.wavefunction_flux = tagged(widgets.IntSlider(description="Φ index", continuous_update=False),
                                          "mw-wavefunction-flux")
        self.autosave_line = tagged(widgets.HTML(""), "mw-autosave")
        self.resume_box = tagged(widgets.Text(placeholder="run code, e.g. otter-3f9a", description="run code",
                                                layout=dict(width="250px")), "mw-resume-code")
        self.resume_button = tagged(widgets.Button(description="Resume", icon="history"), "mw-resume")
        self.resume_button.on_click(lambda _button: self.resume(self.resume_box.value))

        self._settings = (self.optimizer_picker, self.rate_box, self.smoothness_box, self.starts_box, self.seed_box)
        for control in self._settings:
            control.observe(self._mark_outdated, names="value")
        self.task_picker.observe(lambda change: self.set_task(change["new"]), names="value")
        self.wavefunction_flux.observe(self._on_wavefunction_flux, names="value")

        self.potential_sketcher = PotentialSketcher(TASKS[task].wire)
        self.potential_sketcher.observe(self._on_sketch_change, names="potential")
        self._target_sketchers: dict[int, TargetSketcher] = {}
        self.target_sketcher: Optional[TargetSketcher] = None
        self.truth_map = SiteMap("true magnetisation m_z = cos θ", (12, 12), symmetric=True, label="m_z")
        self.design_map = SiteMap("design: potential V", (30, 30), "mw-design-figure", symmetric=True, label="V (t)")
        self.wavefunction_map = SiteMap("wavefunction intensity", (30, 30), "mw-wavefunction-figure", label="|ψ|²")
        # Play: the design's |psi|^2 across the flux grid, computed once when a run stops (never while it steps)
        self.player = FieldPlayer(self.wavefunction_map, self._on_frame, "mw-studio-player")
        self._frames = LatestOnly(lambda error: show_message(self.message, f"Play: {type(error).__name__}: {error}"))
        self.family_map = SiteMap("where the starts differ: spread of V", (30, 30), "mw-family-figure")
        self.family_losses = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), default_size=40)
        self.target_area = widgets.VBox()
        self.target_legend = legend([], "mw-target-legend")
        self.sample_area = widgets.VBox()
        self.loss_area = widgets.VBox()
        self.family_area = widgets.HBox(layout=dict(display="none"))
        self.challenge = ClassChallenge(self)

        buttons = widgets.HBox([self.run_button, self.pause_button, self.stop_button, self.reset_button])
        readouts = widgets.HBox([self.step_readout, self.loss_readout, self.speed_readout, self.progress, self.status])
        settings = widgets.HBox([self.optimizer_picker, self.rate_box, self.smoothness_box, self.steps_box,
                                 self.starts_box, self.seed_box], layout=dict(flex_flow="row wrap"))
        maps = widgets.HBox([self.sample_area, self.design_map.widget,
                             widgets.VBox([self.wavefunction_map.widget, self.wavefunction_flux, self.player.widget])],
                            layout=dict(flex_flow="row wrap"))
        resuming = widgets.HBox([self.resume_box, self.resume_button, self.autosave_line],
                                layout=dict(align_items="center"))
        self.children = [
            section("Problem", self.task_picker), section("Optimiser", settings),
            section("Run", buttons, readouts, self.controls.progress.line, resuming, self.message),
            section("Class challenge", self.challenge),
            section("Target and progress", widgets.HBox([self.target_area, self.loss_area],
                                                        layout=dict(flex_flow="row wrap"))),
            section("Sample, design and wavefunction", maps, self.family_area), self.downloads]
        self.set_task(task, prepare=prepare)
        if not served():  # one user's own notebook: offer the run a dead kernel left behind
            unfinished = list_autosaves()
            if unfinished:
                latest = unfinished[0]
                self.resume_box.value = latest.code
                show_message(self.message, f"A run was autosaved at {time.strftime('%H:%M', time.localtime(latest.saved_at()))}"
                                           f" (step {latest.saved_step()}): press Resume to continue it.", "info")

    # -- task and inputs ----------------------------------------------------------------------------------------
    @property
    def task(self) -> Task:
        return TASKS[self.task_picker.value]

    def set_task(self, name: str, prepare: bool = True) -> None:
        """Switch to task ``name``: its grid, published optimiser settings, sample and target."""
        if name not in TASKS:
            raise ValueError(f"unknown task {name!r}; expected one of {sorted(TASKS)}")
        self._discard_runner()
        self.challenge.leave()
        if self.task_picker.value != name:
            self.task_picker.value = name  # re-enters through the observer
            return
        task = TASKS[name]
        with self.hold_trait_notifications():
            self.optimizer_picker.value = task.optimizer.name
            self.rate_box.value = task.optimizer.learning_rate
            self.smoothness_box.value = task.smoothness
            self.steps_box.value = task.steps
            self.starts_box.value = task.n_starts
        self.target_sketcher = self._target_sketcher_for(task)
        cut = f" (cut at E = {float(np.atleast_1d(task.energy)[self._cut_energy_index]):g})" if task.is_map else ""
        self.target_legend.value = legend_html(
            [(f"target{cut}", TARGET_COLOUR, False)]
            + ([] if task.is_map else [("open channels: no design exceeds them", CHANNEL_COLOUR, True)])
            + [("design now", DESIGN_COLOUR, False)])
        self.target_area.children = [self.target_legend, self.target_sketcher]
        # a map task's target is the sample's G(flux, E); the drawn cut is for display only
        self.target_sketcher.figure.interaction = None if task.is_map else self._hand_draw[len(task.flux)]
        self.loss_area.children = [self._loss_figure(task)]
        self.wavefunction_flux.max = len(task.flux) - 1
        self.wavefunction_flux.value = len(task.flux) // 2
        shape = (task.wire.length, task.wire.width)
        with self._computing(f"the sample's G on the task's grid ({_points(task)} points)"):
            start = task.start(self.seed_box.value)
        self._truth = start.truth
        if task.solves_magnetisation:
            self.truth_map.show(np.cos(self._truth["theta"]))
            self.sample_area.children = [self.truth_map.widget]
        elif task.target_from == "truth":
            self.sample_area.children = [self.potential_sketcher]
            self._show_sample(task, self._truth["potential"])  # its target comes with the task's start
        else:
            self.sample_area.children = []
        if start.target is not None:
            self._show_target(start.target)
        self.design_map.figure.title = "design: m_z = cos θ" if task.solves_magnetisation else "design: potential V"
        self.family_map.figure.title = ("where the starts differ: spread of " +
                                        ("m_z" if task.solves_magnetisation else "V"))
        for site_map in (self.design_map, self.wavefunction_map):
            site_map.show(np.zeros(shape))
        self._clear_progress()
        show_message(self.message, "")
        if prepare:
            self._new_runner().prepare()

    def _target_sketcher_for(self, task: Task) -> TargetSketcher:
        """One target sketcher per flux grid; the design's G is drawn over the target in its figure."""
        key = len(task.flux)
        if key not in self._target_sketchers:
            u = (task.flux - task.flux[0]) / (task.flux[-1] - task.flux[0])
            sketcher = TargetSketcher(task.flux, CURVES["arches"](u))
            scales = dict(x=sketcher.x_scale, y=sketcher.y_scale)
            sketcher.figure.marks = list(sketcher.figure.marks) + [
                bqplot.Lines(x=np.zeros(0), y=np.zeros(0), colors=["#444444"], line_style="dotted", scales=scales),
                bqplot.Lines(x=np.zeros(0), y=np.zeros(0), colors=[CHANNEL_COLOUR], line_style="dashed",
                             scales=scales),
                bqplot.Lines(x=np.zeros(0), y=np.zeros(0), colors=[DESIGN_COLOUR], scales=scales)]
            sketcher.observe(self._mark_outdated, names=["target", "weights"])
            self._target_sketchers[key] = sketcher
            self._hand_draw[key] = sketcher.figure.interaction
        return self._target_sketchers[key]

    @property
    def _frame_marker(self) -> bqplot.Lines:
        return self.target_sketcher.figure.marks[-3]

    @property
    def _design_curve(self) -> bqplot.Lines:
        return self.target_sketcher.figure.marks[-1]

    @property
    def _channel_line(self) -> bqplot.Lines:
        return self.target_sketcher.figure.marks[-2]

    def _show_channels(self, task: Task) -> None:
        """The clean wire's G, i.e. its open channels N(B): no potential can scatter G above it."""
        if task.is_map:  # the figure shows one energy cut of a map; N is W for ideal leads anyway
            self._channel_line.x, self._channel_line.y = np.zeros(0), np.zeros(0)
            return
        channels = task.measurement.open_channels
        with self._channel_line.hold_sync():
            self._channel_line.x, self._channel_line.y = task.flux, channels

    def _loss_figure(self, task: Task) -> bqplot.Figure:
        log_y = task.loss_kind == "mse"
        title, label = (("cost: mean squared error (seed 004 eq. 1)", "Σ(G−G*)² / N") if log_y else
                        ("loss: log-RMS error (seed 000 eq. 4)", "ln √Σ(G−G*)²"))
        figure, x_scale, y_scale = curve_figure(title, "step", label, log_y=log_y, css_class="mw-loss-figure")
        self.loss_lines = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), scales=dict(x=x_scale, y=y_scale),
                                       colors=["#1f77b4"])
        figure.marks = [self.loss_lines]
        return figure

    def _show_sample(self, task: Task, potential: np.ndarray) -> None:
        """Put a sample on the sketcher without deriving a target from it (the caller has the target)."""
        self._sketch_sets_target = False
        try:
            self.potential_sketcher.set_wire(task.wire, potential)
        finally:
            self._sketch_sets_target = True

    def _on_sketch_change(self, change) -> None:
        if self.challenge.active:  # the sketch is the student's guess; the target is the code's hidden sample
            return
        if self._sketch_sets_target and self.task.target_from == "truth" and not self.task.solves_magnetisation:
            self._truth = dict(potential=np.array(change["new"], float))
            self._set_truth_target()

    def _set_truth_target(self) -> None:
        """The target of the sample in ``_truth`` (sketched, random or a challenge's hidden one): its G."""
        with self._computing(f"the sample's G ({_points(self.task)} points)"):
            target = self.task.truth_conductance(self._truth["potential"], self._truth.get("theta"))
        self._show_target(target)

    @contextmanager
    def _computing(self, what: str):
        """Say what the model is computing when it takes over half a second (a new grid's leads, a compilation)."""
        line = self.controls.progress
        if line.active:  # a run's own preparation is already being reported
            yield
            return
        line.start(f"computing {what}", delay=0.5)
        try:
            yield
        finally:
            line.stop()

    def _show_target(self, values: np.ndarray) -> None:
        """The target of a "truth" task: the conductance of the sketched (or random) sample."""
        self._target_map = values if self.task.is_map else None
        # derived from the sample, so not an undo step of its own (the sketcher's undo covers it)
        self.target_sketcher.set_target(self._display_cut(values), record=False)

    @property
    def _cut_energy_index(self) -> int:
        """For a map task, the energy nearest E = 0: where the G(flux) curves and the wavefunction are drawn."""
        return int(np.argmin(np.abs(np.atleast_1d(self.task.energy))))

    def _display_cut(self, values: np.ndarray) -> np.ndarray:
        """G(flux) as drawn: the curve itself, or for a map the cut at the energy nearest E = 0."""
        return values if values.ndim == 1 else values[:, self._cut_energy_index]

    def _mark_outdated(self, _change=None) -> None:
        """Inputs changed: the next Run builds a new design (a run in progress keeps its own)."""
        if self.runner is not None and self.runner.state not in ("running", "paused", "compiling") and not (
                self.runner.state == "queued" and self.runner.driver is not None):
            self._discard_runner()
            self._clear_progress()

    # -- runs ---------------------------------------------------------------------------------------------------
    def _target(self) -> tuple[np.ndarray, Optional[np.ndarray]]:
        if self.task.is_map:
            return self._target_map, None
        weights = self.target_sketcher.weights
        return np.array(self.target_sketcher.target, float), None if weights is None else np.array(weights, float)

    def _optimizer(self) -> Optimizer:
        schedule = self.task.optimizer.schedule
        return Optimizer(self.optimizer_picker.value, float(self.rate_box.value), schedule=schedule)

    def _initial_params(self, n_starts: int):
        """Where a run starts: the last design when the task continues one (smoothing), else the task's guess."""
        task = self.task
        if self.challenge.active:
            return self.challenge.initial_params(n_starts, int(self.seed_box.value))
        if task.continues and self._previous is not None and self._previous[0] == task.parametrisation().describe():
            show_message(self.message, "Smoothing the last design of this parametrisation.", "info")
            return jax.tree_util.tree_map(lambda leaf: np.repeat(leaf[None], n_starts, 0) if n_starts > 1 else leaf,
                                          self._previous[1])
        if task.continues:
            show_message(self.message, "No design to smooth yet (run 'Design any curve' first): starting from a "
                                       "random potential.", "info")
        return None

    def _new_runner(self, resumed: Optional[tuple[Autosave, dict]] = None) -> LiveRun:
        """A run of the current inputs, or with ``resumed`` = (autosave, its arrays) the autosaved run.

        Settings are read now, on the caller's thread; the inputs are autosaved when the run is built.
        """
        task, optimizer = self.task, self._optimizer()
        smoothness, seed, n_starts = float(self.smoothness_box.value), int(self.seed_box.value), int(self.starts_box.value)
        truth = {} if self.challenge.hidden else dict(self._truth)
        if resumed is None:
            (target, weights), initial, autosave = self._target(), self._initial_params(n_starts), new_autosave()
        else:
            autosave, arrays = resumed
            target, weights = arrays["target"], arrays.get("weights")
            stored = [arrays[f"initial_{index}"] for index in range(sum(name.startswith("initial_") for name in arrays))]
            structure = jax.tree_util.tree_structure(task.parametrisation().init(jax.random.PRNGKey(0)))
            initial = jax.tree_util.tree_unflatten(structure, stored) if stored else None
        settings = dict(task=task.name, optimizer=optimizer.name, rate=optimizer.learning_rate, smoothness=smoothness,
                        seed=seed, n_starts=n_starts)
        if self.challenge.hidden:  # the code, not the sample: resuming plays the challenge again, still hidden
            settings["challenge"] = self.challenge.code

        def build() -> Design:
            if resumed is None:
                leaves = jax.tree_util.tree_leaves(initial)
                autosave.save_inputs(settings, target=target, weights=weights, truth_potential=truth.get("potential"),
                                     truth_theta=truth.get("theta"),
                                     **{f"initial_{index}": np.asarray(leaf) for index, leaf in enumerate(leaves)})
            design = task.design(target, weights=weights, optimizer=optimizer, smoothness=smoothness, seed=seed,
                                 n_starts=n_starts, initial_params=initial, checkpoint=autosave.checkpoint_path,
                                 checkpoint_seconds=self.autosave_seconds, resume=resumed is not None)
            start = design.snapshot()
            with self._frame_lock:  # the starting point on the maps; also compiles the wavefunction solve
                self.design_map.show(self._design_field(start))
                self._show_wavefunction(start)
                self._show_channels(task)
            if resumed is not None:
                self._render(start, design)
            return design

        self.autosave = autosave
        self.autosave_line.value = (f'<span style="color: #555555">autosaved every {self.autosave_seconds:g} s as '
                                    f'<b>{autosave.code}</b>: note it to resume after a closed tab</span>')
        self.runner = LiveRun(build, self._render, self._on_state, min_interval=self.min_interval)
        return self.runner

    def resume(self, code: str) -> None:
        """Continue the autosaved run ``code``: its task, target and settings come back, and Run continues it.

        A wrong code or an unreadable autosave leaves everything as it was and says why.
        """
        if self.runner is not None and self.runner.state in ("running", "paused", "queued") and (
                self.runner.driver is not None):
            show_message(self.message, "Stop the current run before resuming another one.")
            return
        try:
            autosave = find_autosave(code)
            settings, arrays = autosave.load_inputs()
            step = autosave.saved_step()
            if settings.get("task") not in TASKS or "target" not in arrays or step is None:
                raise ValueError(f"autosave {autosave.code} is incomplete or from another version of magwidgets")
        except ValueError as error:
            show_message(self.message, str(error))
            return
        self.set_task(settings["task"], prepare=False)
        task = self.task
        self.optimizer_picker.value, self.rate_box.value = settings["optimizer"], settings["rate"]
        self.smoothness_box.value, self.seed_box.value = settings["smoothness"], settings["seed"]
        self.starts_box.value = settings["n_starts"]
        if settings.get("challenge"):
            try:
                self.challenge.enter(decode_challenge(settings["challenge"]), settings["challenge"])
            except ValueError as error:
                show_message(self.message, f"autosave {autosave.code}: {error}")
                return
        elif task.target_from == "truth":
            self._truth = {name[len("truth_"):]: arrays[name] for name in ("truth_potential", "truth_theta")
                           if name in arrays}
            if task.solves_magnetisation:
                self.truth_map.show(np.cos(self._truth["theta"]))
            else:
                self._show_sample(task, self._truth["potential"])
        if task.is_map:
            self._target_map = arrays["target"]
        self.target_sketcher.set_target(self._display_cut(arrays["target"]), arrays.get("weights"), record=False)
        self.resume_box.value = autosave.code
        self._new_runner((autosave, arrays)).prepare()
        show_message(self.message, f"Run {autosave.code} restored at step {step}: press Run to continue it.", "info")

    def _discard_runner(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.runner = None

    def _on_run(self, _button=None) -> None:
        if "mw-error" in self.message.value:  # a new attempt clears the old error; notes about the start stay
            show_message(self.message, "")
        try:
            if self.runner is None:
                self._new_runner()
        except ValueError as error:  # e.g. an optimiser setting out of range: say so, keep everything
            show_message(self.message, str(error))
            return
        steps = int(self.steps_box.value)
        total = (self.runner.driver.step if self.runner.driver is not None else 0) + steps
        if self.runner.state != "paused":
            self.progress.max = total
        self.runner.run(steps)

    def _on_reset(self, _button=None) -> None:
        """Throw the run and its autosave away (inputs stay) and show the starting point again."""
        self._discard_runner()
        if self.autosave is not None:
            self.autosave.delete()
        self._clear_progress()
        shape = (self.task.wire.length, self.task.wire.width)
        for site_map in (self.design_map, self.wavefunction_map):
            site_map.show(np.zeros(shape))
        self._new_runner().prepare()

    def _clear_progress(self) -> None:
        self.step_readout.value, self.loss_readout.value, self.speed_readout.value = "0", "–", "–"
        self.progress.value = 0
        self.loss_lines.x, self.loss_lines.y = np.zeros(0), np.zeros(0)
        if self.target_sketcher is not None:
            self._design_curve.x, self._design_curve.y = np.zeros(0), np.zeros(0)
            self._frame_marker.x, self._frame_marker.y = np.zeros(0), np.zeros(0)
        self.player.clear(PLAY_WAITS)
        self.downloads.value = ""
        self.family_area.layout.display = "none"
        self._set_buttons("idle")

    # -- rendering (called from the worker thread) --------------------------------------------------------------
    def _on_state(self, state: str, message: Optional[str]) -> None:
        self._set_buttons(state, message)
        if state == "running" and len(self.player.frames):  # the design moves on: its old frames go
            self.player.clear(PLAY_WAITS)
        if state == "failed":
            show_message(self.message, f"The run stopped with an error: {message}. The last good parameters are "
                                       "kept; Run continues from them, Reset starts over.")
        elif state in ("stopped", "finished") and self.runner is not None and self.runner.driver is not None:
            design = self.runner.driver
            self._previous = (self.task.parametrisation().describe(), design.best_point().params)
            result = design.result()
            self._show_family(result, design.n_starts)
            self._offer_downloads(result, design.target, design.seed)
            task = self.task
            self._frames.submit(lambda: self._compute_frames(task, result.onsite, result.theta), "frames")

    def _set_buttons(self, state: str, message: Optional[str] = None) -> None:
        self.controls.show(state, (self.task_picker,) + self._settings + (self.steps_box,), message)

    def _render(self, snapshot: Snapshot, design: Design) -> None:
        with self._frame_lock:
            task = self.task
            loss = design.history()["loss"]
            best = loss if loss.ndim == 1 else loss.min(axis=1)
            stride = max(1, len(best) // MAX_PLOTTED_STEPS)
            with self.loss_lines.hold_sync():
                self.loss_lines.x = np.arange(len(best))[::stride].astype(float)
                self.loss_lines.y = best[::stride]
            with self._design_curve.hold_sync():
                self._design_curve.x = task.flux
                self._design_curve.y = self._display_cut(np.asarray(snapshot.conductance))
            self.design_map.show(self._design_field(snapshot))
            self._show_wavefunction(snapshot)
            self.step_readout.value = str(snapshot.step)
            self.loss_readout.value = f"{snapshot.loss:.4g}"
            self.challenge.show_loss(float(np.nanmin(best)))
            self.speed_readout.value = f"{snapshot.steps_per_second:.1f}" if snapshot.steps_per_second else "–"
            self.progress.value = min(snapshot.step, self.progress.max)
            if design.n_starts > 1:
                self.family_losses.x = np.arange(design.n_starts, dtype=float)
                self.family_losses.y = np.asarray(snapshot.losses, float)

    def _design_field(self, snapshot: Snapshot) -> np.ndarray:
        if self.task.solves_magnetisation:
            return np.cos(snapshot.theta)
        return self.task.measurement.potential(snapshot.onsite)

    def _show_wavefunction(self, snapshot: Snapshot) -> None:
        task, index = self.task, int(self.wavefunction_flux.value)
        energy = float(np.atleast_1d(task.energy)[self._cut_energy_index])
        intensity = task.measurement.wavefunction_intensity(snapshot.onsite, task.flux[index], energy, snapshot.theta)
        self.wavefunction_map.show(intensity, f"|ψ|² at Φ/Φ0 = {task.flux[index]:.4f}")

    def _on_wavefunction_flux(self, change) -> None:
        if len(self.player.frames) == len(self.task.flux):  # the precomputed frame of Play
            self.player.play.value = change["new"]
        elif self.runner is not None and self.runner.latest is not None and self.runner.state != "running":
            with self._frame_lock:
                self._show_wavefunction(self.runner.latest)

    def _compute_frames(self, task: Task, onsite, theta) -> None:
        """|psi|^2 of the best design at every flux of the task's grid (in the frames' background thread)."""
        self.player.readout.value = f"computing |ψ|² at {len(task.flux)} fluxes for Play…"
        energy = float(np.atleast_1d(task.energy)[self._cut_energy_index])
        frames = task.measurement.wavefunction_frames(onsite, energy, theta)
        with self._frame_lock:
            if task is self.task and self.runner is not None and self.runner.state in ("stopped", "finished"):
                self.player.set_frames(task.flux, energy, frames, "|ψ|² of the design")

    def _on_frame(self, index: int) -> None:
        """Play moved to frame ``index``: the Φ index slider and the marker on G(Φ) follow."""
        self.wavefunction_flux.value = index
        flux = float(self.task.flux[index])
        top = float(np.nanmax(self.target_sketcher.target_line.y)) if len(self.task.flux) else 1.0
        with self._frame_marker.hold_sync():
            self._frame_marker.x, self._frame_marker.y = np.array([flux, flux]), np.array([0.0, max(top, 1.0)])

    def _show_family(self, result, n_starts: int) -> None:
        if n_starts == 1:
            self.family_area.layout.display = "none"
            return
        onsite, theta = self.task.problem().fields_of_starts(result.family)
        values = np.cos(theta) if self.task.solves_magnetisation else onsite
        self.family_map.show(values.std(axis=0))
        figure, _, _ = curve_figure("best cost of each start", "start", "cost", log_y=self.task.loss_kind == "mse")
        self.family_losses.scales = dict(x=figure.axes[0].scale, y=figure.axes[1].scale)
        self.family_losses.x = np.arange(n_starts, dtype=float)
        self.family_losses.y = np.asarray(result.family_loss, float)
        figure.marks = [self.family_losses]
        self.family_area.children = [figure, self.family_map.widget]
        self.family_area.layout.display = "flex"

    # -- results ------------------------------------------------------------------------------------------------
    def result(self):
        """The current run's :class:`~magwidgets.design.DesignResult` (None before the first Run)."""
        if self.runner is None or self.runner.driver is None:
            return None
        return self.runner.driver.result()

    def _offer_downloads(self, result, target: np.ndarray, seed: int) -> None:
        task = self.task
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "design.npz")
            # a challenge's hidden sample is not handed out before Reveal
            truth = {} if self.challenge.hidden else self._truth
            save_design_result(path, result, seed=seed, target=target, truth=truth)
            with open(path, "rb") as archive:
                archive_bytes = archive.read()
        conductance = np.asarray(result.conductance)
        if task.is_map:
            columns = {}
            for index, energy in enumerate(np.asarray(task.energy)):
                columns[f"target_E{energy:+.2f}"] = target[:, index]
                columns[f"design_E{energy:+.2f}"] = conductance[:, index]
            curves = curves_to_csv(task.flux, **columns)
        else:
            curves = curves_to_csv(task.flux, target=target, design=conductance)
        self.downloads.value = " · ".join([
            download_link(archive_bytes, f"{task.name}.npz", "results archive (.npz)"),
            download_link(curves, f"{task.name}_conductance.csv", "G(Φ) curves (.csv)", "text/csv"),
            download_link(self._maps_png(result), f"{task.name}_maps.png", "maps (.png)", "image/png"),
        ])

    def _maps_png(self, result) -> bytes:
        """The design's field and its wavefunction-intensity map side by side, as a PNG."""
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure

        figure = Figure(figsize=(8, 3.4), dpi=100)
        panels = figure.subplots(1, 2)
        field = self.design_map.heatmap.color
        intensity = self.wavefunction_map.heatmap.color
        for axis, values, title, cmap in ((panels[0], field, self.design_map.figure.title, "RdBu_r"),
                                          (panels[1], intensity, self.wavefunction_map.figure.title, "viridis")):
            image = axis.imshow(values, origin="lower", cmap=cmap, aspect="equal")
            axis.set_title(title, fontsize=8)
            axis.set_xlabel("x")
            axis.set_ylabel("y")
            figure.colorbar(image, ax=axis, shrink=0.8)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def _points(task: Task) -> int:
    """The (flux, energy) points of a task's grid."""
    return len(task.flux) * np.size(task.energy)
