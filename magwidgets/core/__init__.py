"""Pure, jit/vmap/grad-able transport physics. Never imports ipywidgets or bqplot."""
import jax


# The physics needs float64 (agreement with Kwant to 1e-8); single precision is opt-in per call. This is the only
# process-wide change an import makes: the allocator and OpenBLAS settings wait for an explicit configure().
jax.config.update("jax_enable_x64", True)

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
    wavefunction_intensity_sweep,
)
from .process import ProcessSettings, configure  # noqa: E402
from .wire import Wire  # noqa: E402

__all__ = [
    "Wire",
    "conductance",
    "wavefunction_intensity",
    "wavefunction_intensity_sweep",
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
    "configure",
    "ProcessSettings",
]
