"""The target panel: draw, load or trace the G(B) an inverse design should reproduce.

A target is a conductance curve on a fixed flux grid (flux = B a^2 / (h/e), G in e^2/h) with weights: 1 where the
target counts, 0 where it is masked (a measurement that does not cover the point). It can be drawn with the mouse
(bqplot ``HandDraw``), loaded from a measured CSV, traced from a photograph's silhouette as seed 000 did for the
Colosseum and the reclining Buddha, or taken from the built-in shapes of :data:`magwidgets.design.config.CURVES`.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, Optional

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets
from bqplot.interacts import HandDraw
from scipy.ndimage import gaussian_filter1d

from ..design.config import CURVES
from ..design.problem import SEED000
from ..io.measured import curves_to_csv, read_conductance_csv, trace_silhouette
from ._common import download_link, message_line, read_upload, show_message
from .maps import TITLE_STYLE

FLUX_LABEL = "Φ / Φ0 = B a² / (h/e)"
CONDUCTANCE_LABEL = "G [e²/h]"
MAX_UNDO = 100


class TargetSketcher(widgets.VBox):
    """A target G(B) to draw with the mouse, load from a measurement, trace from a picture, smooth and undo.

    Parameters
    ----------
    flux : ndarray, shape (n_flux,)
        The flux grid B a^2 / (h/e), strictly increasing; fixed for the panel's lifetime (a stroke only rewrites
        G at existing grid points). Default: seed 000's sweep, pi B a^2 / phi_0 from 0 to 0.12 in 101 points.
    target : ndarray, shape (n_flux,), optional
        The initial G in e^2/h; NaN marks masked points. Default: ``CURVES["arches"]`` across the grid.
    conductance_range : (float, float)
        The G range of the figure's y axis, in e^2/h; also the bottom and top of a traced picture.

    Attributes
    ----------
    target : ndarray, shape (n_flux,)
        G in e^2/h on the flux grid, NaN where masked. Read-only arrays; change it with :meth:`set_target`.
    weights : ndarray, shape (n_flux,)
        1.0 where the target counts, 0.0 at masked points.
    flux : ndarray, shape (n_flux,)
        The grid.
    figure : bqplot.Figure
        CSS class ``mw-target-figure``. Other panels may append marks on :attr:`x_scale` and :attr:`y_scale`;
        the target line stays first in ``figure.marks``.
    x_scale, y_scale : bqplot.LinearScale
        Flux and conductance scales; the conductance scale is pinned to ``conductance_range``.
    target_line : bqplot.Lines
        The drawable target; masked points are NaN in its ``y`` and show as gaps.

    Notes
    -----
    A stroke over masked points unmasks them: the user has drawn a value there. Every change made through the
    panel (strokes, loads, shapes, smoothing) can be undone, up to the last 100.
    """

    target = traitlets.Any()
    weights = traitlets.Any()

    def __init__(self, flux: np.ndarray = SEED000.flux, target: Optional[np.ndarray] = None,
                 conductance_range: tuple[float, float] = (0.0, 12.0)) -> None:
        super().__init__()
        flux = np.array(flux, dtype=float)
        if flux.ndim != 1 or flux.size < 2 or not np.all(np.isfinite(flux)) or np.any(np.diff(flux) <= 0):
            raise ValueError(f"flux: expected a strictly increasing 1-D grid of at least 2 finite values, "
                             f"got shape {flux.shape}")
        flux.setflags(write=False)
        low, high = (float(value) for value in conductance_range)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"conductance_range: expected finite (low, high) with low < high, got {conductance_range!r}")
        self.flux = flux
        self.conductance_range = (low, high)
        self._history: list[tuple[np.ndarray, np.ndarray]] = []
        self._writing_line = False

        self.x_scale = bqplot.LinearScale(min=float(flux[0]), max=float(flux[-1]))
        self.y_scale = bqplot.LinearScale(min=low, max=high)
        self.target_line = bqplot.Lines(x=flux, y=np.full(flux.shape, np.nan), labels=["target"],
                                        scales=dict(x=self.x_scale, y=self.y_scale), colors=["#1f77b4"],
                                        stroke_width=3)
        axes = [bqplot.Axis(scale=self.x_scale, label=FLUX_LABEL),
                bqplot.Axis(scale=self.y_scale, side="left", label=CONDUCTANCE_LABEL)]
        self.hand_draw = HandDraw(lines=self.target_line, line_index=0, min_x=float(flux[0]), max_x=float(flux[-1]))
        self.figure = bqplot.Figure(marks=[self.target_line], axes=axes, interaction=self.hand_draw,
                                    title_style=dict(TITLE_STYLE), title="target G(B): draw with the mouse", animation_duration=0,
                                    fig_margin=dict(top=40, bottom=50, left=55, right=20),
                                    layout=widgets.Layout(width="520px", height="320px"))
        self.figure.add_class("mw-target-figure")

        self.shape = widgets.Dropdown(options=sorted(CURVES), description="shape",
                                      layout=widgets.Layout(width="220px"))
        self.apply_shape_button = widgets.Button(description="Apply", tooltip="replace the target by this shape")
        self.undo_button = widgets.Button(description="Undo", icon="undo", disabled=True)
        self.undo_button.add_class("mw-target-undo")
        self.smooth_width = widgets.FloatSlider(value=2.0, min=0.5, max=10.0, step=0.5, description="width [pts]",
                                                tooltip="Gaussian standard deviation, in grid points")
        self.smooth_button = widgets.Button(description="Smooth")
        self.smooth_button.add_class("mw-smooth")
        self.csv_upload = widgets.FileUpload(accept=".csv,.txt,.dat,.tsv,text/csv,text/plain", multiple=False,
                                             description="measured CSV")
        self.csv_upload.add_class("mw-target-csv")
        self.field_unit = widgets.Dropdown(options=[("Φ/Φ0 per plaquette", "flux"), ("B [T]", "tesla")],
                                           value="flux", description="field", layout=widgets.Layout(width="220px"))
        self.conductance_unit = widgets.Dropdown(options=[("e²/h", "e2/h"), ("S", "siemens")], value="e2/h",
                                                 description="G", layout=widgets.Layout(width="150px"))
        self.lattice_constant = widgets.FloatText(value=0.0, description="a [nm]", disabled=True,
                                                  tooltip="lattice constant, needed for fields in tesla",
                                                  layout=widgets.Layout(width="160px"))
        self.image_upload = widgets.FileUpload(accept="image/*", multiple=False, description="picture")
        self.image_upload.add_class("mw-target-image")
        self.export = widgets.HTML("")
        self.export.add_class("mw-target-export")
        self.message = message_line()

        self.target_line.observe(self._on_stroke, names="y")
        self.apply_shape_button.on_click(lambda _: self._guarded(self.apply_shape, self.shape.value))
        self.undo_button.on_click(lambda _: self.undo())
        self.smooth_button.on_click(lambda _: self._guarded(self.smooth, self.smooth_width.value))
        self.csv_upload.observe(lambda _: self._from_upload(self.csv_upload, self._load_csv), names="value")
        self.image_upload.observe(lambda _: self._from_upload(self.image_upload, self._load_image), names="value")
        self.field_unit.observe(self._on_field_unit, names="value")

        self.children = [
            self.figure,
            widgets.HBox([self.shape, self.apply_shape_button, self.undo_button]),
            widgets.HBox([self.smooth_width, self.smooth_button]),
            widgets.HBox([self.csv_upload, self.field_unit, self.conductance_unit, self.lattice_constant]),
            widgets.HBox([self.image_upload, widgets.HTML("a dark object against a light sky; its top edge "
                                                          "becomes G(B)")]),
            self.export,
            self.message,
        ]
        if target is None:
            target = CURVES["arches"](self._u)
        self.set_target(target, record=False)

    @property
    def _u(self) -> np.ndarray:
        """The grid mapped onto [0, 1], the argument of the built-in shapes."""
        return (self.flux - self.flux[0]) / (self.flux[-1] - self.flux[0])

    def set_target(self, values: np.ndarray, weights: Optional[np.ndarray] = None, record: bool = True) -> None:
        """Replace the target and redraw it.

        Parameters
        ----------
        values : ndarray, shape (n_flux,)
            G in e^2/h. NaN is allowed only where the weight is 0 (it is masked); values at zero weight are
            stored as NaN.
        weights : ndarray, shape (n_flux,), optional
            Non-negative finite weights; default 1 where ``values`` is finite and 0 where it is NaN.
        record : bool
            Whether :meth:`undo` can return to the current target.

        Raises
        ------
        ValueError
            Wrong shape, infinite values, NaN where the weight is non-zero, negative or non-finite weights, or
            no point left with a non-zero weight.
        """
        try:
            values = np.array(values, dtype=float)
            weights = np.isfinite(values).astype(float) if weights is None else np.array(weights, dtype=float)
        except (TypeError, ValueError):
            raise ValueError("target: expected numeric arrays of G in e^2/h and weights") from None
        for name, array in (("target", values), ("weights", weights)):
            if array.shape != self.flux.shape:
                raise ValueError(f"{name}: expected shape {self.flux.shape} (one value per flux), got {array.shape}")
        if np.any(np.isinf(values)):
            raise ValueError("target: expected finite G (NaN marks a masked point), got inf")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0):
            raise ValueError("weights: expected finite non-negative numbers")
        missing = (weights > 0) & np.isnan(values)
        if np.any(missing):
            raise ValueError(f"target: NaN at flux {self.flux[missing][0]:.6g} where the weight is non-zero; "
                             "give weight 0 to mask a point")
        if not np.any(weights > 0):
            raise ValueError("weights: every point is masked; expected at least one point to fit")
        values[weights == 0] = np.nan
        values.setflags(write=False)
        weights.setflags(write=False)
        if record and self.target is not None:
            self._history = (self._history + [(self.target, self.weights)])[-MAX_UNDO:]
        with self.hold_trait_notifications():
            self.weights = weights
            self.target = values
        self._render()

    def load_csv(self, data: bytes) -> None:
        """Load a measured G(B) from CSV bytes with the panel's unit controls (field, G, lattice constant).

        See :func:`magwidgets.io.measured.read_conductance_csv`: values are interpolated onto the grid and grid points
        outside the measured field range are masked. Raises ValueError (and shows it) on bad input, leaving the
        target as it was.
        """
        self._load_csv(data, "CSV")

    def load_image(self, data: bytes) -> None:
        """Trace a picture's silhouette (a dark object against a light sky) across the whole grid.

        See :func:`magwidgets.io.measured.trace_silhouette`: the image's bottom maps to ``conductance_range[0]`` and its top
        to ``conductance_range[1]``. Raises ValueError (and shows it) on bad input, leaving the target as it was.
        """
        self._load_image(data, "picture")

    def apply_shape(self, name: str) -> None:
        """Replace the target by the built-in shape ``name`` of :data:`~magwidgets.design.config.CURVES`."""
        with self._reporting():
            if name not in CURVES:
                raise ValueError(f"shape: expected one of {sorted(CURVES)}, got {name!r}")
            self.set_target(CURVES[name](self._u), np.ones(self.flux.shape))
            show_message(self.message, f"target set to the built-in shape {name!r}", "info")

    def smooth(self, width: float) -> None:
        """Smooth the target with a Gaussian of standard deviation ``width`` grid points.

        Edges are reflected (half-sample symmetric), and masked points neither contribute nor get filled:
        G_s = (g * (w G)) / (g * w) at every point with w > 0, where g is the Gaussian and w the weights.
        A width of 0 leaves the target unchanged.
        """
        with self._reporting():
            width = float(width)
            if not np.isfinite(width) or width < 0:
                raise ValueError(f"smoothing width: expected a non-negative number of grid points, got {width!r}")
            if width == 0:
                return
            counted = self.weights > 0
            weighted = gaussian_filter1d(np.where(counted, self.target, 0.0) * self.weights, width, mode="reflect")
            normalisation = gaussian_filter1d(self.weights, width, mode="reflect")
            smoothed = np.full(self.flux.shape, np.nan)
            smoothed[counted] = weighted[counted] / normalisation[counted]
            self.set_target(smoothed, self.weights)
            show_message(self.message, f"smoothed over {width:g} grid points", "info")

    def undo(self) -> None:
        """Return to the target before the last change made through the panel."""
        if not self._history:
            show_message(self.message, "nothing to undo", "info")
            return
        values, weights = self._history.pop()
        self.set_target(values, weights, record=False)
        show_message(self.message, f"undone ({len(self._history)} more step(s) can be undone)", "info")

    # --- internals ------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reporting(self) -> Iterator[None]:
        """Show a ValueError in the panel's message line, then let it propagate to a Python caller."""
        try:
            yield
        except ValueError as error:
            show_message(self.message, str(error), "error")
            raise

    def _guarded(self, action, *args) -> None:
        """Run a button's action; its error is already on the message line, and a click has no caller to raise to."""
        try:
            action(*args)
        except ValueError:
            pass

    def _load_csv(self, data: bytes, source: str) -> None:
        with self._reporting():
            lattice_constant = self.lattice_constant.value if self.lattice_constant.value > 0 else None
            try:
                values, weights = read_conductance_csv(data, self.flux, field_unit=self.field_unit.value,
                                                       conductance_unit=self.conductance_unit.value,
                                                       lattice_constant_nm=lattice_constant)
            except ValueError as error:
                raise ValueError(f"{source}: {error}") from None
            self.set_target(values, weights)
            masked = int(np.sum(weights == 0))
            text = f"{source}: loaded G(B) onto {int(np.sum(weights > 0))} grid points"
            if masked:
                text += f", {masked} grid points outside the measured range are masked"
            show_message(self.message, text, "info")

    def _load_image(self, data: bytes, source: str) -> None:
        with self._reporting():
            try:
                values = trace_silhouette(data, self.flux.size, self.conductance_range)
            except ValueError as error:
                raise ValueError(f"{source}: {error}") from None
            self.set_target(values, np.ones(self.flux.shape))
            show_message(self.message, f"{source}: traced its silhouette onto {self.flux.size} grid points", "info")

    def _from_upload(self, upload: widgets.FileUpload, load) -> None:
        if not upload.value:
            return
        try:
            entry = read_upload(upload)
            if entry is not None:
                load(entry[1], entry[0])
        except ValueError as error:
            show_message(self.message, str(error), "error")
        finally:
            # Emptied so that giving the same file again is a change the kernel hears about.
            upload.value = ()

    def _on_stroke(self, change) -> None:
        if self._writing_line:
            return
        drawn = np.array(change["new"], dtype=float).reshape(-1)
        if drawn.shape != self.flux.shape:
            show_message(self.message, f"ignored a stroke with {drawn.size} points; the grid has {self.flux.size}",
                         "error")
            self._render()
            return
        finite = np.isfinite(drawn)
        weights = np.where(finite & (self.weights == 0), 1.0, self.weights)
        weights[~finite] = 0.0
        values = np.where(finite, drawn, np.nan)
        changed = int(np.sum(~((values == self.target) | (np.isnan(values) & np.isnan(self.target)))))
        if changed == 0:
            return
        try:
            self.set_target(values, weights)
        except ValueError as error:
            show_message(self.message, f"stroke ignored: {error}", "error")
            self._render()
            return
        show_message(self.message, f"drawn: {changed} grid point(s) changed", "info")

    def _on_field_unit(self, change) -> None:
        self.lattice_constant.disabled = change["new"] != "tesla"

    def _render(self) -> None:
        """Redraw the line (one message) and refresh the undo button and the export link."""
        with self.target_line.hold_sync():
            self._writing_line = True
            try:
                self.target_line.y = np.array(self.target)
            finally:
                self._writing_line = False
        self.undo_button.disabled = not self._history
        counted = self.weights > 0
        csv = curves_to_csv(self.flux[counted], target=self.target[counted])
        self.export.value = download_link(csv, "target.csv", f"download the target ({int(counted.sum())} points, CSV)",
                                          mime="text/csv")
