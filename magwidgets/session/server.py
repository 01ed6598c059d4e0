"""The dashboard's server process: start Voila, stop it and everything it started, leave nothing behind.

``magwidgets dashboard`` runs Voila as a child process, and Voila starts one kernel process per visitor (plus the
preheated pool). Stopping the command must stop all of them and remove the private folder they share (compute
slots, Voila's connection files), whichever way it is stopped:

- SIGTERM (``kill PID``), SIGINT (Ctrl-C) and SIGHUP (the terminal closed) of the command are forwarded to Voila
  as SIGTERM, on which Voila shuts its kernels down; a kernel still alive after the grace period is killed.
- Voila runs in a session of its own, so a Ctrl-C in the terminal reaches it only through the command (once),
  and on Linux it is told to terminate if the command itself dies without a chance to forward anything (SIGKILL).
- The folder is named after the command's process, so a later start removes the folders of commands that died.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

RUN_FOLDER_PREFIX = "magwidgets-dashboard-"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def _start_time(pid: int) -> Optional[str]:
    """The process's start time in clock ticks since boot (with the pid, a name no later process can take)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return None
    return fields[19]


def _alive(pid: int, started: Optional[str]) -> bool:
    if started is not None and os.path.isdir("/proc"):
        return _start_time(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _descendants(pid: int) -> set[tuple[int, Optional[str]]]:
    """(pid, start time) of every process below ``pid`` (read from /proc; empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return set()
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found, stack = set(), list(children.get(pid, ()))
    while stack:
        child = stack.pop()
        found.add((child, _start_time(child)))
        stack.extend(children.get(child, ()))
    return found


def make_run_folder() -> str:
    """A private folder (mode 0700) for one dashboard server's kernels, named after this process."""
    pid = os.getpid()
    return tempfile.mkdtemp(prefix=f"{RUN_FOLDER_PREFIX}{pid}-{_start_time(pid) or 0}-")


def remove_stale_run_folders(root: Optional[str] = None) -> list[str]:
    """Remove the run folders of dashboard commands that are no longer running; returns what was removed."""
    root = root or tempfile.gettempdir()
    removed = []
    for path in Path(root).glob(RUN_FOLDER_PREFIX + "*"):
        pid, _, rest = path.name[len(RUN_FOLDER_PREFIX):].partition("-")
        started = rest.partition("-")[0]
        if not pid.isdigit() or not started.isdigit():
            continue
        try:
            if path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if not _alive(int(pid), None if started == "0" else started):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


def _terminate_with_parent() -> None:
    """In Voila's process before it starts (Linux): SIGTERM when the command that started it dies."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_processes(processes: set[tuple[int, Optional[str]]], grace: float) -> None:
    """SIGTERM each process still alive, then SIGKILL what is left after ``grace`` seconds."""
    def alive() -> list[int]:
        return [pid for pid, started in processes if _alive(pid, started)]

    for pid in alive():
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in alive():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def serve(command: list[str], environment: dict, run_folder: str, grace: float = 30.0) -> int:
    """Run the Voila ``command`` until it ends or this process is told to stop; then clean up everything.

    Parameters
    ----------
    command, environment
        Voila's command line and its (and so its kernels') environment.
    run_folder : str
        The server's private folder (:func:`make_run_folder`); removed at the end.
    grace : float
        Seconds Voila has to shut its kernels down after SIGTERM before it and they are killed.

    Returns
    -------
    int
        0 after a stop by SIGTERM, SIGINT or SIGHUP; otherwise Voila's exit status.
    """
    known: set[tuple[int, Optional[str]]] = set()
    stop_requested: list[int] = []
    stop_deadline: Optional[float] = None
    preexec = _terminate_with_parent if os.path.isdir("/proc") else None
    process = subprocess.Popen(command, env=environment, start_new_session=True, preexec_fn=preexec)
    voila = {(process.pid, _start_time(process.pid))}

    def forward(signum, _frame) -> None:
        nonlocal stop_deadline
        stop_requested.append(signum)
        known.update(_descendants(process.pid))
        if stop_deadline is None:
            stop_deadline = time.monotonic() + grace
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # Voila shuts its kernels down on SIGTERM

    previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
    try:
        while True:
            try:
                code = process.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                # kernels come and go with visitors; remember them in case Voila dies without stopping them
                known.update(_descendants(process.pid))
                if stop_deadline is not None and time.monotonic() > stop_deadline:
                    _stop_processes(voila | known, 0.0)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _stop_processes(voila | known, 5.0)
        shutil.rmtree(run_folder, ignore_errors=True)
    return 0 if stop_requested else code
