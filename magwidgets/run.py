"""One run loop for every iterative method: inverse design and variational Monte Carlo alike.

A run advances in chunks of ``snapshot_every`` steps. Between chunks, :class:`RunLoop` yields a snapshot, calls
the callbacks (one that returns False ends the run), applies the method's stop rules, writes checkpoints on their
cadence and honours pause and stop requests from other threads (a live display's worker runs the loop; the
display's thread only sets flags). A method subclasses it and supplies the steps (:meth:`RunLoop._advance`), its
snapshot (:meth:`RunLoop.snapshot`) and, if it can be resumed, :meth:`RunLoop.save`.

The loop's shape follows NetKet's ``AbstractVariationalDriver.run``: the driver owns the loop, the method owns a
step, and everything else (progress bars, live plots, stopping criteria) hangs on the loop as callbacks.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator, Optional, Sequence


class RunLoop:
    """Chunks of steps, snapshots, callbacks, stop rules, checkpoints, pause and stop.

    Parameters
    ----------
    snapshot_every : int
        Steps per chunk: snapshots, callbacks, stop rules and pause/stop act between chunks.
    callbacks : sequence of callable(snapshot) -> bool | None
        Called with every snapshot; returning False stops the run (``reason`` "callback").
    checkpoint : path, optional
        Where :meth:`save` writes checkpoints: every ``checkpoint_every`` steps and/or ``checkpoint_seconds``
        seconds, and when the run ends.

    Attributes
    ----------
    step : int
        Steps taken so far.
    wall_time : float
        Seconds spent computing steps (not paused, not between chunks).
    reason : str
        "not started", "running", or why the last :meth:`iterate` ended: "steps" (all done), "stopped"
        (:meth:`stop`), "callback", or a stop rule's own reason.
    """

    def __init__(self, snapshot_every: int, callbacks: Sequence[Callable] = (), checkpoint: Optional[str] = None,
                 checkpoint_every: Optional[int] = None, checkpoint_seconds: Optional[float] = None) -> None:
        if snapshot_every < 1:
            raise ValueError(f"snapshot_every must be >= 1, got {snapshot_every}")
        if checkpoint_every is not None and checkpoint_every < 1:
            raise ValueError(f"checkpoint_every must be >= 1 step, got {checkpoint_every}")
        if checkpoint_seconds is not None and not checkpoint_seconds >= 0:
            raise ValueError(f"checkpoint_seconds must be >= 0, got {checkpoint_seconds}")
        if (checkpoint_every or checkpoint_seconds) and checkpoint is None:
            raise ValueError("checkpoint_every/checkpoint_seconds need a checkpoint path")
        self.snapshot_every = int(snapshot_every)
        self.callbacks = list(callbacks)
        self.checkpoint, self.checkpoint_every, self.checkpoint_seconds = checkpoint, checkpoint_every, checkpoint_seconds
        self.step, self.wall_time, self.reason = 0, 0.0, "not started"
        self._saved_step: Optional[int] = None
        self._running = threading.Event()
        self._running.set()
        self._stop_requested = False

    # -- what a method supplies ---------------------------------------------------------------------------------
    def _advance(self, n_steps: int) -> None:
        """Take ``n_steps`` steps (recording their history); the loop then adds them to :attr:`step`."""
        raise NotImplementedError

    def snapshot(self, steps_per_second: float = 0.0) -> Any:
        """What a display draws of the run now."""
        raise NotImplementedError

    def compile(self) -> None:
        """Compile the steps now, so that a live display's first Run steps at once (nothing to do by default)."""

    def _stop_rule(self) -> Optional[str]:
        """After each chunk: the reason to end the run now (e.g. "tolerance"), or None to go on."""
        return None

    def save(self, path: str) -> None:
        """Write a checkpoint that :attr:`checkpoint` runs resume from (needed only with a checkpoint path)."""
        raise NotImplementedError(f"{type(self).__name__} does not write checkpoints")

    # -- control from other threads -----------------------------------------------------------------------------
    def pause(self) -> None:
        """Hold before the next chunk (the one in flight finishes)."""
        self._running.clear()

    def unpause(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """End the run before the next chunk; a paused run ends at once."""
        self._stop_requested = True
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop_requested

    def wait_while_paused(self) -> None:
        """Block until the run is unpaused or stopped."""
        self._running.wait()

    # -- the loop -----------------------------------------------------------------------------------------------
    def iterate(self, steps: int) -> Iterator[Any]:
        """Advance until ``steps`` steps in total have been taken (or the run ends otherwise), yielding snapshots.

        The first snapshot is the current state; then one after every chunk.
        """
        self._stop_requested = False
        self.reason = "running"
        yield self._emit(self.snapshot())
        if self.reason != "running":
            return
        last_checkpoint = time.perf_counter()
        while self.step < steps:
            self.wait_while_paused()
            if self._stop_requested:
                self.reason = "stopped"
                break
            n_steps = min(self.snapshot_every, steps - self.step)
            if self.checkpoint_every:  # chunks end on the checkpoint cadence
                n_steps = min(n_steps, self.checkpoint_every - self.step % self.checkpoint_every)
            started = time.perf_counter()
            self._advance(n_steps)
            elapsed = time.perf_counter() - started
            self.wall_time += elapsed
            self.step += n_steps
            self.reason = self._stop_rule() or "running"
            if self.checkpoint and (
                (self.checkpoint_every and self.step % self.checkpoint_every == 0)
                or (self.checkpoint_seconds and time.perf_counter() - last_checkpoint >= self.checkpoint_seconds)
            ):
                self.save(self.checkpoint)
                last_checkpoint = time.perf_counter()
            yield self._emit(self.snapshot(n_steps / elapsed))
            if self.reason != "running":
                break
        else:
            self.reason = "steps"
        if self.checkpoint and self._saved_step != self.step:
            self.save(self.checkpoint)

    def _emit(self, snapshot: Any) -> Any:
        if any(callback(snapshot) is False for callback in self.callbacks):
            self.reason = "callback"
        return snapshot
