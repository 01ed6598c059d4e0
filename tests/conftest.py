"""Every test gets its own autosave folder: studios must not offer runs autosaved by other tests or by the user."""
import pytest

import magwidgets
from magwidgets.design.autosave import AUTOSAVE_ENVIRONMENT

# The suite runs thousands of XLA calls in one process, as a design loop does; the subprocess tests that check what
# an import changes start their own interpreters.
magwidgets.configure()


@pytest.fixture(autouse=True)
def private_autosaves(tmp_path, monkeypatch):
    folder = tmp_path / "autosave"
    monkeypatch.setenv(AUTOSAVE_ENVIRONMENT, str(folder))
    return folder
