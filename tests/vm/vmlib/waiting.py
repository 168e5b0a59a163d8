"""Waiting for conditions instead of sleeping blindly."""
import time

from .errors import VmError


def wait_until(condition, timeout, what, interval=0.05):
    """Polls `condition()` until it returns a true value, which is returned.

    Raises VmError("timed out after Ns waiting for <what>") otherwise.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise VmError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)
