"""Inverse design on top of :mod:`magwidgets.core`: run the simulator backwards (seeds 000 and 004).

A fit and its result::

    res = mw.design.fit(wire, target, flux, energy, params=mw.design.GaussianDefects(wire, n=10),
                        loss="log_rms", optimizer="rmsprop", steps=2000, seed=0)
    res.onsite, res.conductance, res.history["loss"], res.params
"""
from .driver import Design, DesignResult, Snapshot
from .problem import Measurement, Problem, fit
from .losses import Loss, Target, log_rms, mse, smoothness
from .objectives import TransportObjective, cost_landscape
from .optimize import SEED000_SCHEDULE, Optimizer
from .params import Custom, GaussianDefects, MagnetisationAngles, SitePotential

__all__ = [
    "fit",
    "Problem",
    "Measurement",
    "Design",
    "DesignResult",
    "Snapshot",
    "Loss",
    "Target",
    "log_rms",
    "mse",
    "smoothness",
    "Optimizer",
    "SEED000_SCHEDULE",
    "TransportObjective",
    "cost_landscape",
    "SitePotential",
    "GaussianDefects",
    "MagnetisationAngles",
    "Custom",
]
