"""Share a server's cores among the live runs of many kernels: a few compute slots, a visible queue, time slices.

Thirty students pressing Run on a 2-core server would start thirty optimisations that each get a fifteenth of a
core, while the kernels' message loops and the Voila server compete with them for the same cores, so clicks are
answered late and every frame arrives late. :class:`ComputeSlots` lets at most ``count`` runs compute at once,
across all the kernel processes of one server; the others wait in a first-come queue and are told their place,
and a run that has held a slot for ``time_slice`` seconds while others wait steps back to the end of the queue,
so every session advances.

The slots are ``flock`` locks on files in a folder that only the server's user can read (``magwidgets dashboard``
creates it and passes it to the kernels as ``MAGWIDGETS_SLOTS``). The kernel releases a lock when its process
dies, so a killed kernel never holds a slot; a waiting ticket of a dead process is ignored and removed.
"""
from __future__ import annotations

import errno
import fcntl
import os
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

SLOTS_ENVIRONMENT = "MAGWIDGETS_SLOTS"  # "<count>:<folder>", set by ``magwidgets dashboard`` for its kernels


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM
    return True


class ComputeSlots:
    """At most ``count`` holders at once among all processes sharing ``folder``; the rest queue in order.

    Parameters
    ----------
    folder : str
        A private folder shared by the cooperating processes (created with mode 0700 if missing).
    count : int
        Runs that may compute at once (the server's cores is a good choice).
    time_slice : float
        Seconds a holder keeps its slot while others wait before :meth:`should_yield` says to step back.
    poll : float
        Seconds between looks at the queue while waiting.
    """

    def __init__(self, folder: str, count: int, time_slice: float = 5.0, poll: float = 0.1) -> None:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        self.folder, self.count, self.time_slice, self.poll = folder, int(count), float(time_slice), float(poll)
        self._held: Optional[int] = None  # file descriptor of the slot this object holds
        self._held_since = 0.0

    @classmethod
    def from_environment(cls) -> Optional["ComputeSlots"]:
        """The server's slots when this kernel was started by ``magwidgets dashboard``, else None (no limit)."""
        value = os.environ.get(SLOTS_ENVIRONMENT, "")
        count, _, folder = value.partition(":")
        if not count.isdigit() or not folder:
            return None
        return cls(folder, int(count))

    # -- the queue ----------------------------------------------------------------------------------------------
    def _tickets(self) -> list[str]:
        """Waiting tickets of live processes, oldest first (dead ones are removed)."""
        tickets = []
        for name in sorted(os.listdir(self.folder)):
            if not name.startswith("ticket-"):
                continue
            pid = int(name.split("-")[2])
            if _alive(pid):
                tickets.append(name)
            else:
                try:
                    os.unlink(os.path.join(self.folder, name))
                except FileNotFoundError:
                    pass
        return tickets

    def waiting(self) -> int:
        """How many runs are queued now."""
        return len(self._tickets())

    def _try_lock(self) -> Optional[int]:
        for index in range(self.count):
            descriptor = os.open(os.path.join(self.folder, f"slot-{index}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return descriptor
            except BlockingIOError:
                os.close(descriptor)
        return None

    def acquire(self, on_wait: Callable[[int], None] = lambda ahead: None,
                cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Block until a slot is held; ``on_wait(runs ahead)`` is told the place in the queue as it changes.

        Returns False (holding nothing) if ``cancelled()`` becomes true while waiting.
        """
        if self._held is not None:
            return True
        ticket = os.path.join(self.folder, f"ticket-{time.time_ns():020d}-{os.getpid()}-{id(self)}")
        open(ticket, "w").close()
        try:
            told = None
            while True:
                tickets = self._tickets()
                name = os.path.basename(ticket)
                ahead = tickets.index(name) if name in tickets else 0
                # only the oldest ticket may take a free slot: first come, first served, and a run that steps back
                # after its time slice cannot take its own slot again ahead of those already waiting
                if ahead == 0:
                    descriptor = self._try_lock()
                    if descriptor is not None:
                        self._held, self._held_since = descriptor, time.monotonic()
                        return True
                if ahead != told:
                    on_wait(ahead)
                    told = ahead
                if cancelled():
                    return False
                time.sleep(self.poll)
        finally:
            os.unlink(ticket)

    def release(self) -> None:
        if self._held is not None:
            fcntl.flock(self._held, fcntl.LOCK_UN)
            os.close(self._held)
            self._held = None

    @property
    def held(self) -> bool:
        return self._held is not None

    def should_yield(self) -> bool:
        """True when this holder's time slice is over and another run is waiting for a slot."""
        return (self._held is not None and time.monotonic() - self._held_since >= self.time_slice
                and self.waiting() > 0)

    @contextmanager
    def holding(self, on_wait: Callable[[int], None] = lambda ahead: None,
                cancelled: Callable[[], bool] = lambda: False) -> Iterator[bool]:
        """``with slots.holding(...) as held:`` acquire (unless cancelled), always release."""
        try:
            yield self.acquire(on_wait, cancelled)
        finally:
            self.release()
