"""Compute slots shared by the kernels of one server: at most `count` compute, the rest queue first come first
served, a killed holder frees its slot, time slices let every run advance, and paused runs hold nothing."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from magwidgets.session.live import LiveRun
from magwidgets.session.slots import SLOTS_ENVIRONMENT, ComputeSlots

from polling import wait_until


def test_at_most_count_holders_and_the_queue_is_first_come_first_served(tmp_path):
    holders = [ComputeSlots(str(tmp_path), 2, poll=0.01) for _ in range(2)]
    assert all(slots.acquire() for slots in holders)
    order, places = [], {}

    def wait(index):
        slots = ComputeSlots(str(tmp_path), 2, poll=0.01)
        places[index] = []
        slots.acquire(on_wait=places[index].append)
        order.append(index)
        time.sleep(0.05)
        slots.release()

    waiters = []
    for index in range(3):
        waiters.append(threading.Thread(target=wait, args=(index,)))
        waiters[-1].start()
        wait_until(lambda: len(places.get(index, ())) > 0)
    assert [places[index][0] for index in range(3)] == [0, 1, 2]  # each is told how many runs are ahead
    assert order == [] and holders[0].waiting() == 3
    holders[0].release()
    for waiter in waiters:
        waiter.join(120)
    assert order == [0, 1, 2]
    holders[1].release()
    assert os.listdir(tmp_path) and not [name for name in os.listdir(tmp_path) if name.startswith("ticket-")]


def test_a_killed_holder_frees_its_slot_and_its_stale_ticket_is_ignored(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from magwidgets.session.slots import ComputeSlots; "
        f"slots = ComputeSlots({str(tmp_path)!r}, 1); slots.acquire(); print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / f"ticket-{0:020d}-{dead.pid}-1").touch()  # left behind by a process that died waiting
    slots = ComputeSlots(str(tmp_path), 1, poll=0.01)
    assert not slots.acquire(cancelled=lambda: True)  # the live holder has the only slot
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 120  # generous: the point is that it comes, not how fast
    assert slots.acquire(cancelled=lambda: time.monotonic() > deadline), "the dead holder's slot never came free"
    assert slots.waiting() == 0 and not [name for name in os.listdir(tmp_path) if name.startswith("ticket-")]
    slots.release()


def test_environment_names_the_servers_slots(tmp_path, monkeypatch):
    monkeypatch.setenv(SLOTS_ENVIRONMENT, f"3:{tmp_path}")
    slots = ComputeSlots.from_environment()
    assert slots.count == 3 and slots.folder == str(tmp_path)
    monkeypatch.setenv(SLOTS_ENVIRONMENT, "")
    assert ComputeSlots.from_environment() is None
    with pytest.raises(ValueError, match="count must be >= 1"):
        ComputeSlots(str(tmp_path), 0)


def test_two_runs_share_one_slot_by_time_slices_and_both_keep_their_trajectories(build, tmp_path):
    reference = build().run(60).history["loss"]
    states = {0: [], 1: []}
    runs = [LiveRun(build, lambda snapshot, design: None, lambda state, message, index=index: states[index].append(
        (state, message)), min_interval=0.0, slots=ComputeSlots(str(tmp_path), 1, time_slice=0.0, poll=0.01))
        for index in range(2)]
    for run in runs:
        run.run(60)
    for run in runs:
        run.join(120)
    for index, run in enumerate(runs):
        assert run.state == "finished" and run.driver.step == 60
        np.testing.assert_allclose(run.driver.history()["loss"], reference, rtol=0, atol=1e-12)
    # they took turns: each waited for the slot at least once after it had started stepping
    for index in range(2):
        sequence = [state for state, _ in states[index]]
        assert "running" in sequence and "queued" in sequence[sequence.index("running"):]


def test_a_paused_run_gives_its_slot_to_a_waiting_one(build, tmp_path):
    first = LiveRun(build, lambda snapshot, design: None, min_interval=0.0,
                    slots=ComputeSlots(str(tmp_path), 1, time_slice=3600, poll=0.01))
    first.run(10_000)
    wait_until(lambda: first.latest is not None and first.latest.step >= 4)
    messages = []
    second = LiveRun(build, lambda snapshot, design: None, lambda state, message: messages.append((state, message)),
                     min_interval=0.0, slots=ComputeSlots(str(tmp_path), 1, time_slice=3600, poll=0.01))
    second.run(20)
    wait_until(lambda: ("queued", "next") in messages)
    time.sleep(0.3)
    assert second.driver is None  # it may not even compile while the other computes
    first.pause()
    second.join(120)
    assert second.state == "finished" and second.driver.step == 20
    held = first.latest.step
    first.run(10_000)  # continues once it has the slot back
    wait_until(lambda: first.latest.step > held)
    first.cancel()


class _PlacesSeen(ComputeSlots):
    """Compute slots that also record each place in the queue after the run was told it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.places = []

    def acquire(self, on_wait=lambda ahead: None, cancelled=lambda: False) -> bool:
        return super().acquire(lambda ahead: (on_wait(ahead), self.places.append(ahead)), cancelled)


def test_a_run_paused_in_the_queue_stays_paused_as_the_queue_moves_and_runs_on_run(build, tmp_path):
    """Pause on a queued run, the queue moves on, then Run: the run computes its steps (it used to show "queued"
    again, take Run for a click on a queued run, and end compiled and paused at step 0)."""
    blocker = ComputeSlots(str(tmp_path), 1, poll=0.01)
    assert blocker.acquire()
    ahead = ComputeSlots(str(tmp_path), 1, poll=0.01)
    got_slot = threading.Event()
    waiter = threading.Thread(target=lambda: ahead.acquire() and got_slot.set(), daemon=True)
    waiter.start()
    wait_until(lambda: blocker.waiting() == 1)
    states = []
    slots = _PlacesSeen(str(tmp_path), 1, poll=0.01)
    run = LiveRun(build, lambda snapshot, design: None, lambda state, message: states.append((state, message)),
                  min_interval=0.0, slots=slots)
    run.run(20)
    wait_until(lambda: 1 in slots.places)
    assert run.state == "queued" and run.message == "1 run ahead"
    run.pause()
    assert run.state == "paused"
    blocker.release()  # the run ahead takes the slot: this run is next
    wait_until(lambda: got_slot.is_set() and 0 in slots.places)
    assert run.state == "paused", states[-3:]
    run.run(20)
    assert run.state == "queued" and run.message == "next"
    ahead.release()
    run.join(120)
    assert run.state == "finished" and run.driver.step == 20, states[-5:]
