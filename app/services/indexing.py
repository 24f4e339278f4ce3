"""How a process's matching index follows the database's writes.

Every company or need write has a row in the change log (`index_change`, numbered in commit
order and written in the write's own transaction: change_log.py), so the log is a durable,
ordered queue of what the index must take in. A write is acknowledged once it is committed;
the index follows from the log:

- ``IndexFollower``, a thread per serving process, applies the log in batches: woken by the
  process's own commits (the session hook in matching.py), it also looks every POLL_SECONDS for
  writes made through other workers. Match requests go first: a batch waits until no request
  started for QUIET_SECONDS, at most READS_FIRST_SECONDS.
- ``apply_changes`` applies a batch as one write per side: one encoding batch and one new delta
  segment for many writes, instead of one per write.

Nothing is lost when a process stops or crashes: at start its index is brought in step with the
database and it goes on from the log's newest number read before (matching.py). A record that
is erased or no longer matchable leaves the index in the committing request itself
(``unwanted``, ``remove``), so its text is gone from the index and its saved files when the answer is sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping

from sqlmodel import Session, col, select

from app.matching.engine import MatchEngine
from app.matching.store import SIDES, Side
from app.models import IndexChange
from app.services.change_log import CHANGE_LOG_OVERLAP
from app.services.matchable import indexable

logger = logging.getLogger(__name__)

# Other workers' writes are noticed within this many seconds (one indexed read of the log).
POLL_SECONDS = 0.5
# A batch waits until no match request started for this long…
QUIET_SECONDS = 0.02
# …but never longer than this: under steady load a write is matched within a few seconds.
READS_FIRST_SECONDS = 1.0
# Changes applied in one batch at most (a bulk import is taken in several).
BATCH_CHANGES = 500

Change = tuple[Side, int]


def apply_changes(engine: MatchEngine, session: Session, changes: Iterable[Change]) -> None:
    """Bring the index in step with the database for these records: one upsert and at most one
    removal per side."""
    for side, ids in by_side(changes).items():
        documents, unwanted = indexable(session, side, ids)
        held = engine.snapshot(side).documents
        gone = [record_id for record_id in unwanted if record_id in held]
        if gone:
            engine.remove(side, gone)
        if documents:
            engine.upsert(documents)


def by_side(changes: Iterable[Change]) -> dict[Side, set[int]]:
    """The record ids of these changes, per side."""
    ids: dict[Side, set[int]] = {side: set() for side in SIDES}
    for side, record_id in changes:
        ids[side].add(record_id)
    return ids


def held(engine: MatchEngine, changes: Iterable[Change]) -> list[Change]:
    """Those of these records the index holds now."""
    return [(side, record_id) for side, record_id in changes if record_id in engine.snapshot(side).documents]


def unwanted(session: Session, changes: Iterable[Change]) -> dict[Side, set[int]]:
    """Of these records, per side, those the index must not hold: erased or deleted, or a
    company no longer matchable."""
    return {side: set(indexable(session, side, ids)[1]) if ids else set() for side, ids in by_side(changes).items()}


def remove(engine: MatchEngine, ids_by_side: Mapping[Side, Collection[int]]) -> None:
    """Take these records out of the index: one removal per side."""
    for side, ids in ids_by_side.items():
        if ids:
            engine.remove(side, sorted(ids))


class LogPosition:
    """How far a process has applied the change log.

    On PostgreSQL two transactions can commit out of sequence order, so each read goes back
    CHANGE_LOG_OVERLAP numbers below the newest applied one and skips those applied already."""

    def __init__(self, applied_through: int = 0) -> None:
        self.applied_through = applied_through
        self._recently_applied: set[int] = set()

    def reset(self, applied_through: int) -> None:
        self.applied_through = applied_through
        self._recently_applied.clear()

    def unapplied(self, session: Session, limit: int = BATCH_CHANGES) -> list[tuple[int, Change]]:
        """Up to ``limit`` logged changes not applied yet, oldest first, with their numbers."""
        rows = session.exec(
            select(IndexChange.id, IndexChange.side, IndexChange.record_id)
            .where(col(IndexChange.id) > self.applied_through - CHANGE_LOG_OVERLAP)
            .order_by(col(IndexChange.id))
            .limit(limit + CHANGE_LOG_OVERLAP)
        ).all()
        fresh = [(number, (side, record_id)) for number, side, record_id in rows
                 if number is not None and number not in self._recently_applied]
        return fresh[:limit]  # type: ignore[return-value]  # sides are logged as Side

    def mark_applied(self, numbers: Collection[int]) -> None:
        self._recently_applied.update(numbers)
        if numbers:
            self.applied_through = max(self.applied_through, max(numbers))
        floor = self.applied_through - CHANGE_LOG_OVERLAP
        self._recently_applied = {number for number in self._recently_applied if number > floor}


class IndexFollower:
    """A thread that applies the change log to the index (see the module docstring).

    ``catch_up`` applies what is logged and returns how many changes it applied;
    ``last_read_at`` tells when a match request last started (monotonic seconds)."""

    def __init__(self, catch_up: Callable[[], int], last_read_at: Callable[[], float]) -> None:
        self._catch_up = catch_up
        self._last_read_at = last_read_at
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.behind = False  # whether changes are known to wait (a commit woke it, or a batch was full)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="matching-index-follower", daemon=True)
            self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Changes were committed: apply them soon."""
        self.behind = True
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            if self._stopping:
                return
            self._let_reads_go_first()
            try:
                applied = self._catch_up()
            except Exception:  # the log keeps the changes: the next round tries again
                logger.exception("applying the change log to the matching index failed")
                time.sleep(POLL_SECONDS)
                continue
            if applied >= BATCH_CHANGES:
                self._wake.set()  # more waiting: go on without sleeping
            else:
                self.behind = self._wake.is_set()

    def _let_reads_go_first(self) -> None:
        deadline = time.monotonic() + READS_FIRST_SECONDS
        while not self._stopping and time.monotonic() < deadline:
            if time.monotonic() - self._last_read_at() >= QUIET_SECONDS:
                return
            time.sleep(QUIET_SECONDS)
