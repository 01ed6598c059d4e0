"""Site-map and curve figures shared by the panels (bqplot), oriented as a physicist draws a wire.

x (along the wire, leads left and right) runs horizontally and y vertically with y = 0 at the bottom. Large or
animated maps use ``HeatMap`` (one canvas image per frame, cost set by pixels, not cells); colour limits are
pinned per frame inside ``hold_sync`` so that a frame is one message and colours do not jump mid-frame.
"""
from __future__ import annotations

from typing import Optional

import bqplot
import numpy as np

FIGURE_LAYOUT = dict(width="370px", height="340px")
CURVE_LAYOUT = dict(width="420px", height="300px")
MARGIN = dict(top=40, bottom=45, left=50, right=20)
DIVERGING_COLOURS = ["#2166ac", "#ffffff", "#b2182b"]  # ColorBrewer RdBu ends: blue < 0 < red


class SiteMap:
    """A (L, W) site array drawn as a heat map; :meth:`show` replaces the data in one synchronised update."""

    def __init__(self, title: str, shape: tuple[int, int], css_class: Optional[str] = None,
                 symmetric: bool = False, label: str = "") -> None:
        self.symmetric = symmetric
        self.x_scale, self.y_scale = bqplot.LinearScale(), bqplot.LinearScale()
        # symmetric maps (potentials, m_z) share the sketcher's colours: red barriers, blue wells, white zero
        colours = dict(colors=DIVERGING_COLOURS, mid=0.0, min=-1.0) if symmetric else dict(scheme="viridis", min=0.0)
        self.color_scale = bqplot.ColorScale(max=1.0, **colours)
        self.heatmap = bqplot.HeatMap(x=np.arange(shape[0], dtype=float), y=np.arange(shape[1], dtype=float),
                                      color=np.zeros(shape[::-1]),
                                      scales=dict(x=self.x_scale, y=self.y_scale, color=self.color_scale))
        axes = [bqplot.Axis(scale=self.x_scale, label="x (along the wire)"),
                bqplot.Axis(scale=self.y_scale, side="left", label="y"),
                bqplot.ColorAxis(scale=self.color_scale, side="right", label=label)]
        self.figure = bqplot.Figure(marks=[self.heatmap], axes=axes, title=title, layout=dict(FIGURE_LAYOUT),
                                    fig_margin=dict(MARGIN, right=90), padding_x=0, padding_y=0,
                                    animation_duration=0)
        if css_class:
            self.figure.add_class(css_class)

    def show(self, values: np.ndarray, title: Optional[str] = None) -> None:
        values = np.asarray(values, float)
        low, high = float(np.min(values)), float(np.max(values))
        if self.symmetric:
            high = max(abs(low), abs(high), 1e-12)
            low = -high
        elif high - low < 1e-12:
            high = low + 1e-12
        with self.heatmap.hold_sync(), self.color_scale.hold_sync():
            if self.heatmap.color.shape != values.shape[::-1]:
                self.heatmap.x = np.arange(values.shape[0], dtype=float)
                self.heatmap.y = np.arange(values.shape[1], dtype=float)
            self.color_scale.min, self.color_scale.max = low, high
            self.heatmap.color = values.T
        if title is not None:
            self.figure.title = title


def curve_figure(title: str, x_label: str, y_label: str, log_y: bool = False,
                 css_class: Optional[str] = None) -> tuple[bqplot.Figure, bqplot.Scale, bqplot.Scale]:
    """An empty curve figure and its (x, y) scales."""
    x_scale = bqplot.LinearScale()
    y_scale = bqplot.LogScale() if log_y else bqplot.LinearScale()
    axes = [bqplot.Axis(scale=x_scale, label=x_label),
            bqplot.Axis(scale=y_scale, side="left", label=y_label, tick_format=".2g" if log_y else None)]
    figure = bqplot.Figure(marks=[], axes=axes, title=title, layout=dict(CURVE_LAYOUT), fig_margin=dict(MARGIN),
                           animation_duration=0)
    if css_class:
        figure.add_class(css_class)
    return figure, x_scale, y_scale
