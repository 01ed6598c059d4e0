"""The VMC panel: train a FermiNet-style wavefunction live and watch the energy fall toward the exact value.

The run is a :class:`~magwidgets.vmc.VMC` driven by :class:`~magwidgets.session.live.LiveRun` in a worker thread,
exactly like a design in the studio; this panel only sets flags and renders snapshots.
"""
from __future__ import annotations

import threading
from typing import Optional

import bqplot
import ipywidgets as widgets
import numpy as np

from ..session.live import LiveRun
from ..vmc import DEFAULT_RECIPE, DEFAULT_RATES, RECIPES, SYSTEMS, VMC, System, VMCSnapshot
from ..vmc.pretrain import PYSCF_MISSING, pyscf_available
from ._common import LatestOnly, RunButtons, message_line, show_message, tagged
from .maps import TITLE_STYLE, curve_figure, legend

MAX_PLOTTED_STEPS = 2000


class VMCPanel(widgets.VBox):
    """Variational Monte Carlo of a small atom or molecule, live.

    Parameters
    ----------
    system : str
        A key of :data:`magwidgets.vmc.SYSTEMS` (H, He, Li, Be, H2, LiH).
    walkers : int
        Metropolis walkers (fewer is faster and noisier).
    min_interval : float
        Seconds between redraws while running.
    prepare : bool
        Build (and pretrain) and compile the run in the background at once and after every change of system or
        optimiser, so that the first Run starts stepping.

    Notes
    -----
    The optimiser, its rate and the Hartree-Fock pretraining start at the chosen system's recipe
    (:data:`~magwidgets.vmc.RECIPES`: Adam for H, He and H2, the natural gradient after 500 pretraining
    iterations for Li, Be and LiH); pretraining runs with the build, before the first Run. The energy figure
    shows the batch mean of the local energy at every iteration with the exact energy and the Hartree-Fock
    energy as lines; the walker figure shows where the electrons are (x-z plane, spin up blue,
    spin down red, nuclei black). **Evaluate** freezes the wavefunction and measures its energy with a blocking
    error bar. CSS classes: ``mw-run``, ``mw-pause``, ``mw-stop``, ``mw-reset``, ``mw-evaluate``, ``mw-step``,
    ``mw-energy``, ``mw-acceptance``, ``mw-variance``, ``mw-status``, ``mw-optimizer``, ``mw-pretrain``.
    """

    def __init__(self, system: str = "He", *, walkers: int = 512, min_interval: float = 0.1,
                 prepare: bool = True) -> None:
        super().__init__()
        self.add_class("mw-vmc-panel")
        self.min_interval, self.prepare = float(min_interval), bool(prepare)
        self.runner: Optional[LiveRun] = None
        self._frame_lock = threading.Lock()
        self.system_picker = tagged(widgets.Dropdown(options=list(SYSTEMS), value=system, description="system"),
                                      "mw-system")
        self.walkers_box = tagged(widgets.BoundedIntText(value=walkers, min=16, max=8192, description="walkers",
                                                           layout=dict(width="170px")), "mw-walkers")
        self.optimizer_picker = tagged(widgets.Dropdown(options=[("Adam", "adam"), ("natural gradient", "natural")],
                                                        description="optimiser", layout=dict(width="240px")),
                                       "mw-optimizer")
        self.rate_box = tagged(widgets.BoundedFloatText(value=3e-3, min=1e-5, max=1.0, step=1e-3, description="rate",
                                                          layout=dict(width="160px")), "mw-rate")
        self.pretrain_box = tagged(widgets.BoundedIntText(value=0, min=0, max=20_000, description="HF pretrain",
                                                          layout=dict(width="190px")), "mw-pretrain")
        self.steps_box = tagged(widgets.BoundedIntText(value=2000, min=1, max=1_000_000, description="steps",
                                                         layout=dict(width="170px")), "mw-steps")
        self.seed_box = tagged(widgets.IntText(value=0, description="seed", layout=dict(width="130px")), "mw-seed")
        self.controls = RunButtons(self._on_run, lambda _button: self.reset(), lambda: self.runner)
        self.run_button, self.pause_button, self.stop_button, self.reset_button = self.controls.buttons
        self.evaluate_button = tagged(widgets.Button(description="Evaluate", icon="calculator"), "mw-evaluate")
        self.step_readout = tagged(widgets.HTML("0", description="step"), "mw-step")
        self.energy_readout = tagged(widgets.HTML("–", description="E [Ha]"), "mw-energy")
        self.acceptance_readout = tagged(widgets.HTML("–", description="accepted"), "mw-acceptance")
        self.variance_readout = tagged(widgets.HTML("–", description="var E_L"), "mw-variance")
        self.status = self.controls.status
        self.result = tagged(widgets.HTML(""), "mw-vmc-result")
        self.message = message_line()
        self._evaluation = LatestOnly(lambda error: show_message(self.message, f"{type(error).__name__}: {error}"))

        self.evaluate_button.on_click(self._on_evaluate)
        self.system_picker.observe(self._on_system, names="value")
        self.optimizer_picker.observe(self._on_optimizer, names="value")
        self._use_recipe(system)

        self.energy_figure, self._step_scale, self._energy_scale = curve_figure(
            "energy", "iteration", "batch mean of E_L [hartree]", css_class="mw-energy-figure")
        self.energy_line = bqplot.Lines(x=np.zeros(0), y=np.zeros(0), colors=["#1f77b4"], labels=["⟨E_L⟩"],
                                        scales=dict(x=self._step_scale, y=self._energy_scale))
        self.reference_lines = bqplot.Lines(x=np.zeros(2), y=np.zeros((2, 2)), colors=["black", "#d62728"],
                                            line_style="dashed", labels=["exact", "Hartree-Fock"],
                                            scales=dict(x=self._step_scale, y=self._energy_scale))
        self.energy_figure.marks = [self.energy_line, self.reference_lines]

        self._x_scale, self._z_scale = bqplot.LinearScale(min=-4.0, max=4.0), bqplot.LinearScale(min=-4.0, max=4.0)
        scales = dict(x=self._x_scale, y=self._z_scale)
        self.up_electrons = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), colors=["#1f77b4"], default_size=8,
                                           opacities=[0.5], scales=scales)
        self.down_electrons = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), colors=["#d62728"], default_size=8,
                                             opacities=[0.5], scales=scales)
        self.nuclei = bqplot.Scatter(x=np.zeros(0), y=np.zeros(0), colors=["black"], default_size=80, marker="circle",
                                     scales=scales)
        self.walker_figure = bqplot.Figure(
            marks=[self.up_electrons, self.down_electrons, self.nuclei], title_style=dict(TITLE_STYLE), title="walkers (x-z plane)",
            axes=[bqplot.Axis(scale=self._x_scale, label="x [bohr]"),
                  bqplot.Axis(scale=self._z_scale, side="left", label="z [bohr]")],
            layout=dict(width="380px", height="380px"), fig_margin=dict(top=40, bottom=45, left=55, right=20),
            animation_duration=0)
        self.walker_figure.add_class("mw-walker-figure")

        self._settings = (self.system_picker, self.walkers_box, self.optimizer_picker, self.rate_box,
                          self.pretrain_box, self.seed_box)
        self.children = [
            widgets.HBox([self.system_picker, self.walkers_box, self.steps_box, self.seed_box]),
            widgets.HBox([self.optimizer_picker, self.rate_box, self.pretrain_box]),
            widgets.HBox([self.run_button, self.pause_button, self.stop_button, self.reset_button, self.evaluate_button]),
            widgets.HBox([self.step_readout, self.energy_readout, self.acceptance_readout, self.variance_readout,
                          self.status]),
            self.controls.progress.line, self.message, self.result,
            widgets.HBox([widgets.VBox([legend([("⟨E_L⟩", "#1f77b4", False), ("exact", "black", True),
                                                ("Hartree-Fock", "#d62728", True)], "mw-energy-legend"),
                                        self.energy_figure]),
                          widgets.VBox([legend([("spin up", "#1f77b4", False), ("spin down", "#d62728", False),
                                                ("nuclei", "black", False)], "mw-walker-legend"),
                                        self.walker_figure])]),
        ]
        self.reset(prepare)

    # -- control ------------------------------------------------------------------------------------------------
    @property
    def system(self):
        return SYSTEMS[self.system_picker.value]

    @property
    def vmc(self) -> Optional[VMC]:
        """The current run (None until it has been built in the worker)."""
        return self.runner.driver if self.runner is not None else None

    def _use_recipe(self, name: str) -> None:
        """Set the optimiser, its rate and the pretraining to the system's recipe (:data:`~magwidgets.vmc.RECIPES`).

        Without PySCF the recipe runs without pretraining, and the message line says how to install it.
        """
        optimizer, pretraining = RECIPES.get(name, DEFAULT_RECIPE)
        if pretraining and not pyscf_available():
            show_message(self.message, f"{PYSCF_MISSING}. Until then {name} starts without pretraining: expect a "
                                       "slower and less accurate run.", "info")
            pretraining = 0
        elif "[vmc] extra" in self.message.value:  # the hint was for the previous system
            show_message(self.message, "")
        self._choosing_recipe = True
        try:
            self.optimizer_picker.value, self.rate_box.value = optimizer, DEFAULT_RATES[optimizer]
            self.pretrain_box.value = pretraining
        finally:
            self._choosing_recipe = False

    def _on_system(self, change) -> None:
        self._use_recipe(change["new"])
        self.reset(self.prepare)

    def _on_optimizer(self, change) -> None:
        if not self._choosing_recipe:
            self.rate_box.value = DEFAULT_RATES[change["new"]]
            self.reset(self.prepare)

    def _new_runner(self) -> LiveRun:
        system, walkers = self.system, int(self.walkers_box.value)
        optimizer, rate = self.optimizer_picker.value, float(self.rate_box.value)
        pretraining, seed = int(self.pretrain_box.value), int(self.seed_box.value)

        def build() -> VMC:
            run = VMC(system, walkers=walkers, optimizer=optimizer, learning_rate=rate, seed=seed, snapshot_every=5)
            if pretraining:   # in the worker, like compilation: the panel stays responsive
                self.controls.progress.step(f"preparing the run: fitting the orbitals to Hartree-Fock's "
                                            f"({pretraining} iterations)")
                run.pretrain(pretraining)
                self.controls.progress.step("preparing the run: compiling one iteration")
            return run

        self.runner = LiveRun(build, self._render, self._on_state, min_interval=self.min_interval)
        return self.runner

    def _on_run(self, _button=None) -> None:
        show_message(self.message, "")
        if self.runner is None:
            self._new_runner()
        self.runner.run(int(self.steps_box.value))

    def reset(self, prepare: bool = True) -> None:
        """Discard the run (settings stay), draw the chosen system's references and nuclei, and (with ``prepare``)
        build and compile the next run in the background."""
        if self.runner is not None:
            self.runner.cancel()
            self.runner = None
        system = self.system
        self.step_readout.value, self.energy_readout.value = "0", "–"
        self.acceptance_readout.value = self.variance_readout.value = "–"
        self.result.value = ""
        self.energy_line.x, self.energy_line.y = np.zeros(0), np.zeros(0)
        self._energy_scale.min, self._energy_scale.max = energy_window(np.zeros(0), system)
        self.nuclei.x, self.nuclei.y = system.positions[:, 0], system.positions[:, 2]
        extent = float(np.abs(system.positions).max()) + 4.0
        self._x_scale.min, self._x_scale.max = -extent, extent
        self._z_scale.min, self._z_scale.max = -extent, extent
        self.up_electrons.x = self.up_electrons.y = self.down_electrons.x = self.down_electrons.y = np.zeros(0)
        self._set_buttons("idle")
        runner = self._new_runner()
        if prepare:
            runner.prepare()

    def _on_evaluate(self, _button=None) -> None:
        run = self.vmc
        if run is None or self.runner.busy:
            show_message(self.message, "Stop the run first: Evaluate measures a frozen wavefunction.", "info")
            return
        system = self.system
        self.result.value = "evaluating (200 iterations of the frozen wavefunction) ..."

        def evaluate():
            evaluation = run.evaluate(200)
            self.result.value = (f"E = {evaluation.energy:.5f} ± {evaluation.error:.5f} Ha after {run.step} iterations; "
                                 f"exact {system.exact:.6f}: {1000 * (evaluation.energy - system.exact):+.2f} mHa, "
                                 f"Hartree-Fock {system.hartree_fock:.6f}")

        self._evaluation.submit(evaluate, "evaluate")

    # -- rendering (worker thread) ------------------------------------------------------------------------------
    def _on_state(self, state: str, message: Optional[str]) -> None:
        self._set_buttons(state, message)
        run = self.vmc
        if state == "ready" and run is not None and run.pretraining_loss.size:
            loss = run.pretraining_loss
            self.result.value = (f"orbitals pretrained to Hartree-Fock in {loss.size} iterations: "
                                 f"orbital loss {loss[0]:.3g} → {loss[-1]:.3g}")
        if state == "failed":
            show_message(self.message, f"The run stopped with an error: {message}. Run continues from the last "
                                       "good parameters, Reset starts over.")

    def _set_buttons(self, state: str, message: Optional[str] = None) -> None:
        self.controls.show(state, self._settings + (self.steps_box,), message)
        self.evaluate_button.disabled = state not in ("stopped", "finished", "ready")

    def _render(self, snapshot: VMCSnapshot, run: VMC) -> None:
        with self._frame_lock:
            system = self.system
            energy = run.history()["energy"]
            stride = max(1, len(energy) // MAX_PLOTTED_STEPS)
            with self.energy_line.hold_sync(), self._energy_scale.hold_sync():
                self.energy_line.x = np.arange(len(energy))[::stride].astype(float)
                self.energy_line.y = energy[::stride]
                self._energy_scale.min, self._energy_scale.max = energy_window(energy, system)
            last = float(max(len(energy), 1))
            with self.reference_lines.hold_sync():
                self.reference_lines.x = np.array([0.0, last])
                self.reference_lines.y = np.array([[system.exact] * 2, [system.hartree_fock] * 2])
            walkers = snapshot.walkers
            with self.up_electrons.hold_sync(), self.down_electrons.hold_sync():
                self.up_electrons.x = walkers[:, :system.n_up, 0].ravel()
                self.up_electrons.y = walkers[:, :system.n_up, 2].ravel()
                self.down_electrons.x = walkers[:, system.n_up:, 0].ravel()
                self.down_electrons.y = walkers[:, system.n_up:, 2].ravel()
            self.step_readout.value = str(snapshot.step)
            if np.isfinite(snapshot.energy):
                self.energy_readout.value = f"{snapshot.energy:.4f}"
                self.acceptance_readout.value = f"{snapshot.acceptance:.2f}"
                self.variance_readout.value = f"{snapshot.variance:.3g}"


def energy_window(energy: np.ndarray, system: System) -> tuple[float, float]:
    """The energy axis: the exact and Hartree-Fock lines with room above them, widened to take in the later half of
    the iterations (a run starts far above both, so its curve is on screen from the first step and the view closes
    in on the lines as it converges)."""
    gap = system.hartree_fock - system.exact
    low, high = system.exact - 0.5 * gap - 0.005, system.hartree_fock + 3 * gap + 0.05
    finite = np.asarray(energy, float)
    finite = finite[np.isfinite(finite)]
    if finite.size:
        recent = finite[finite.size // 2:]
        low, high = min(low, float(recent.min())), max(high, float(np.quantile(recent, 0.95)))
    return float(low), float(high)
