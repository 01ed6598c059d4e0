"""Files: what magwidgets reads from its users and writes for them.

- :mod:`~magwidgets.io.archives`: every ``.npz`` it writes (results, checkpoints, autosaves), through one writer;
- :mod:`~magwidgets.io.potentials`: sketched potentials V(x, y) as ``.npy`` or ``.csv``;
- :mod:`~magwidgets.io.measured`: measured G(B) from a CSV in the lab's units, curves traced from pictures.
"""
from .archives import load_design_result, read_archive, read_metadata, save_design_result, write_archive
from .measured import (CONDUCTANCE_QUANTUM_S, FLUX_QUANTUM_WB, curves_to_csv, read_conductance_csv,
                       trace_silhouette)
from .potentials import potential_to_csv, potential_to_npy, read_potential, validate_potential

__all__ = [
    "save_design_result",
    "load_design_result",
    "write_archive",
    "read_archive",
    "read_metadata",
    "read_potential",
    "validate_potential",
    "potential_to_csv",
    "potential_to_npy",
    "read_conductance_csv",
    "trace_silhouette",
    "curves_to_csv",
    "FLUX_QUANTUM_WB",
    "CONDUCTANCE_QUANTUM_S",
]
