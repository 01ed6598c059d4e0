"""`magwidgets dashboard` stops cleanly: every way of stopping it ends Voila and its kernels and leaves no files."""
import os
import signal
import subprocess
import sys

import pytest

from magwidgets.session import server
from magwidgets.cli import free_port

from polling import wait_until


def _command_line(pid: int) -> bytes:
    """The process's command line, or nothing where it has ended since it was listed (short helpers do)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            return cmdline.read()
    except OSError:
        return b""


def _kernels(pid: int) -> set:
    return {(child, started) for child, started in server._descendants(pid) if b"ipykernel" in _command_line(child)}


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the server's processes through /proc")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_stops_voila_and_every_kernel_and_removes_the_servers_files(stop, tmp_path):
    temporary = tmp_path / "tmp"  # the server's temporary files go here, so we can see all of them
    temporary.mkdir()
    port = free_port()
    command = [sys.executable, "-m", "magwidgets.cli", "dashboard", "--no-browser", f"--port={port}", "--pool=1"]
    environment = dict(os.environ, TMPDIR=str(temporary))
    with open(tmp_path / "server.log", "w") as log:
        dashboard = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
    try:
        # the preheated pool opens a kernel as soon as Voila runs
        kernels = wait_until(lambda: _kernels(dashboard.pid), 240, "no kernel started within 240 s")
        voila = server._descendants(dashboard.pid) - kernels
        assert os.listdir(temporary), "the server made no folder of its own"
        dashboard.send_signal(stop)
        assert dashboard.wait(120) == 0, (tmp_path / "server.log").read_text()
    finally:
        if dashboard.poll() is None:
            os.killpg(dashboard.pid, signal.SIGKILL)
    left = [pid for pid, started in kernels | voila if server._alive(pid, started)]
    assert not left, f"processes of the dashboard still running: {left}"
    assert os.listdir(temporary) == [], "files left behind"


def test_a_crashed_servers_folder_is_removed_at_the_next_start_and_a_running_ones_is_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{server.RUN_FOLDER_PREFIX}{dead.pid}-12345-abcd"
    (stale / "slots").mkdir(parents=True)
    mine = tmp_path / f"{server.RUN_FOLDER_PREFIX}{os.getpid()}-{server._start_time(os.getpid())}-efgh"
    mine.mkdir()
    unrelated = tmp_path / "magwidgets-dashboard-notes"
    unrelated.mkdir()
    assert server.remove_stale_run_folders(str(tmp_path)) == [str(stale)]
    assert sorted(os.listdir(tmp_path)) == sorted([mine.name, unrelated.name])
