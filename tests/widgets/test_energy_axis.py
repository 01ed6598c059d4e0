"""The VMC panel's energy axis: the run on screen from its first step, then the view on the exact and HF lines."""
import numpy as np

def test_the_energy_axis_shows_the_run_from_its_first_step_and_closes_in_on_the_lines():
    from magwidgets.vmc import SYSTEMS
    from magwidgets.widgets.vmc import energy_window

    helium = SYSTEMS["He"]
    resting = energy_window(np.zeros(0), helium)
    assert resting[0] < helium.exact < helium.hartree_fock < resting[1]
    early = np.linspace(-2.1, -2.5, 25)  # a run starts far above Hartree-Fock
    low, high = energy_window(early, helium)
    assert low < helium.exact and high >= np.quantile(early[12:], 0.95) > resting[1]
    converged = np.r_[early, np.full(200, helium.exact + 0.01)]
    assert energy_window(converged, helium) == resting  # the first steps no longer widen the view
