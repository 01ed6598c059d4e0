"""The dashboard a teacher serves with Voila: the design studio and the fingerprint explorer in tabs."""
from __future__ import annotations

import ipywidgets as widgets

from .explorer import FingerprintExplorer
from .studio import DesignStudio

INTRODUCTION = """
<div style="max-width: 1100px; line-height: 1.4">
<h2 style="margin: 4px 0">magwidgets: quantum fingerprints, forwards and backwards</h2>
The conductance G of a small wire fluctuates with the magnetic flux Φ in a pattern set by where its scatterers sit:
a <i>fingerprint</i>. <b>Design studio</b>: the default task hides a Gaussian antidot in a 30 × 30 wire (seed 000);
press <b>Run</b> and gradient descent through the simulator finds where it is from G(Φ) alone. Click the sample map
to move or add scatterers, draw a new target with the mouse, or pick another task. <b>Fingerprint explorer</b>:
G(Φ) of two disordered samples side by side.
</div>
"""


class Dashboard(widgets.VBox):
    """The dashboard: an introduction, then the :class:`DesignStudio` and :class:`FingerprintExplorer` tabs.

    The explorer computes its first sweep, and is drawn, only when its tab is first opened: the page's first
    seconds go to compiling the studio's default run, and no figure is laid out in a hidden tab (where it would
    have no size).
    """

    def __init__(self, task: str = "identify_defect", *, prepare: bool = True) -> None:
        super().__init__()
        self.add_class("mw-dashboard")
        self.studio = DesignStudio(task, prepare=prepare)
        self.explorer = FingerprintExplorer(start=False)
        self._explorer_page = widgets.VBox()
        self.tabs = widgets.Tab(children=[self.studio, self._explorer_page],
                                titles=["Design studio", "Fingerprint explorer"])
        self.tabs.observe(self._on_tab, names="selected_index")
        self.children = [widgets.HTML(INTRODUCTION), self.tabs]

    def _on_tab(self, change) -> None:
        if change["new"] == 1 and not self.explorer.started:
            self._explorer_page.children = [self.explorer]
            self.explorer.refresh()
