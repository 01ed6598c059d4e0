"""A run being built and compiled says so, with the elapsed time, until it is ready."""
import time

from magwidgets.widgets._common import RunButtons

from polling import wait_until


def test_compiling_shows_a_ticking_progress_line_that_clears_when_ready():
    controls = RunButtons(lambda _: None, lambda _: None, lambda: None)
    assert controls.progress.line.value == ""
    controls.show("compiling")
    assert "preparing the run" in controls.progress.line.value and "· 0 s" in controls.progress.line.value
    # the elapsed time moves on its own while nothing reports (a compilation gives no progress of its own)
    assert wait_until(lambda: "· 1 s" in controls.progress.line.value or "· 2 s" in controls.progress.line.value)
    controls.progress.step("preparing the run: fitting the orbitals")
    assert "fitting the orbitals" in controls.progress.line.value
    controls.show("compiling")  # a repeated state keeps the line (and its clock) going
    assert "fitting the orbitals" in controls.progress.line.value
    controls.show("ready")
    assert controls.progress.line.value == "" and not controls.progress.active


def test_a_delayed_line_stays_empty_for_quick_work_and_appears_for_slow_work():
    controls = RunButtons(lambda _: None, lambda _: None, lambda: None)
    progress = controls.progress
    progress.start("computing a long sweep", delay=0.3)
    assert progress.line.value == ""  # not drawn at once: a quick update stops it before it would flash
    assert wait_until(lambda: "computing a long sweep" in progress.line.value)
    progress.stop()
    progress.start("computing a quick sweep", delay=30.0)
    time.sleep(1.2)  # two ticks of the 0.5 s ticker: neither may draw before the delay
    assert progress.line.value == ""
    progress.stop()
    assert progress.line.value == "" and not progress.active
