import numpy as np
import pytest

import magwidgets as mw


@pytest.fixture(scope="module")
def small_map_problem():
    """A 6 x 6 wire with ideal leads and a notch, its true potential and G on a 9 x 5 (flux, energy) map."""
    wire = mw.Wire(6, 6, lead="ideal")
    rng = np.random.default_rng(7)
    truth = rng.uniform(-0.5, 0.5, (6, 6))
    truth[0, 0] = -1.0
    flux = np.linspace(0, 0.15, 9)
    energy = np.linspace(-1, 1, 5)
    target = np.asarray(mw.conductance(wire, truth, flux, energy))
    return wire, truth, flux, energy, target
