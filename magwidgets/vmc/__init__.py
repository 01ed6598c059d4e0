"""Variational Monte Carlo with a FermiNet-style neural wavefunction (seed 003), on the same JAX stack."""
import magwidgets.core  # noqa: F401  (enables float64)

from .driver import DEFAULT_RECIPE, DEFAULT_RATES, RECIPES, VMC, Evaluation, NaturalGradient, VMCSnapshot, blocking
from .hamiltonian import kinetic_energy, local_energy, potential_energy
from .network import Network, init_params, log_psi
from .sampling import initial_walkers, metropolis
from .systems import SYSTEMS, System, molecule

__all__ = ["VMC", "Evaluation", "NaturalGradient", "VMCSnapshot", "blocking", "DEFAULT_RATES", "RECIPES",
           "DEFAULT_RECIPE", "kinetic_energy", "local_energy", "potential_energy", "Network", "init_params",
           "log_psi", "initial_walkers", "metropolis", "SYSTEMS", "System", "molecule"]
