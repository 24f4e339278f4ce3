"""How many companies a list holds when no index serves its filter, reused for a few seconds
when it is costly.

A text filter (``q``) compares every company's name and description, an NLD area or sector
filter every company's list of them: at 100,000 companies the count behind a list's first page
reads them all (100–250 ms), while the page itself is read from the name index in a
millisecond. A count that took longer than ``COSTLY_SECONDS`` is kept per filter and given again
while no company or need was written since, or for ``LAG_SECONDS`` while writes come in: a busy
list's count may then leave out the last few seconds' registrations, never its rows. Cheap
counts (every list of a small register) are made anew each time.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import NamedTuple

from sqlmodel import Session

from app.services.change_log import latest_change

COSTLY_SECONDS = 0.05
LAG_SECONDS = 5.0
KEPT = 128  # filters


class _Kept(NamedTuple):
    total: int
    change: int  # the change log's position when it was made
    made_at: float


class CountKeeper:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[Hashable, _Kept] = OrderedDict()

    def count(self, session: Session, key: Hashable, make: Callable[[], int]) -> int:
        """The count for the filters ``key``: kept, or made by ``make``."""
        change = latest_change(session)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and (kept.change == change or time.monotonic() - kept.made_at < LAG_SECONDS):
            return kept.total
        started = time.monotonic()
        count = make()
        if time.monotonic() - started >= COSTLY_SECONDS:
            with self._lock:
                self._kept[key] = _Kept(count, change, time.monotonic())
                self._kept.move_to_end(key)
                while len(self._kept) > KEPT:
                    self._kept.popitem(last=False)
        else:
            with self._lock:
                self._kept.pop(key, None)
        return count


scanned = CountKeeper()
