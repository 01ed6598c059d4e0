"""Waiting in tests: poll a condition against a generous deadline, never a fixed sleep."""
import time


def wait_until(condition, timeout: float = 60.0, message: str = "timed out", interval: float = 0.01):
    """The first truthy value of ``condition()``, polled every ``interval`` s.

    Raises AssertionError with ``message`` once ``timeout`` s have passed without one.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (waited {timeout:g} s)")
        time.sleep(interval)
