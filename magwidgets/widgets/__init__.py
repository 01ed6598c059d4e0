"""ipywidgets + bqplot panels: the only part of magwidgets that knows about the browser.

Each panel renders what :mod:`magwidgets.design` and :mod:`magwidgets.core` compute and never loops over physics
itself: runs go through :class:`~magwidgets.session.live.LiveRun`, one-off sweeps through a background thread.
"""
from .dashboard import Dashboard
from .explorer import FingerprintExplorer
from .sketch import PotentialSketcher
from .studio import DesignStudio
from .target import TargetSketcher
from .vmc import VMCPanel

__all__ = ["Dashboard", "DesignStudio", "FingerprintExplorer", "PotentialSketcher", "TargetSketcher", "VMCPanel"]
