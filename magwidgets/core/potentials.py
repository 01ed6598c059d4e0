"""Potential landscapes V(x, y) and the one conversion between V and the on-site energy the solvers take.

A sample is described by its potential V(x, y), shape (L, W), on top of the clean wire's on-site energy; the
solvers take ``onsite = background(wire) + V`` (seed 000: h_i = 4t + defect potential, with square leads at 4t).
:func:`onsite_energy` and :func:`potential_of` are the only places that conversion is written.

:data:`PRESETS` is the one registry of ready-made samples that the sketcher, the explorer and the studio's tasks
offer: each entry is a function ``(wire, **options) -> V``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from .wire import Wire


def background(wire: Wire) -> float:
    """The on-site energy of a clean wire: the square leads' ``lead_onsite`` (4t), or 0 next to ideal leads."""
    return float(wire.lead_onsite) if wire.lead == "square" else 0.0


def onsite_energy(wire: Wire, potential) -> np.ndarray:
    """The on-site energy h(x, y) = background(wire) + V(x, y) of a sample with potential ``potential``."""
    return background(wire) + np.asarray(potential, float)


def potential_of(wire: Wire, onsite) -> np.ndarray:
    """The potential V = h - background(wire) of on-site energies ``onsite`` (the inverse of :func:`onsite_energy`)."""
    return np.asarray(onsite, float) - background(wire)


def _site_distance_squared(wire: Wire, x: float, y: float) -> np.ndarray:
    sites_x, sites_y = np.meshgrid(np.arange(wire.length), np.arange(wire.width), indexing="ij")
    return (sites_x - x) ** 2 + (sites_y - y) ** 2


def gaussian_antidot(wire: Wire, x: float, y: float, amplitude: float = 10.0, radius: float = 2.0) -> np.ndarray:
    """A ``amplitude * exp(-((x_i - x)^2 + (y_i - y)^2) / radius^2)``: one Gaussian scatterer (seed 000 eq. 5)."""
    if radius <= 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    return amplitude * np.exp(-_site_distance_squared(wire, x, y) / radius**2)


def anderson_disorder(wire: Wire, strength: float = 1.0, seed: int = 0) -> np.ndarray:
    """Independent on-site energies uniform in [-strength/2, strength/2] (Anderson disorder of width ``strength``).

    The same ``seed`` always gives the same sample, hence the same fingerprint.
    """
    if strength < 0:
        raise ValueError(f"disorder strength must be >= 0, got {strength}")
    return np.random.default_rng(seed).uniform(-strength / 2, strength / 2, (wire.length, wire.width))


def aharonov_bohm_ring(wire: Wire, inner_radius: float | None = None, outer_radius: float | None = None,
                       height: float = 10.0) -> np.ndarray:
    """A ring of two arms around a central antidot.

    A disc of radius ``inner_radius`` and the region beyond ``outer_radius`` within the ring's columns are raised
    by ``height``, so the current flows through the two arms of the annulus; G then oscillates with flux period
    about 1 / (pi r_mean^2) per plaquette (Aharonov-Bohm), with r_mean the arms' mean radius. The default arms
    (radii 0.55 and 0.8 of half the smaller side, 8.25 to 12 sites in a 30 x 30 wire) are narrow enough for that
    period to hold within a few percent (the notebook ``01_quantum_fingerprints`` measures it).
    """
    half = min(wire.length, wire.width) / 2
    inner = 0.55 * half if inner_radius is None else inner_radius
    outer = 0.8 * half if outer_radius is None else outer_radius
    if not 0 < inner < outer:
        raise ValueError(f"need 0 < inner_radius < outer_radius, got {inner} and {outer}")
    centre_x, centre_y = (wire.length - 1) / 2, (wire.width - 1) / 2
    distance = np.sqrt(_site_distance_squared(wire, centre_x, centre_y))
    within_ring_columns = np.abs(np.arange(wire.length) - centre_x)[:, None] < outer
    blocked = (distance < inner) | ((distance > outer) & within_ring_columns)
    return np.where(blocked, height, 0.0)


def clean_wire(wire: Wire) -> np.ndarray:
    """V = 0 everywhere: the clean wire."""
    return np.zeros((wire.length, wire.width))


def seed000_antidot(wire: Wire, x: float | None = None, y: float | None = None, amplitude: float = 10.0,
                    radius: float = 2.0) -> np.ndarray:
    """Seed 000's defect: a Gaussian antidot of amplitude 10 t and radius 2, by default at (L // 2, round(W / 3)),
    i.e. (15, 10) in the 30 x 30 wire (:func:`gaussian_antidot`)."""
    return gaussian_antidot(wire, wire.length // 2 if x is None else x, round(wire.width / 3) if y is None else y,
                            amplitude=amplitude, radius=radius)


class Preset(NamedTuple):
    """A ready-made sample: its name on screen and the function ``(wire, **options) -> V`` that draws it."""

    label: str
    potential: Callable[..., np.ndarray]


PRESETS: dict[str, Preset] = {
    "clean": Preset("Clean wire", clean_wire),
    "antidot": Preset("One antidot", seed000_antidot),
    "disorder": Preset("Anderson disorder", anderson_disorder),
    "ring": Preset("Aharonov-Bohm ring", aharonov_bohm_ring),
}


def preset_potential(name: str, wire: Wire, **options) -> np.ndarray:
    """The potential V of preset ``name`` (a key of :data:`PRESETS`) on ``wire``; ``options`` go to its function."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    return PRESETS[name].potential(wire, **options)
