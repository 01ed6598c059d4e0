"""The fingerprint explorer: the forward problem, G(flux), G(flux, E) and wavefunction maps of one sample.

Two samples side by side make the point of universal conductance fluctuations: each disorder realisation has
its own G(flux) pattern, and the same realisation (same seed) always gives the same one. Sweeps run in a
background thread (:class:`~magwidgets.widgets._common.LatestOnly`), so dragging a slider never blocks the kernel.
"""
from __future__ import annotations

import threading
from typing import Optional

import bqplot
import ipywidgets as widgets
import numpy as np

from ..core import Wire
from ..core.potentials import PRESETS, preset_potential
from ..design.problem import SEED000, Measurement
from ._common import LatestOnly, ProgressLine, message_line, show_message
from .maps import TITLE_STYLE, VIRIDIS_COLOURS, ColourBar, SiteMap, curve_figure, legend
from .player import FieldPlayer
from .sketch import PotentialSketcher

SAMPLES = [(PRESETS[name].label, name) for name in ("disorder", "antidot", "ring", "clean")] + [("My sketch", "sketch")]
FLUX_LABEL = "Φ / Φ0 = B a² / (h/e)"
SAMPLE_COLOURS = ("#1f77b4", "#ff7f0e")


class FingerprintExplorer(widgets.VBox):
    """G(flux) fingerprints of two samples, the G(flux, E) map and the wavefunction intensity at a chosen point.

    Parameters
    ----------
    wire : Wire
        The wire (default 30 x 30 with square leads, seed 000).
    sketcher : PotentialSketcher, optional
        Where the "My sketch" preset reads its potential; by default a new one, shown under the controls while
        that preset is chosen. Every change of the sketch recomputes the fingerprints.
    n_flux, n_energy : int
        Points of the G(flux) curves and of the map's energy axis.
    start : bool
        Compute the first sweep now (the dashboard defers it until the explorer's tab is opened).

    Notes
    -----
    Samples A and B use the preset with seeds ``seed_a`` and ``seed_b`` (only disorder depends on the seed).
    :meth:`refresh` recomputes everything; ``wait()`` blocks until the background sweeps are done.
    """

    def __init__(self, wire: Wire = SEED000.wire, sketcher: Optional[PotentialSketcher] = None, n_flux: int = 101,
                 n_energy: int = 21, start: bool = True) -> None:
        super().__init__()
        self.add_class("mw-fingerprint-explorer")
        self.wire, self.n_flux, self.n_energy = wire, int(n_flux), int(n_energy)
        self.sketcher = sketcher if sketcher is not None else PotentialSketcher(wire)
        self.sketcher.observe(lambda change: self.preset.value == "sketch" and self.refresh(), names="potential")
        # the explorer's own sketcher is put on the page only while "My sketch" is chosen: a figure laid out
        # while hidden has no size
        self._owns_sketcher = sketcher is None
        self.sketch_area = widgets.VBox()
        self.message = message_line()
        # What is being computed: a new grid's leads take seconds (2121 points for the 30 x 30 map).
        self.progress = ProgressLine("mw-explorer-progress")
        self._compute = LatestOnly(self._failed)

        def control(widget, css_class):
            widget.add_class(css_class)
            widget.observe(lambda change: self.refresh(), names="value")
            return widget

        self.preset = control(widgets.Dropdown(options=SAMPLES, value="disorder", description="sample"),
                              "mw-explorer-preset")
        self.disorder = control(widgets.FloatSlider(value=1.5, min=0.0, max=5.0, step=0.1, description="disorder W",
                                                    continuous_update=False), "mw-explorer-disorder")
        self.seed_a = control(widgets.IntText(value=1, description="seed A", layout=dict(width="150px")), "mw-seed-a")
        self.seed_b = control(widgets.IntText(value=2, description="seed B", layout=dict(width="150px")), "mw-seed-b")
        band_top = 4.0 * wire.hopping if wire.lead == "square" else 2.0 * wire.hopping
        self.energy = control(widgets.FloatSlider(value=SEED000.energy, min=0.05, max=band_top - 0.05, step=0.05,
                                                  description="E / t", continuous_update=False), "mw-energy")
        self.flux_range = control(widgets.FloatRangeSlider(value=(0.0, float(SEED000.flux[-1])), min=0.0, max=0.1, step=0.001,
                                                           readout=False, description="Φ/Φ0 range",
                                                           continuous_update=False), "mw-flux-range")
        # the slider's own readout box is too narrow for two numbers; this one shows the whole range
        self.flux_readout = widgets.HTML(layout=dict(width="120px"))
        self.flux_readout.add_class("mw-flux-range-readout")
        self.flux_range.observe(lambda change: self._show_flux_range(), names="value")
        self._show_flux_range()
        self.point = widgets.IntSlider(value=self.n_flux // 2, min=0, max=self.n_flux - 1, description="Φ index",
                                       continuous_update=False)
        self.point.add_class("mw-explorer-point")
        self.point.observe(lambda change: self._on_point(), names="value")
        self.comparison = widgets.HTML("")
        self.comparison.add_class("mw-fingerprint-compare")

        figure, x_scale, y_scale = curve_figure("fingerprints G(Φ)", FLUX_LABEL, "G [e²/h]",
                                                css_class="mw-fingerprint-figure")
        self.curves = bqplot.Lines(x=np.zeros(0), y=np.zeros((2, 0)), colors=list(SAMPLE_COLOURS),
                                   labels=["sample A", "sample B"], scales=dict(x=x_scale, y=y_scale))
        self.curve_legend = legend([("sample A", SAMPLE_COLOURS[0], False), ("sample B", SAMPLE_COLOURS[1], False),
                                    ("Φ of the |ψ|² map", "#444444", True)], "mw-fingerprint-legend")
        self.marker = bqplot.Lines(x=np.zeros(2), y=np.zeros(2), colors=["#444444"], line_style="dashed",
                                   scales=dict(x=x_scale, y=y_scale))
        # a click on the curves picks the flux of the wavefunction map
        self.selector = bqplot.interacts.IndexSelector(scale=x_scale, marks=[self.curves])
        self.selector.observe(self._on_select, names="selected")
        figure.marks = [self.curves, self.marker]
        figure.interaction = self.selector
        self.curve_figure = figure

        self.map_x = bqplot.LinearScale()
        self.map_y = bqplot.LinearScale()
        self.map_colours = bqplot.ColorScale(colors=VIRIDIS_COLOURS)
        self.conductance_map = bqplot.HeatMap(x=np.arange(2.0), y=np.arange(2.0), color=np.zeros((2, 2)),
                                              scales=dict(x=self.map_x, y=self.map_y, color=self.map_colours))
        self.map_marker = bqplot.Lines(x=np.zeros(2), y=np.zeros(2), colors=["#ffffff"], line_style="dashed",
                                       scales=dict(x=self.map_x, y=self.map_y))
        self.map_figure = bqplot.Figure(
            marks=[self.conductance_map, self.map_marker], title_style=dict(TITLE_STYLE), title="sample A: G(Φ, E) [e²/h]", padding_x=0, padding_y=0,
            axes=[bqplot.Axis(scale=self.map_x, label=FLUX_LABEL),
                  bqplot.Axis(scale=self.map_y, side="left", label="E / t")],
            layout=dict(width="400px", height="300px"), fig_margin=dict(top=40, bottom=50, left=55, right=20),
            animation_duration=0)
        self.map_figure.add_class("mw-conductance-map")
        self.map_colour_bar = ColourBar(VIRIDIS_COLOURS, "G [e²/h]", height=170)
        shape = (wire.length, wire.width)
        self.potential_maps = [SiteMap(f"sample {name}: potential V", shape, symmetric=True, label="V (t)")
                               for name in "AB"]
        self.wavefunction_map = SiteMap("sample A: |ψ|²", shape, "mw-explorer-wavefunction", label="|ψ|²")
        # Play: |psi|^2 of sample A across the flux grid, with the markers on G(flux) and the map following it
        self.player = FieldPlayer(self.wavefunction_map, self._on_frame, "mw-explorer-player")

        controls = widgets.HBox([widgets.VBox([self.preset, self.disorder, widgets.HBox([self.seed_a, self.seed_b])]),
                                 widgets.VBox([self.energy, widgets.HBox([self.flux_range, self.flux_readout]),
                                               self.point])])
        self.children = [controls, self.sketch_area, self.message, self.progress.line, self.comparison,
                         widgets.HBox([widgets.VBox([self.curve_legend, self.curve_figure]),
                                       widgets.HBox([self.map_figure, self.map_colour_bar.widget])]),
                         widgets.HBox([self.potential_maps[0].widget, self.potential_maps[1].widget,
                                       widgets.VBox([self.wavefunction_map.widget, self.player.widget])],
                                      layout=dict(flex_flow="row wrap"))]
        self._samples: list[np.ndarray] = []
        self._curves = np.zeros((2, 0))
        self.started = False
        if start:
            self.refresh()

    # -- inputs -------------------------------------------------------------------------------------------------
    def _show_flux_range(self) -> None:
        low, high = self.flux_range.value
        self.flux_readout.value = f"{low:.3f} – {high:.3f}"

    @property
    def flux(self) -> np.ndarray:
        low, high = self.flux_range.value
        return np.linspace(low, high, self.n_flux)

    @property
    def energies(self) -> np.ndarray:
        return np.linspace(self.energy.min, self.energy.max, self.n_energy)

    def sample(self, seed: int) -> np.ndarray:
        """The potential V of the chosen preset; only disorder depends on ``seed``."""
        name = self.preset.value
        if name == "sketch":
            potential = np.array(self.sketcher.potential, float)
            if potential.shape != (self.wire.length, self.wire.width):
                raise ValueError(f"the sketch is {potential.shape[0]} x {potential.shape[1]} sites; the explorer's "
                                 f"wire is {self.wire.length} x {self.wire.width}")
            return potential
        if name == "disorder":
            return preset_potential(name, self.wire, strength=self.disorder.value, seed=seed)
        return preset_potential(name, self.wire)

    # -- computing (in the background thread) -------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute both samples' fingerprints, the map and the wavefunction (in the background)."""
        self.started = True
        if self._owns_sketcher:
            self.sketch_area.children = [self.sketcher] if self.preset.value == "sketch" else []
        self.disorder.disabled = self.seed_a.disabled = self.seed_b.disabled = self.preset.value != "disorder"
        show_message(self.message, "")
        self._compute.submit(self._update, "sweep")

    def wait(self, timeout: Optional[float] = 300.0) -> bool:
        return self._compute.wait(timeout)

    def _failed(self, error: Exception) -> None:
        self.progress.stop()
        show_message(self.message, f"{type(error).__name__}: {error}")

    def _update(self) -> None:
        flux, energies = self.flux, self.energies
        curve = Measurement(self.wire, flux, float(self.energy.value))
        grid = Measurement(self.wire, flux, energies)
        samples = [self.sample(self.seed_a.value), self.sample(self.seed_b.value)]
        self.progress.start(f"G(Φ) of samples A and B, and the G(Φ, E) map ({flux.size} x {energies.size} points)")
        self.map_figure.title = "sample A: G(Φ, E) [e²/h], computing…"

        computed: dict = {}

        def conductance_map() -> None:
            try:
                computed["map"] = grid.conductance(grid.onsite(samples[0]), progress=self.progress.report)
            except Exception as error:  # re-raised below, in the panel's compute thread, which shows it
                computed["error"] = error

        # The map is most of a new grid's cost (its 2121 lead points, then compiling and running its sweep): it is
        # computed alongside the curves, whose first call is mostly a compilation on one core.
        map_thread = threading.Thread(target=conductance_map, name="magwidgets-explorer-map", daemon=True)
        map_thread.start()
        curves = np.stack([curve.conductance(curve.onsite(v)) for v in samples])
        again = curve.conductance(curve.onsite(self.sample(self.seed_a.value)))
        self._samples, self._curves = samples, curves
        with self.curves.hold_sync():
            self.curves.x, self.curves.y = flux, curves
        for site_map, potential in zip(self.potential_maps, samples):
            site_map.show(potential)
        self.player.clear("Play: the frames are computed after the map")
        self.comparison.value = (
            f"Each sample has its own fingerprint: samples A and B differ by rms ΔG = "
            f"{np.sqrt(np.mean((curves[0] - curves[1]) ** 2)):.2f} e²/h. Drawn again from its seed, sample A gives "
            f"the same curve (max |ΔG| = {np.max(np.abs(again - curves[0])):.1e} e²/h): the pattern is reproducible.")
        self._update_wavefunction()
        if map_thread.is_alive():
            self.progress.step(f"G(Φ, E) map ({flux.size} x {energies.size} points)")
        map_thread.join()
        if "error" in computed:
            raise computed["error"]
        values = computed["map"]
        with self.conductance_map.hold_sync(), self.map_colours.hold_sync():
            self.conductance_map.x, self.conductance_map.y = flux, energies
            self.map_colours.min = float(values.min())
            self.map_colours.max = float(max(values.max(), values.min() + 1e-9))
            self.conductance_map.color = values.T
        self.map_colour_bar.show(self.map_colours.min, self.map_colours.max)
        self.map_figure.title = "sample A: G(Φ, E) [e²/h]"
        self.conductance_grid = values
        self._move_markers(self.point.value)
        self.progress.step(f"|ψ|² of sample A at {flux.size} fluxes, for Play")
        frames = curve.wavefunction_frames(curve.onsite(samples[0]), curve.energy)
        self.player.play.value = self.point.value  # Play starts where the Φ index slider is
        self.player.set_frames(flux, curve.energy, frames, "sample A: |ψ|²")
        self.progress.stop()

    def _update_wavefunction(self) -> None:
        if not self._samples:
            return
        flux = float(self.flux[self.point.value])
        energy = float(self.energy.value)
        measurement = Measurement(self.wire, flux, energy)
        intensity = measurement.wavefunction_intensity(measurement.onsite(self._samples[0]), flux, energy)
        self.wavefunction_map.show(np.asarray(intensity), f"sample A: |ψ|² at Φ/Φ0 = {flux:.4f}")
        self._move_markers(self.point.value)

    def _on_point(self) -> None:
        """The Φ index slider: the precomputed frame when there is one, else |ψ|² computed for that flux."""
        if len(self.player.frames) == self.n_flux:
            self.player.play.value = self.point.value
        else:
            self._compute.submit(self._update_wavefunction, "wavefunction")

    def _on_frame(self, index: int) -> None:
        self.point.value = index  # a frame of Play is the same point as the slider's
        self._move_markers(index)

    def _move_markers(self, index: int) -> None:
        """The dashed line on G(Φ) and on the G(Φ, E) map at the flux of the |ψ|² map."""
        flux = float(self.flux[index])
        top = float(np.max(self._curves)) if self._curves.size else 1.0
        with self.marker.hold_sync():
            self.marker.x, self.marker.y = np.array([flux, flux]), np.array([0.0, top])
        energies = self.energies
        with self.map_marker.hold_sync():
            self.map_marker.x, self.map_marker.y = np.array([flux, flux]), energies[[0, -1]]

    def _on_select(self, change) -> None:
        selected = change["new"]
        if selected is None or len(selected) == 0:
            return
        self.point.value = int(np.argmin(np.abs(self.flux - float(selected[0]))))
