"""Pure, jit/vmap/grad-able transport physics. Never imports ipywidgets or bqplot."""
import jax


# The physics needs float64 (agreement with Kwant to 1e-8); single precision is opt-in per call.
jax.config.update("jax_enable_x64", True)

from .allocator import keep_freed_memory  # noqa: E402

# Reuse XLA's large per-call buffers instead of page-faulting fresh ones every call (see allocator.py).
keep_freed_memory()

from .kwant_system import to_kwant  # noqa: E402
from .leads import LeadSelfEnergies, clear_lead_cache, lead_self_energies  # noqa: E402
from .observables import (  # noqa: E402
    SinglePrecisionWarning,
    SweepGrid,
    conductance,
    grid_conductance,
    ldos,
    scattering_matrix,
    sweep_grid,
    transmission_matrix,
    wavefunction_intensity,
)
from .sharding import _serial_openblas  # noqa: E402
from .wire import Wire  # noqa: E402

# One OpenBLAS thread per LAPACK call on one device too: XLA already spreads the batched solves over its own
# threads, and OpenBLAS's spinning workers, next to any other busy process on this 2-core machine, stretched the
# 40 ms seed 000 sweep to 8 s (2026-11-21). An explicit OPENBLAS_NUM_THREADS is respected.
_serial_openblas()

__all__ = [
    "Wire",
    "conductance",
    "wavefunction_intensity",
    "ldos",
    "scattering_matrix",
    "transmission_matrix",
    "lead_self_energies",
    "LeadSelfEnergies",
    "clear_lead_cache",
    "to_kwant",
    "SinglePrecisionWarning",
    "SweepGrid",
    "sweep_grid",
    "grid_conductance",
]
