"""Autosaves of live design runs, so that a killed kernel or a closed tab loses at most a few seconds of work.

Every run the design studio starts gets a short code such as ``otter-3f9a``. Its inputs (task, target, settings,
starting parameters) are written once when it starts, and the driver's checkpoint (parameters, optimiser state,
history) every :data:`AUTOSAVE_SECONDS` while it runs and when it ends. A new kernel resumes a run from its code,
continuing the same trajectory (:class:`~magwidgets.design.driver.Design` with ``resume=True``).

The folder is ``$MAGWIDGETS_AUTOSAVE`` or ``~/.cache/magwidgets/autosave``, created readable by its owner only.
A code is looked up among the files that exist, never turned into a path, so a visitor's text cannot name a file
on the server. Autosaves older than a week are removed.
"""
from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..io.archives import read_archive, write_archive
from ..design.driver import checkpoint_step

AUTOSAVE_ENVIRONMENT = "MAGWIDGETS_AUTOSAVE"
SERVED_ENVIRONMENT = "MAGWIDGETS_SERVED"  # set by ``magwidgets dashboard``: visitors must not see others' runs
AUTOSAVE_SECONDS = 15.0
MAX_AGE_SECONDS = 7 * 24 * 3600
ANIMALS = ("otter", "heron", "lynx", "marten", "ibis", "gecko", "okapi", "puffin", "tapir", "wombat", "quokka",
           "bison", "crane", "dingo", "egret", "ferret", "gibbon", "hyrax", "jackal", "koala", "lemur", "moose",
           "newt", "ocelot", "panda", "raven", "stoat", "toucan", "vole", "walrus", "yak", "zebra")
CODE = re.compile(r"[a-z]+-[0-9a-f]{4}")
_INPUTS, _CHECKPOINT = ".inputs.npz", ".checkpoint.npz"


def autosave_folder() -> str:
    """The autosave folder (created with mode 0700)."""
    folder = os.environ.get(AUTOSAVE_ENVIRONMENT) or os.path.join(os.path.expanduser("~"), ".cache", "magwidgets",
                                                                    "autosave")
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return folder


def served() -> bool:
    """True in a kernel of ``magwidgets dashboard``: autosaves are then offered by code only."""
    return os.environ.get(SERVED_ENVIRONMENT, "") not in ("", "0")


@dataclass(frozen=True)
class Autosave:
    """One run's autosave: ``<code>.inputs.npz`` and the driver's ``<code>.checkpoint.npz`` in ``folder``."""

    folder: str
    code: str

    @property
    def inputs_path(self) -> str:
        return os.path.join(self.folder, self.code + _INPUTS)

    @property
    def checkpoint_path(self) -> str:
        return os.path.join(self.folder, self.code + _CHECKPOINT)

    def save_inputs(self, settings: dict, **arrays: Optional[np.ndarray]) -> None:
        """Write what rebuilds the run: JSON-able ``settings`` and arrays (None entries are left out)."""
        present = {name: np.asarray(value) for name, value in arrays.items() if value is not None}
        write_archive(self.inputs_path, "autosave inputs", present, dict(settings=settings, saved=time.time()))

    def load_inputs(self) -> tuple[dict, dict]:
        """(settings, arrays) as written by :meth:`save_inputs`; ValueError if the file is not an autosave."""
        try:
            arrays, metadata = read_archive(self.inputs_path, "autosave inputs")
            settings = dict(metadata["settings"], saved=metadata["saved"])
        except (OSError, KeyError, ValueError) as error:
            raise ValueError(f"autosave {self.code} cannot be read ({type(error).__name__})") from None
        return settings, arrays

    def saved_step(self) -> Optional[int]:
        """The step of the last checkpoint, or None before the first one."""
        return checkpoint_step(self.checkpoint_path)

    def saved_at(self) -> float:
        """When the checkpoint (or else the inputs) was last written, in seconds since the epoch."""
        for path in (self.checkpoint_path, self.inputs_path):
            if os.path.exists(path):
                return os.path.getmtime(path)
        return 0.0

    def delete(self) -> None:
        for path in (self.inputs_path, self.checkpoint_path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _existing(folder: str) -> dict[str, Autosave]:
    """Autosaves in ``folder`` that have both inputs and a checkpoint, by code."""
    names = set(os.listdir(folder))
    return {name[: -len(_INPUTS)]: Autosave(folder, name[: -len(_INPUTS)]) for name in names
            if name.endswith(_INPUTS) and CODE.fullmatch(name[: -len(_INPUTS)])
            and name[: -len(_INPUTS)] + _CHECKPOINT in names}


def prune_autosaves(folder: Optional[str] = None, max_age: float = MAX_AGE_SECONDS) -> None:
    """Remove autosaves (complete or not) last written more than ``max_age`` seconds ago."""
    folder = folder or autosave_folder()
    now = time.time()
    for name in os.listdir(folder):
        if name.endswith((_INPUTS, _CHECKPOINT)):
            path = os.path.join(folder, name)
            try:
                if now - os.path.getmtime(path) > max_age:
                    os.unlink(path)
            except FileNotFoundError:
                pass


def new_autosave(folder: Optional[str] = None) -> Autosave:
    """A fresh autosave with an unused code (old autosaves are pruned on the way)."""
    folder = folder or autosave_folder()
    prune_autosaves(folder)
    taken = set(os.listdir(folder))
    while True:
        code = f"{secrets.choice(ANIMALS)}-{secrets.token_hex(2)}"
        if code + _INPUTS not in taken and code + _CHECKPOINT not in taken:
            return Autosave(folder, code)


def find_autosave(code: str, folder: Optional[str] = None) -> Autosave:
    """The autosave with ``code``; ValueError saying what a code looks like when there is none."""
    cleaned = code.strip().lower()
    if not CODE.fullmatch(cleaned):
        raise ValueError(f"{code[:40]!r} is not a run code; a code looks like 'otter-3f9a' (shown under the "
                         "buttons while a run is autosaved)")
    found = _existing(folder or autosave_folder()).get(cleaned)
    if found is None:
        raise ValueError(f"no autosaved run with code {cleaned!r} (autosaves are kept for a week)")
    return found


def list_autosaves(folder: Optional[str] = None) -> list[Autosave]:
    """Complete autosaves, the most recently written first."""
    return sorted(_existing(folder or autosave_folder()).values(), key=Autosave.saved_at, reverse=True)
