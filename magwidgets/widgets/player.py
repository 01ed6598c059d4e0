"""Play across the field: |psi|^2(x, y) animated over a flux grid, frames computed once and then played.

The frames come from one batched call (:meth:`magwidgets.design.problem.Measurement.wavefunction_frames`), made by
the panel in its background thread; :class:`FieldPlayer` only shows them. Its clock is ipywidgets' ``Play``, which
ticks in the browser, so playback needs nothing from the kernel but to hand over the next precomputed frame.
"""
from __future__ import annotations

import io
from typing import Callable, Optional

import ipywidgets as widgets
import numpy as np

from ._common import download_link, tagged
from .maps import SiteMap

MAX_FRAMES_PER_SECOND = 25


class FieldPlayer:
    """Play, speed and loop controls, the frame's flux and a download of its data (the panel's own flux slider
    follows the frames through ``on_frame``).

    Parameters
    ----------
    site_map : SiteMap
        Where the frames are drawn (with one colour range for the whole animation, so colours mean the same in
        every frame).
    on_frame : callable(index), optional
        Called with each shown frame's index, e.g. to move a marker along G(flux).
    css_class : str
        Added to the controls' box (tests and the browser find it by this class).
    """

    def __init__(self, site_map: SiteMap, on_frame: Optional[Callable[[int], None]] = None,
                 css_class: str = "mw-field-player") -> None:
        self.site_map, self.on_frame = site_map, on_frame
        self.flux = np.zeros(0)
        self.energy = 0.0
        self.frames = np.zeros((0, 1, 1))
        self.title = ""
        self.play = tagged(widgets.Play(value=0, min=0, max=0, interval=100, repeat=True, show_repeat=False,
                                        disabled=True, description="play"), "mw-play")
        self.speed = tagged(widgets.BoundedIntText(value=10, min=1, max=MAX_FRAMES_PER_SECOND,
                                                   description="frames/s", layout=dict(width="150px")),
                            "mw-play-speed")
        self.speed.observe(lambda change: setattr(self.play, "interval", int(1000 / change["new"])), names="value")
        self.loop = tagged(widgets.Checkbox(value=True, description="loop", indent=False,
                                            layout=dict(width="70px")), "mw-play-loop")
        widgets.jslink((self.loop, "value"), (self.play, "repeat"))
        self.readout = tagged(widgets.HTML("frames appear when they are computed"), "mw-play-readout")
        self.download_button = tagged(widgets.Button(description="frame data (.csv)", icon="download",
                                                     disabled=True, layout=dict(width="160px")), "mw-play-download")
        self.download_button.on_click(lambda _button: self._offer_download())
        self.download = tagged(widgets.HTML(""), "mw-play-link")
        self.play.observe(lambda change: self.show(change["new"]), names="value")
        self.widget = tagged(widgets.VBox([
            widgets.HBox([self.play, self.speed, self.loop], layout=dict(flex_flow="row wrap")),
            widgets.HBox([self.readout, self.download_button, self.download], layout=dict(flex_flow="row wrap"))]),
            css_class)

    def set_frames(self, flux: np.ndarray, energy: float, frames: np.ndarray, title: str = "|ψ|²") -> None:
        """New frames (n_flux, L, W) at fluxes ``flux`` and one ``energy``; shows the frame Play is on."""
        frames = np.asarray(frames, float)
        if frames.ndim != 3 or frames.shape[0] != len(flux):
            raise ValueError(f"expected one (L, W) frame per flux ({len(flux)}), got an array of shape {frames.shape}")
        self.flux, self.energy, self.frames, self.title = np.asarray(flux, float), float(energy), frames, title
        # One colour range for every frame; a resonance can make a few sites of one frame far brighter than the
        # rest, so the range ends at the 99.5th percentile of all frames (those few sites saturate).
        self._limits = (0.0, float(max(np.quantile(frames, 0.995), 1e-12)))
        index = min(self.play.value, len(flux) - 1)
        with self.play.hold_trait_notifications():
            self.play.max = len(flux) - 1
            self.play.disabled = self.download_button.disabled = False
        self.show(index)

    def clear(self, message: str = "frames appear when they are computed") -> None:
        """Drop the frames (e.g. the sample changed) and say when new ones come."""
        self.frames = np.zeros((0, 1, 1))
        self.play.playing = False
        self.play.disabled = self.download_button.disabled = True
        self.readout.value, self.download.value = message, ""

    def show(self, index: int) -> None:
        """Draw frame ``index`` (and tell ``on_frame``)."""
        if not len(self.frames):
            return
        index = int(np.clip(index, 0, len(self.frames) - 1))
        flux = self.flux[index]
        self.site_map.show(self.frames[index], f"{self.title} at Φ/Φ0 = {flux:.4f}", limits=self._limits)
        self.readout.value = f"Φ index {index} of {len(self.frames) - 1}: Φ/Φ0 = {flux:.4f}, E = {self.energy:g} t"
        self.download.value = ""
        if self.on_frame is not None:
            self.on_frame(index)

    def _offer_download(self) -> None:
        index = int(np.clip(self.play.value, 0, len(self.frames) - 1))
        buffer = io.StringIO()
        buffer.write(f"# |psi|^2(x, y) at Phi/Phi_0 = {self.flux[index]:.10g}, E = {self.energy:.10g} t; "
                     "rows x (along the wire), columns y\n")
        np.savetxt(buffer, self.frames[index], delimiter=",", fmt="%.10g")
        self.download.value = download_link(buffer.getvalue().encode(), f"intensity_frame_{index}.csv",
                                            f"frame {index + 1} (.csv)", "text/csv")
