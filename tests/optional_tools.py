"""Tests that need an optional tool (Kwant, Chromium) skip without it, except in CI, where ``.ci/run`` installs
every tool and a missing one is a failure, never a silent skip."""
import importlib
import os

import pytest

IN_CI = os.environ.get("CI") == "true"
KWANT_INSTALL = "build it with `bash scripts/build_kwant.sh`"


def missing(reason: str) -> None:
    """Skip the test for ``reason``, or fail it in CI."""
    (pytest.fail if IN_CI else pytest.skip)(reason)


def require(module: str, install: str):
    """Import ``module`` for a test that needs an optional tool; skip without it, except in CI, where
    ``.ci/run`` installs every tool and a missing one is a failure."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        missing(f"{module} is not importable ({error}); {install}")
