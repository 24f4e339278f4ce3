"""Waiting, with a deadline, for what a background thread or another process does."""

import time
from collections.abc import Callable


def wait_until(condition: Callable[[], object], seconds: float = 15, interval: float = 0.05) -> bool:
    """Whether `condition()` holds within `seconds`, asked every `interval` seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
