"""Every test gets its own autosave folder: studios must not offer runs autosaved by other tests or by the user."""
import pytest

from magwidgets.design.autosave import AUTOSAVE_ENVIRONMENT


@pytest.fixture(autouse=True)
def private_autosaves(tmp_path, monkeypatch):
    folder = tmp_path / "autosave"
    monkeypatch.setenv(AUTOSAVE_ENVIRONMENT, str(folder))
    return folder
