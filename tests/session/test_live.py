"""LiveRun: the driver in a worker thread. Pausing must not change the trajectory; errors keep the last good state."""
import threading
import time

import numpy as np

from magwidgets.session.live import LiveRun

from polling import wait_until


def test_pause_and_continue_repeat_the_uninterrupted_trajectory(build):
    reference = build().run(40).history["loss"]
    shown, states = [], []
    run = LiveRun(build, lambda snapshot, design: shown.append(snapshot.step),
                  lambda state, message: states.append(state), min_interval=0.0)
    run.run(40)
    wait_until(lambda: run.latest is not None and run.latest.step >= 4)
    run.pause()
    assert run.wait_until_held(60), "the worker did not hold within 60 s of Pause"
    held = run.latest.step
    assert (run.state, run.message) == ("paused", f"at step {held}") and held < 40
    assert shown[-1] == held  # the held state is on screen
    time.sleep(0.5)  # a held worker never steps, however long it waits
    assert run.latest.step == held and run.driver.step == held
    run.run(40)
    run.join(60)
    assert run.state == "finished" and run.driver.step == 40
    np.testing.assert_allclose(run.driver.history()["loss"], reference, rtol=0, atol=1e-12)
    assert shown[-1] == 40 and shown == sorted(shown)
    assert states[:3] == ["compiling", "running", "paused"] and states[-1] == "finished"


def test_display_is_throttled_but_always_shows_the_last_state(build):
    shown = []
    run = LiveRun(build, lambda snapshot, design: shown.append(snapshot.step), min_interval=3600.0)
    run.run(20)
    run.join(60)
    assert shown == [0, 20]  # the first frame, then nothing until the end: the final state is never skipped


def test_the_first_frame_shows_on_a_machine_booted_a_moment_ago(build, monkeypatch):
    # the monotonic clock counts from boot: a just-booted classroom server or CI machine reads ~1 s
    clock = iter(np.arange(0.5, 1000.0, 0.001))
    monkeypatch.setattr("magwidgets.session.live.time.monotonic", lambda: float(next(clock)))
    shown = []
    run = LiveRun(build, lambda snapshot, design: shown.append(snapshot.step), min_interval=10.0)
    run.run(20)
    run.join(60)
    assert shown == [0, 20]


def test_an_error_in_the_worker_keeps_the_last_good_state_and_run_continues(build):
    failing = threading.Event()
    failing.set()

    def show(snapshot, design):
        if failing.is_set() and snapshot.step >= 6:
            raise RuntimeError("display exploded")

    states = []
    run = LiveRun(build, show, lambda state, message: states.append((state, message)), min_interval=0.0)
    run.run(30)
    run.join(60)
    assert run.state == "failed" and "display exploded" in states[-1][1]
    step = run.driver.step
    assert 6 <= step < 30
    assert np.all(np.isfinite(np.asarray(run.driver.state.params)))
    failing.clear()
    run.run(30 - step)
    run.join(60)
    assert run.state == "finished" and run.driver.step == 30


def test_a_failing_build_reports_and_a_later_run_retries(build):
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("target.values: NaN at unmasked points")
        return build()

    run = LiveRun(flaky, lambda snapshot, design: None)
    run.run(4)
    run.join(60)
    assert run.state == "failed" and "NaN" in run.message and run.driver is None
    run.run(4)
    run.join(60)
    assert run.state == "finished" and run.driver.step == 4


def test_cancel_silences_callbacks(build):
    shown = []
    run = LiveRun(build, lambda snapshot, design: shown.append(snapshot.step), min_interval=0.0)
    run.run(10_000)
    wait_until(lambda: len(shown) >= 2)
    run.cancel()  # joins the worker: no callback can come after it
    count = len(shown)
    assert not run.busy and run.driver.step < 10_000
    run.join(1)
    assert len(shown) == count


class _GateBeforeCompiling:
    """Compute slots that are always held, but whose first look holds the worker until the test opens the gate:
    the moment after :meth:`LiveRun.prepare` started the worker and before it says "compiling"."""

    def __init__(self) -> None:
        self.reached, self.gate = threading.Event(), threading.Event()

    @property
    def held(self) -> bool:
        if not self.reached.is_set():
            self.reached.set()
            assert self.gate.wait(60), "the test never opened the gate"
        return True

    def should_yield(self) -> bool:
        return False

    def release(self) -> None:
        pass


def test_run_pressed_while_the_preparation_is_starting_is_kept(build):
    slots = _GateBeforeCompiling()
    run = LiveRun(build, lambda snapshot, design: None, min_interval=0.0, slots=slots)
    run.prepare()
    assert slots.reached.wait(60), "the preparation did not start within 60 s"
    assert run.state == "idle" and run.busy
    run.run(6)  # the studio's Run, pressed the moment the page is built
    slots.gate.set()
    run.join(120)
    assert run.state == "finished" and run.driver.step == 6  # not "ready" with the click lost
