"""Site-map and curve figures shared by the panels (bqplot), oriented as a physicist draws a wire.

x (along the wire, leads left and right) runs horizontally and y vertically with y = 0 at the bottom. Large or
animated maps use ``HeatMap`` (one canvas image per frame, cost set by pixels, not cells); colour limits are
pinned per frame inside ``hold_sync`` so that a frame is one message and colours do not jump mid-frame.

One look everywhere: potentials (and m_z) in one diverging palette (blue wells, white zero, red barriers),
intensities and conductances in viridis; colour bars are HTML next to the figure with three to five round ticks
(bqplot's own colour axis keeps 200 px of a figure's height for itself and squeezes its labels into a block);
site axes tick every 5 or 10 sites; legends are a line of HTML above the figure, so they cover no curve.
"""
from __future__ import annotations

import html
import math
from typing import Optional, Sequence

import bqplot
import ipywidgets as widgets
import numpy as np

FIGURE_LAYOUT = dict(width="300px", height="300px")
CURVE_LAYOUT = dict(width="440px", height="300px")
MARGIN = dict(top=40, bottom=50, left=55, right=20)
DIVERGING_COLOURS = ["#2166ac", "#ffffff", "#b2182b"]  # ColorBrewer RdBu ends: blue < 0 < red
VIRIDIS_COLOURS = ["#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30",
                   "#fde725"]
FONT = "font-family: sans-serif; font-size: 12px; color: #333333"
TITLE_STYLE = {"font-size": "14px"}


def nice_ticks(low: float, high: float, most: int = 5) -> np.ndarray:
    """At most ``most`` round values (1, 2 or 5 times a power of ten apart) within [low, high]."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return np.array([low])
    for factor in (1, 2, 5, 10, 20, 50, 100):
        step = factor * 10.0 ** math.floor(math.log10(span / most))
        ticks = np.arange(math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9) + 1) * step
        if len(ticks) <= most:
            return np.where(np.abs(ticks) < step * 1e-9, 0.0, ticks)
    return np.array([low, high])


def tick_text(value: float) -> str:
    """A tick label: few digits, no trailing zeros, no "-0"."""
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text


def site_ticks(count: int) -> list[float]:
    """Ticks along a site axis of ``count`` sites: every 5 or 10 sites, never more than four labels."""
    step = 5 if count <= 16 else 10 if count <= 40 else 20
    return [float(tick) for tick in range(0, count, step)]


class ColourBar:
    """A vertical colour bar in HTML: the palette from ``low`` (bottom) to ``high`` (top), round ticks, a label.

    ``widget`` is the HTML element to place next to a figure; :meth:`show` sets the limits (one message).
    """

    def __init__(self, colours: Sequence[str], label: str = "", height: int = 220, css_class: str = "") -> None:
        self.colours, self.label, self.height = list(colours), label, int(height)
        self.low, self.high = 0.0, 1.0
        self.widget = widgets.HTML(layout=dict(width="78px", min_width="78px"))
        self.widget.add_class("mw-colour-bar")
        if css_class:
            self.widget.add_class(css_class)
        self._render()

    def relabel(self, label: str) -> None:
        if label != self.label:
            self.label = label
            self._render()

    def show(self, low: float, high: float) -> None:
        if (low, high) != (self.low, self.high):
            self.low, self.high = float(low), float(high)
            self._render()

    def _render(self) -> None:
        gradient = ", ".join(self.colours[::-1])  # CSS runs top to bottom
        labels = []
        for tick in nice_ticks(self.low, self.high):
            fraction = (tick - self.low) / (self.high - self.low) if self.high > self.low else 0.5
            labels.append(f'<span class="mw-colour-tick" style="position: absolute; left: 20px; '
                          f'top: {(1 - fraction) * self.height - 7:.0f}px">{tick_text(tick)}</span>')
        self.widget.value = (
            f'<div style="{FONT}; padding-top: 30px">'
            f'<div class="mw-colour-label" style="margin-bottom: 4px; white-space: nowrap">'
            f'{html.escape(self.label)}</div>'
            f'<div style="position: relative; height: {self.height}px">'
            f'<div style="position: absolute; left: 0; top: 0; width: 14px; height: {self.height}px; '
            f'border: 1px solid #888888; box-sizing: border-box; background: linear-gradient({gradient})"></div>'
            + "".join(labels) + "</div></div>")


def legend_html(entries: Sequence[tuple[str, str, bool]]) -> str:
    """The HTML of a legend line: ``(label, colour, dashed)`` per curve."""
    items = [f'<span style="white-space: nowrap; margin-right: 14px"><svg width="26" height="10">'
             f'<line x1="0" y1="5" x2="26" y2="5" stroke="{colour}" stroke-width="2.5"'
             f'{" stroke-dasharray=&quot;5,3&quot;" if dashed else ""}/></svg> {html.escape(label)}</span>'
             for label, colour, dashed in entries]
    return f'<div style="{FONT}; padding-left: 55px">{"".join(items)}</div>'


def legend(entries: Sequence[tuple[str, str, bool]], css_class: str = "") -> widgets.HTML:
    """A legend line to put above a figure (:func:`legend_html`), so that it covers no curve."""
    line = widgets.HTML(legend_html(entries))
    line.add_class("mw-legend")
    if css_class:
        line.add_class(css_class)
    return line


class SiteMap:
    """A (L, W) site array drawn as a heat map with its colour bar; :meth:`show` replaces the data in one
    synchronised update. ``widget`` is the figure and its colour bar side by side."""

    def __init__(self, title: str, shape: tuple[int, int], css_class: Optional[str] = None,
                 symmetric: bool = False, label: str = "") -> None:
        self.symmetric = symmetric
        self.x_scale, self.y_scale = bqplot.LinearScale(), bqplot.LinearScale()
        # symmetric maps (potentials, m_z) share the sketcher's colours: red barriers, blue wells, white zero
        colours = DIVERGING_COLOURS if symmetric else VIRIDIS_COLOURS
        self.color_scale = bqplot.ColorScale(colors=colours, min=-1.0 if symmetric else 0.0, max=1.0,
                                             **(dict(mid=0.0) if symmetric else {}))
        self.heatmap = bqplot.HeatMap(x=np.arange(shape[0], dtype=float), y=np.arange(shape[1], dtype=float),
                                      color=np.zeros(shape[::-1]),
                                      scales=dict(x=self.x_scale, y=self.y_scale, color=self.color_scale))
        self.x_axis = bqplot.Axis(scale=self.x_scale, label="x (along the wire)", tick_values=site_ticks(shape[0]))
        self.y_axis = bqplot.Axis(scale=self.y_scale, side="left", label="y (across)",
                                  tick_values=site_ticks(shape[1]))
        self.figure = bqplot.Figure(marks=[self.heatmap], axes=[self.x_axis, self.y_axis], title=title,
                                    title_style=dict(TITLE_STYLE), layout=dict(FIGURE_LAYOUT), fig_margin=dict(MARGIN), padding_x=0, padding_y=0,
                                    animation_duration=0)
        if css_class:
            self.figure.add_class(css_class)
        plot_height = int(FIGURE_LAYOUT["height"][:-2]) - MARGIN["top"] - MARGIN["bottom"]
        self.colour_bar = ColourBar(colours, label, height=plot_height - 40)
        self.widget = widgets.HBox([self.figure, self.colour_bar.widget], layout=dict(flex="0 0 auto"))

    def show(self, values: np.ndarray, title: Optional[str] = None,
             limits: Optional[tuple[float, float]] = None) -> None:
        """Draw ``values`` (L, W); ``limits`` pins the colour range (the same for every frame of an animation)."""
        values = np.asarray(values, float)
        low, high = (float(np.min(values)), float(np.max(values))) if limits is None else map(float, limits)
        if self.symmetric:
            high = max(abs(low), abs(high), 1e-12)
            low = -high
        elif high - low < 1e-12:
            high = low + 1e-12
        with self.heatmap.hold_sync(), self.color_scale.hold_sync():
            if self.heatmap.color.shape != values.shape[::-1]:
                self.heatmap.x = np.arange(values.shape[0], dtype=float)
                self.heatmap.y = np.arange(values.shape[1], dtype=float)
                self.x_axis.tick_values = site_ticks(values.shape[0])
                self.y_axis.tick_values = site_ticks(values.shape[1])
            self.color_scale.min, self.color_scale.max = low, high
            self.heatmap.color = values.T
        self.colour_bar.show(low, high)
        if title is not None:
            self.figure.title = title


def curve_figure(title: str, x_label: str, y_label: str, log_y: bool = False,
                 css_class: Optional[str] = None) -> tuple[bqplot.Figure, bqplot.Scale, bqplot.Scale]:
    """An empty curve figure and its (x, y) scales."""
    x_scale = bqplot.LinearScale()
    y_scale = bqplot.LogScale() if log_y else bqplot.LinearScale()
    # the y label set off past the widest tick label ("-2.68"), so that the two never touch
    axes = [bqplot.Axis(scale=x_scale, label=x_label),
            bqplot.Axis(scale=y_scale, side="left", label=y_label, tick_format=".2g" if log_y else None,
                        label_offset="50px")]
    figure = bqplot.Figure(marks=[], axes=axes, title=title, title_style=dict(TITLE_STYLE), layout=dict(CURVE_LAYOUT),
                           fig_margin=dict(MARGIN, left=68),
                           animation_duration=0)
    if css_class:
        figure.add_class(css_class)
    return figure, x_scale, y_scale
