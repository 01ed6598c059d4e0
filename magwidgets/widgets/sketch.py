"""The potential sketcher: paint the on-site potential V(x, y) of a wire by clicking its sites.

The map shows x (along the wire, leads at left and right) horizontally and y (across) vertically with y = 0 at
the bottom. Blue is a negative potential (a well), red a positive one (a barrier or antidot), white zero; the
colour limits are symmetric and follow the data. Every change is undoable.
"""
from __future__ import annotations

from collections import deque
from typing import Optional

import bqplot
import ipywidgets as widgets
import numpy as np
import traitlets

from ..core import Wire
from ..core.potentials import PRESETS, gaussian_antidot, onsite_energy, preset_potential
from ..io.potentials import potential_to_csv, potential_to_npy, read_potential, validate_potential
from ._common import download_link, message_line, read_upload, show_message
from .maps import TITLE_STYLE, DIVERGING_COLOURS, ColourBar, site_ticks

HISTORY_LENGTH = 100
"""How many steps :meth:`PotentialSketcher.undo` can go back."""

TOOLS = (("Raise", "raise"), ("Lower", "lower"), ("Antidot", "antidot"), ("Erase", "erase"))



class PotentialSketcher(widgets.VBox):
    """A panel to sketch the potential V(x, y) of a wire on top of its clean on-site energy.

    Parameters
    ----------
    wire : Wire
        The wire whose sites are painted (at least 2 x 2 sites).
    potential : numpy.ndarray, optional
        The starting V, shape (L, W) indexed ``[x, y]``, in units of t; zero when omitted.

    Attributes
    ----------
    potential : numpy.ndarray
        The sketched V (float64, shape (L, W), read-only: change it with :meth:`set_potential`, :meth:`paint`,
        :meth:`apply_preset` or :meth:`load`, which keep the map, the export links and the undo history in step).
    figure : bqplot.Figure
        The map (CSS class ``mw-potential-figure``); clicking a cell calls :meth:`paint` at that site.
    tool, radius, strength : ipywidgets widgets
        The brush: what a click does, its radius in sites and its strength in units of t.
    message : ipywidgets.HTML
        The panel's message line.

    Notes
    -----
    Brushes, for a click at site (x0, y0) with d the distance from it in lattice constants:

    - "raise" / "lower": V += +/- strength * exp(-d^2 / radius^2);
    - "antidot": V = max(V, strength * exp(-d^2 / radius^2)), the Gaussian scatterer of seed 000 eq. 5;
    - "erase": V = 0 where d <= radius.
    """

    potential = traitlets.Any()

    def __init__(self, wire: Wire = Wire(30, 30), potential: Optional[np.ndarray] = None):
        self._wire = self._checked_wire(wire)
        self._undo_stack: deque = deque(maxlen=HISTORY_LENGTH)
        self._redo_stack: deque = deque(maxlen=HISTORY_LENGTH)
        start = self._zeros() if potential is None else validate_potential(potential, self._shape)

        self.tool = widgets.ToggleButtons(options=TOOLS, value="raise", description="Brush",
                                          tooltips=["Add a Gaussian bump", "Add a Gaussian dip",
                                                    "Stamp a Gaussian antidot", "Set sites back to 0"],
                                          style=dict(button_width="76px"))
        self.tool.add_class("mw-brush")
        self.radius = widgets.FloatSlider(value=2.0, min=0.5, max=8.0, step=0.5, description="Radius")
        self.radius.add_class("mw-brush-radius")
        self.strength = widgets.FloatSlider(value=2.0, min=0.1, max=20.0, step=0.1, description="Strength (t)")
        self.strength.add_class("mw-brush-strength")

        self.undo_button = widgets.Button(description="Undo", icon="undo", disabled=True)
        self.undo_button.add_class("mw-undo")
        self.undo_button.on_click(lambda _: self.undo())
        self.redo_button = widgets.Button(description="Redo", icon="repeat", disabled=True)
        self.redo_button.add_class("mw-redo")
        self.redo_button.on_click(lambda _: self.redo())

        self.preset = widgets.Dropdown(options=[(preset.label, name) for name, preset in PRESETS.items()],
                                      value="antidot", description="Preset")
        self.preset.add_class("mw-preset")
        self.apply_button = widgets.Button(description="Apply")
        self.apply_button.add_class("mw-preset-apply")
        self.apply_button.on_click(lambda _: self._apply_chosen_preset())
        self.disorder_strength = widgets.BoundedFloatText(value=1.0, min=0.0, max=100.0, step=0.1,
                                                          description="Disorder (t)")
        self.disorder_strength.add_class("mw-disorder-strength")
        self.disorder_seed = widgets.BoundedIntText(value=0, min=0, max=2**31 - 1, description="Seed")
        self.disorder_seed.add_class("mw-disorder-seed")
        self._disorder_controls = widgets.HBox([self.disorder_strength, self.disorder_seed])
        self.preset.observe(lambda _: self._show_preset_controls(), names="value")
        self._show_preset_controls()

        self.upload = widgets.FileUpload(accept=".npy,.csv", multiple=False, description="Load V")
        self.upload.add_class("mw-potential-upload")
        self.upload.observe(lambda _: self._load_upload(), names="value")
        self.export = widgets.HTML("")
        self.export.add_class("mw-potential-export")
        self.message = message_line()

        self._build_figure(start)
        super().__init__(children=[
            widgets.HBox([self.figure, self._colour_bar.widget]),
            widgets.HBox([self.tool]),
            widgets.HBox([self.radius, self.strength]),
            widgets.HBox([self.undo_button, self.redo_button, self.preset, self.apply_button]),
            self._disorder_controls,
            widgets.HBox([self.upload, self.export]),
            self.message,
        ])
        self.add_class("mw-potential-sketcher")
        self.layout.width = "470px"  # the map and its colour bar; the controls wrap below them
        for row in self.children[1:]:
            if isinstance(row, widgets.HBox):
                row.layout.flex_flow = "row wrap"
        self.potential = start

    # --- the state ----------------------------------------------------------------------------------------------

    @property
    def wire(self) -> Wire:
        """The wire being sketched on."""
        return self._wire

    @property
    def onsite(self) -> np.ndarray:
        """The full on-site energy h(x, y) = background(wire) + V(x, y) that the solvers take, shape (L, W)."""
        return onsite_energy(self._wire, self.potential)

    @property
    def _shape(self) -> tuple[int, int]:
        return (self._wire.length, self._wire.width)

    def _zeros(self) -> np.ndarray:
        return np.zeros(self._shape)

    @staticmethod
    def _checked_wire(wire: Wire) -> Wire:
        if not isinstance(wire, Wire):
            raise ValueError(f"expected a magwidgets Wire, got {type(wire).__name__}")
        # bqplot squeezes a colour array with a length-1 axis to 1-D, which the grid map cannot draw.
        if wire.length < 2 or wire.width < 2:
            raise ValueError(f"the sketcher needs a wire of at least 2 x 2 sites, got {wire.length} x {wire.width}")
        return wire

    @traitlets.validate("potential")
    def _validate_potential(self, proposal) -> np.ndarray:
        array = validate_potential(proposal["value"], self._shape)
        # Read-only, because an in-place edit would bypass the map, the export links and the undo history.
        array.flags.writeable = False
        return array

    def set_wire(self, wire: Wire, potential: Optional[np.ndarray] = None) -> None:
        """Sketch on another wire (for instance a 12 x 12 one for another task); clears the undo history.

        Parameters
        ----------
        wire : Wire
            The new wire, at least 2 x 2 sites.
        potential : numpy.ndarray, optional
            Its starting V, shape (length, width); zero when omitted.
        """
        wire = self._checked_wire(wire)
        shape = (wire.length, wire.width)
        start = np.zeros(shape) if potential is None else validate_potential(potential, shape)
        self._wire = wire
        self._undo_stack.clear()
        self._redo_stack.clear()
        self._set_map_grid()
        self.potential = start
        self._refresh_history_buttons()

    def set_potential(self, potential: np.ndarray, record: bool = True) -> None:
        """Replace the sketched potential.

        Parameters
        ----------
        potential : array_like
            The new V, shape (L, W) indexed ``[x, y]``, finite, in units of t.
        record : bool
            Whether :meth:`undo` can bring the previous potential back.

        Raises
        ------
        ValueError
            For another shape or NaN/infinite values (the message names the expected shape); nothing changes.
        """
        checked = validate_potential(potential, self._shape)
        if record:
            self._undo_stack.append(self.potential)
            self._redo_stack.clear()
        self.potential = checked
        self._refresh_history_buttons()

    # --- painting -----------------------------------------------------------------------------------------------

    def paint(self, x: int, y: int) -> None:
        """Apply the current brush (``tool``, ``radius``, ``strength``) once, centred on site (x, y).

        Parameters
        ----------
        x, y : int
            The site: 0 <= x < L along the wire, 0 <= y < W across it.
        """
        length, width = self._shape
        if not (0 <= x < length and 0 <= y < width):
            raise ValueError(f"site ({x}, {y}) is outside the {length} x {width} wire")
        radius, strength = float(self.radius.value), float(self.strength.value)
        old = self.potential
        if self.tool.value == "raise":
            new = old + gaussian_antidot(self._wire, x, y, amplitude=strength, radius=radius)
        elif self.tool.value == "lower":
            new = old - gaussian_antidot(self._wire, x, y, amplitude=strength, radius=radius)
        elif self.tool.value == "antidot":
            new = np.maximum(old, gaussian_antidot(self._wire, x, y, amplitude=strength, radius=radius))
        else:
            distance_squared = (np.arange(length)[:, None] - x) ** 2 + (np.arange(width)[None, :] - y) ** 2
            new = np.where(distance_squared <= radius**2, 0.0, old)
        self.set_potential(new)

    def _on_cell_click(self, _mark, content: dict) -> None:
        # Rows of the map are y and columns are x (the colour array is V transposed).
        try:
            x, y = int(content["data"]["columnNum"]), int(content["data"]["rowNum"])
            self.paint(x, y)
        except (KeyError, TypeError, ValueError) as error:
            show_message(self.message, f"Could not paint there: {error}", "error")

    # --- history ------------------------------------------------------------------------------------------------

    def undo(self) -> None:
        """Go back to the potential before the last change (nothing happens when there is none)."""
        if self._undo_stack:
            self._redo_stack.append(self.potential)
            self.potential = self._undo_stack.pop()
            self._refresh_history_buttons()

    def redo(self) -> None:
        """Re-apply the change that :meth:`undo` took back (nothing happens when there is none)."""
        if self._redo_stack:
            self._undo_stack.append(self.potential)
            self.potential = self._redo_stack.pop()
            self._refresh_history_buttons()

    def _refresh_history_buttons(self) -> None:
        self.undo_button.disabled = not self._undo_stack
        self.redo_button.disabled = not self._redo_stack

    # --- presets ------------------------------------------------------------------------------------------------

    def apply_preset(self, name: str, **options) -> None:
        """Replace the potential by a ready-made landscape (undoable).

        Parameters
        ----------
        name : {"clean", "antidot", "disorder", "ring"}
            "clean": V = 0. "antidot": one Gaussian antidot, by default of amplitude 10 t and radius 2 at
            (L // 2, round(W / 3)) (seed 000's defect at (15, 10) in a 30 x 30 wire). "disorder": Anderson
            disorder of width ``strength`` (default: the panel's control) drawn with ``seed`` (default: the
            panel's control); the same seed gives the same sample. "ring": an Aharonov-Bohm ring.
        **options
            Passed to :func:`~magwidgets.core.potentials.gaussian_antidot` (``x``, ``y``, ``amplitude``,
            ``radius``), :func:`~magwidgets.core.potentials.anderson_disorder` (``strength``, ``seed``) or
            :func:`~magwidgets.core.potentials.aharonov_bohm_ring` (``inner_radius``, ``outer_radius``,
            ``height``).
        """
        if name == "disorder":
            # the controls show the sample on the map, so that it can be drawn again
            options.setdefault("strength", float(self.disorder_strength.value))
            options.setdefault("seed", int(self.disorder_seed.value))
        try:
            new = preset_potential(name, self._wire, **options)
        except TypeError as error:  # an option the preset does not take
            raise TypeError(f"preset {name!r}: {error}") from None
        if name == "disorder":
            self.disorder_strength.value, self.disorder_seed.value = options["strength"], options["seed"]
        self.set_potential(new)
        self.preset.value = name  # the chooser names what is on the map

    def _apply_chosen_preset(self) -> None:
        try:
            self.apply_preset(self.preset.value)
        except ValueError as error:
            show_message(self.message, str(error), "error")
            return
        show_message(self.message, f"Applied preset: {self.preset.label}.", "info")

    def _show_preset_controls(self) -> None:
        self._disorder_controls.layout.display = None if self.preset.value == "disorder" else "none"

    # --- files --------------------------------------------------------------------------------------------------

    def load(self, name: str, data: bytes) -> None:
        """Replace the potential by one read from a file's bytes (undoable).

        Parameters
        ----------
        name : str
            The file name, ending in ``.npy`` or ``.csv``.
        data : bytes
            The content: a ``.npy`` of shape (L, W) or a ``.csv`` of L lines of W comma-separated numbers
            (rows = x, columns = y), as :func:`~magwidgets.io.potentials.read_potential` reads them.

        Raises
        ------
        ValueError
            For anything else; the potential and the undo history stay as they were.
        """
        self.set_potential(read_potential(name, data, self._shape))

    def _load_upload(self) -> None:
        try:
            upload = read_upload(self.upload)
            if upload is None:
                return
            name, data = upload
            self.load(name, data)
        except ValueError as error:
            show_message(self.message, f"Could not load the file: {error}", "error")
        else:
            length, width = self._shape
            show_message(self.message, f"Loaded {name} ({length} x {width}).", "info")
        finally:
            # Forget the bytes (up to the upload limit per visitor) and let the same file be chosen again.
            if self.upload.value:
                self.upload.value = ()

    def _refresh_export(self) -> None:
        potential = self.potential
        self.export.value = " ".join([
            download_link(potential_to_npy(potential), "potential.npy", "Download V (.npy)"),
            download_link(potential_to_csv(potential), "potential.csv", "Download V (.csv)", mime="text/csv"),
        ])

    # --- the map ------------------------------------------------------------------------------------------------

    def _build_figure(self, potential: np.ndarray) -> None:
        x_scale = bqplot.LinearScale(allow_padding=False)
        y_scale = bqplot.LinearScale(allow_padding=False)
        self._colour_scale = bqplot.ColorScale(colors=DIVERGING_COLOURS, mid=0.0, min=-1.0, max=1.0)
        length, width = potential.shape
        # Cell edges at half-integers: site x is drawn from x - 1/2 to x + 1/2, so ticks fall on sites.
        self.heatmap = bqplot.GridHeatMap(
            color=np.ascontiguousarray(potential.T), column=np.arange(length + 1) - 0.5,
            row=np.arange(width + 1) - 0.5, stroke=None,
            scales={"column": x_scale, "row": y_scale, "color": self._colour_scale},
            interactions={},  # no 'select': its `selected` trait is broken with ipywidgets 8 (bqplot #1632)
        )
        self.heatmap.on_element_click(self._on_cell_click)
        self._x_axis = bqplot.Axis(scale=x_scale, label="x (along the wire)", tick_values=site_ticks(length))
        self._y_axis = bqplot.Axis(scale=y_scale, label="y (across)", side="left", tick_values=site_ticks(width))
        self.figure = bqplot.Figure(marks=[self.heatmap], axes=[self._x_axis, self._y_axis], padding_x=0.0,
                                    padding_y=0.0, animation_duration=0, title_style=dict(TITLE_STYLE), title="sample: potential V (click to draw)",
                                    fig_margin=dict(top=40, bottom=50, left=55, right=20),
                                    layout=widgets.Layout(width="380px", height="360px"))
        self.figure.add_class("mw-potential-figure")
        self._colour_bar = ColourBar(DIVERGING_COLOURS, "V (t)", height=230)

    def _set_map_grid(self) -> None:
        length, width = self._shape
        with self.heatmap.hold_sync():
            # The colour array first: bqplot checks row and column against its shape.
            self.heatmap.color = self._zeros().T
            self.heatmap.row = np.arange(width + 1) - 0.5
            self.heatmap.column = np.arange(length + 1) - 0.5
        self._x_axis.tick_values, self._y_axis.tick_values = site_ticks(length), site_ticks(width)

    @traitlets.observe("potential")
    def _redraw(self, change) -> None:
        potential = change["new"]
        limit = max(1.0, float(np.max(np.abs(potential))))
        with self.heatmap.hold_sync(), self._colour_scale.hold_sync():
            self._colour_scale.min, self._colour_scale.max = -limit, limit
            self.heatmap.color = np.ascontiguousarray(potential.T)
        self._colour_bar.show(-limit, limit)
        self._refresh_export()
