"""magwidgets: compute, differentiate, invert and teach quantum fingerprints of tight-binding wires.

Importing it turns on float64 in JAX (``jax_enable_x64``: the physics agrees with Kwant to 1e-8 only in double
precision) and changes nothing else in the process. :func:`configure` applies, on request, the allocator and
OpenBLAS settings that speed up repeated XLA calls on CPU (see :mod:`magwidgets.core.process`).
"""
from .core import (
    Wire,
    conductance,
    configure,
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
    "configure",
    "__version__",
]
