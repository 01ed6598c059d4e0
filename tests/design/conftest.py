import numpy as np
import pytest

import magwidgets as mw
from magwidgets.design import Loss, Optimizer, SitePotential, TransportObjective
from magwidgets.design.driver import Design


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


@pytest.fixture
def build(small_map_problem):
    """A factory of small Design runs (6 x 6 map, Adam) for the LiveRun and slot tests."""
    wire, truth, flux, energy, target = small_map_problem
    objective, data = TransportObjective.create(wire, target, flux, energy, SitePotential(wire, fixed={(0, 0): -1.0}),
                                                Loss("mse"))

    def make() -> Design:
        return Design(objective, data, Optimizer("adam", 2e-2, schedule="constant"), seed=3, snapshot_every=2)

    return make
