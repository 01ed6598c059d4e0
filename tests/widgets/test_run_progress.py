"""A run being built and compiled says so, with the elapsed time, until it is ready."""
import time

from magwidgets.widgets._common import RunButtons


def wait_for(condition, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_compiling_shows_a_ticking_progress_line_that_clears_when_ready():
    controls = RunButtons(lambda _: None, lambda _: None, lambda: None)
    assert controls.progress.line.value == ""
    controls.show("compiling")
    assert "preparing the run" in controls.progress.line.value and "· 0 s" in controls.progress.line.value
    # the elapsed time moves on its own while nothing reports (a compilation gives no progress of its own)
    assert wait_for(lambda: "· 1 s" in controls.progress.line.value or "· 2 s" in controls.progress.line.value)
    controls.progress.step("preparing the run: fitting the orbitals")
    assert "fitting the orbitals" in controls.progress.line.value
    controls.show("compiling")  # a repeated state keeps the line (and its clock) going
    assert "fitting the orbitals" in controls.progress.line.value
    controls.show("ready")
    assert controls.progress.line.value == "" and not controls.progress.active
