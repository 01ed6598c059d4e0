"""magwidgets: compute, differentiate, invert and teach quantum fingerprints of tight-binding wires."""
from .core import (
    Wire,
    conductance,
    ldos,
    scattering_matrix,
    to_kwant,
    transmission_matrix,
    wavefunction_intensity,
)

from . import design  # noqa: E402

from ._version import __version__  # noqa: E402,F401

__all__ = [
    "Wire",
    "conductance",
    "wavefunction_intensity",
    "ldos",
    "scattering_matrix",
    "transmission_matrix",
    "to_kwant",
    "design",
]
