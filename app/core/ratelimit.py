"""A small sliding-window rate limiter, per client key, kept in process memory.

Enough for one worker; several workers each keep their own window (documented in the README).
"""

import math
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class RateLimiter:
    def __init__(self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str) -> int:
        """Counts one request; returns 0 when allowed, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - self.window_seconds:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(math.ceil(hits[0] + self.window_seconds - now)))
            hits.append(now)
            if len(self._hits) > 100_000:  # forget idle clients so memory stays bounded
                self._forget_idle(now)
            return 0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_seconds]:
            del self._hits[key]
