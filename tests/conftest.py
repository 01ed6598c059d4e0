"""Shared test set-up: private autosave and temporary folders, and a small design problem.

Every test gets its own autosave folder, so studios never offer runs autosaved by other tests or by the user. The
run's temporary files live in one folder that is removed when the run ends (``--basetemp`` keeps yours), so a test
run leaves nothing under /tmp.
"""
import shutil
import tempfile

import numpy as np
import pytest

import magwidgets as mw
from magwidgets.design import Loss, Optimizer, SitePotential, TransportObjective
from magwidgets.design.driver import Design
from magwidgets.session.autosave import AUTOSAVE_ENVIRONMENT

# The suite runs thousands of XLA calls in one process, as a design loop does; the subprocess tests that check what
# an import changes start their own interpreters.
mw.configure()

_OWN_BASETEMP = pytest.StashKey[str]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if config.option.basetemp is None:
        config.option.basetemp = tempfile.mkdtemp(prefix="magwidgets-tests-")
        config.stash[_OWN_BASETEMP] = config.option.basetemp


def pytest_unconfigure(config):
    folder = config.stash.get(_OWN_BASETEMP, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def private_autosaves(tmp_path, monkeypatch):
    folder = tmp_path / "autosave"
    monkeypatch.setenv(AUTOSAVE_ENVIRONMENT, str(folder))
    return folder


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
