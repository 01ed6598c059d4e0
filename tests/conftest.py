"""Shared test set-up: private autosave and temporary folders.

Every test gets its own autosave folder, so studios never offer runs autosaved by other tests or by the user. The
run's temporary files live in one folder that is removed when the run ends (``--basetemp`` keeps yours), so a test
run leaves nothing under /tmp.
"""
import shutil
import tempfile

import pytest

import magwidgets
from magwidgets.design.autosave import AUTOSAVE_ENVIRONMENT

# The suite runs thousands of XLA calls in one process, as a design loop does; the subprocess tests that check what
# an import changes start their own interpreters.
magwidgets.configure()

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
