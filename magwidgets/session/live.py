"""Drive a run (a :class:`~magwidgets.design.Design`, a :class:`~magwidgets.vmc.VMC`: any
:class:`~magwidgets.run.RunLoop`) off the caller's thread for live displays.

A notebook cell or a Voila kernel that looped over ``iterate`` itself would block the kernel's message loop,
so Run/Pause/Stop clicks would never arrive. :class:`LiveRun` iterates in
one background thread and hands snapshots to a display callback at most every ``min_interval`` seconds; the
caller's thread only sets flags. It adds no loop of its own: the steps, stop rules and checkpoints are the
run loop's.
"""
from __future__ import annotations

import atexit
import threading
import time
import traceback
import weakref
from typing import Any, Callable, Optional

from ..run import RunLoop
from .slots import ComputeSlots

STATES = ("idle", "queued", "compiling", "ready", "running", "paused", "stopped", "finished", "failed")
_RUNS: "weakref.WeakSet[LiveRun]" = weakref.WeakSet()


@atexit.register
def _stop_runs_at_exit() -> None:
    """Let workers leave XLA before the interpreter goes: a daemon thread that is still computing when Python
    finalises aborts the process (C++ forced unwinding)."""
    for run in list(_RUNS):
        run.cancel(timeout=10.0)


class LiveRun:
    """One run (its driver: a design, a VMC) in a background thread.

    Parameters
    ----------
    build : callable() -> RunLoop
        Builds the run (target, objective, initial state); called in the worker, so its compile time never
        blocks the caller.
    on_snapshot : callable(snapshot, driver)
        Renders a snapshot; called in the worker thread at most every ``min_interval`` seconds, and always for
        the last snapshot before the run pauses or ends.
    on_state : callable(str, Optional[str]), optional
        Told every state change (one of :data:`STATES`) with a message (the error text when "failed").
    min_interval : float
        Seconds between rendered snapshots; 0.1 keeps a display at ~10 frames/s.
    slots : ComputeSlots, optional
        Compute slots shared with other kernels of the same server (default: those of
        :meth:`ComputeSlots.from_environment`, i.e. none outside ``magwidgets dashboard``). Compiling and stepping
        happen only while a slot is held; a run waiting for one is "queued" and its message says how many runs are
        ahead; a paused run holds none; a run steps back into the queue when its time slice is over and others wait.

    States: "idle" -> "compiling" -> "ready" -> "running" <-> "paused" -> "stopped" | "finished" | "failed",
    with "queued" before "compiling" or "running" whenever the run waits for a compute slot.
    From "stopped", "finished" or "failed", :meth:`run` continues the same driver (after a failure, from its last
    good state: the driver only ever commits finite steps).
    """

    def __init__(self, build: Callable[[], RunLoop], on_snapshot: Callable[[Any, RunLoop], None],
                 on_state: Optional[Callable[[str, Optional[str]], None]] = None, min_interval: float = 0.1,
                 slots: Optional[ComputeSlots] = None) -> None:
        self._build, self._on_snapshot, self._on_state = build, on_snapshot, on_state
        self.min_interval = float(min_interval)
        self._slots = slots if slots is not None else ComputeSlots.from_environment()
        _RUNS.add(self)
        self.driver: Optional[RunLoop] = None
        self.latest: Any = None
        self.state, self.message = "idle", None
        self.error: Optional[BaseException] = None
        self.traceback = ""
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._cancelled = False
        self._pause_requested = False
        self._queued_steps: Optional[int] = None
        self._place: Optional[str] = None  # the place in the compute-slot queue, as last told
        self._held = threading.Event()

    # -- control (from any thread; never blocks on the computation) ---------------------------------------------
    def prepare(self) -> None:
        """Build and compile in the background so that the first :meth:`run` starts stepping at once."""
        self._launch(None)

    def run(self, steps: int) -> None:
        """Run ``steps`` more steps, or continue a paused run."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        with self._lock:
            if self.state == "paused" and self.busy:
                self._pause_requested = False
                if self.driver is None:  # paused while queued or compiling: run once compiled
                    self._queued_steps = int(steps)
                    if self._slots is not None and not self._slots.held:
                        self._set_state("queued", self._place)
                    else:
                        self._set_state("compiling")
                else:
                    self.driver.unpause()
                    self._set_state("running")
                return
        self._launch(int(steps))

    def pause(self) -> None:
        """Hold the run after the current chunk; :meth:`wait_until_held` tells when the worker holds.

        The state becomes "paused" at once (the click is acknowledged); once the worker has finished its chunk,
        shown the last snapshot and stopped computing, the state is told again as "paused" with the message
        "at step N".
        """
        with self._lock:
            if self.state in ("running", "compiling", "queued"):
                self._pause_requested = True
                if self.driver is not None:
                    self.driver.pause()
                self._set_state("paused")

    def wait_until_held(self, timeout: Optional[float] = None) -> bool:
        """Block until a paused run's worker holds (computes nothing and shows nothing until Run), or has ended.

        Returns False on timeout. After True, :attr:`latest` is the snapshot the run holds at.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (self._held.is_set() or not self.busy):
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._held.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def stop(self) -> None:
        """End the run after the current chunk; the driver and its last snapshot are kept."""
        self._pause_requested = False
        if self.driver is not None:
            self.driver.stop()

    def cancel(self, timeout: float = 30.0) -> None:
        """Stop and detach: no further callbacks, the worker is joined (a compile in progress finishes first)."""
        self._cancelled = True
        self.stop()
        self.join(timeout)

    def join(self, timeout: Optional[float] = None) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    @property
    def run_requested(self) -> bool:
        """True while Run has been asked for but the driver is still being built (or queued to be)."""
        return self.driver is None and self._queued_steps is not None and self.busy

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the worker ---------------------------------------------------------------------------------------------
    def _launch(self, steps: Optional[int]) -> None:
        with self._lock:
            if self.busy:
                # a worker that has not built its driver reads the steps after compiling; "idle" is the moment
                # before it says "compiling" (a Run pressed then was dropped, and the run ended "ready")
                if steps is not None and self.state in ("idle", "compiling", "queued") and self.driver is None:
                    self._queued_steps = steps
                    self._pause_requested = False  # Run is the later click
                    self._set_state(self.state, self.message)  # the display acknowledges the click at once
                return
            self._queued_steps, self._pause_requested = steps, False
            self._thread = threading.Thread(target=self._work, name="magwidgets-run", daemon=True)
            self._thread.start()

    def _set_state(self, state: str, message: Optional[str] = None) -> None:
        self.state, self.message = state, message
        if self._on_state is not None and not self._cancelled:
            self._on_state(state, message)

    def _show(self, snapshot: Any) -> None:
        if not self._cancelled:
            self._on_snapshot(snapshot, self.driver)

    def _hold_slot(self, phase: str) -> bool:
        """Wait for a compute slot (when the server shares them), then enter ``phase``; False if cancelled.

        A paused run waits for Run without holding a slot; a stopped one does not queue.
        """
        slots = self._slots
        if slots is None or slots.held:
            return not self._cancelled
        driver = self.driver

        def interrupted() -> bool:
            return self._cancelled or (driver is not None and (driver.paused or driver.stopping))

        def show_place(ahead: int) -> None:
            # under the lock that Pause takes, and never over a Pause: a "queued" told over "paused" would make Run
            # find no paused run to continue, and the run would compile and stay paused at step 0
            with self._lock:
                self._place = f"{ahead} run{'s' * (ahead != 1)} ahead" if ahead else "next"
                if not interrupted() and not self._pause_requested:
                    self._set_state("queued", self._place)

        while not slots.held:
            if self._cancelled or (driver is not None and driver.stopping):
                return False
            if driver is not None and driver.paused:
                self._hold_while_paused()
                continue
            slots.acquire(show_place, interrupted)
        with self._lock:
            if self.state == "queued":
                self._set_state(phase)
        return True

    def _hold_while_paused(self) -> None:
        """Between chunks: while paused, hold here (the last snapshot is already shown) and say so."""
        driver = self.driver
        while driver.paused and not driver.stopping and not self._cancelled:
            with self._lock:  # Run takes the same lock to unpause, so "held" is never told of a running run
                if not driver.paused:
                    break
                self._held.set()
                self._set_state("paused", f"at step {driver.step}")
            driver.wait_while_paused()
        self._held.clear()

    def _work(self) -> None:
        try:
            if self.driver is None:
                if not self._hold_slot("compiling"):
                    return
                with self._lock:  # a run paused while it waited compiles, and says "paused" until Run
                    if not self._pause_requested:
                        self._set_state("compiling")
                driver = self._build()
                driver.compile()
                self.driver = driver
                if self._pause_requested:
                    driver.pause()
            steps = self._queued_steps
            if steps is None or self._cancelled:
                self._set_state("ready")
                return
            with self._lock:  # as in _hold_slot: never tell "running" over a Pause that came in between
                if not self._pause_requested:
                    self._set_state("running")
            shown_at, shown = None, None  # monotonic clock; None: the first snapshot is always shown
            for snapshot in self.driver.iterate(self.driver.step + steps):
                self.latest = snapshot
                now = time.monotonic()
                if self.driver.paused or shown_at is None or now - shown_at >= self.min_interval:
                    self._show(snapshot)
                    shown_at, shown = now, snapshot
                if self._slots is not None and (self.driver.paused or self._slots.should_yield()):
                    self._slots.release()  # others compute while this run is paused or has had its turn
                self._hold_while_paused()
                if self._slots is not None and not self._hold_slot("running"):
                    self.driver.stop()
            if shown is not self.latest:
                self._show(self.latest)
            self._set_state("stopped" if self.driver.reason == "stopped" else "finished", self.driver.reason)
        except Exception as error:  # the panel shows it; the driver keeps its last good state
            self.error, self.traceback = error, traceback.format_exc()
            self._set_state("failed", f"{type(error).__name__}: {error}")
        finally:
            self._held.clear()
            if self._slots is not None:
                self._slots.release()
