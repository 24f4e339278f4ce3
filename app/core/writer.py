"""The small writes of requests served on the event loop, made without the loop ever waiting.

A list of matches records what showing it means: a match record for every pair seen for the
first time and an audit line for every contact detail released. A request awaits its write and
is answered only once it is committed, so nothing it showed goes unrecorded.

With SQLite the write is first tried right on the event loop, on a connection of the loop's own
that takes the write lock at once or fails (busy timeout 0): committing a few rows to the WAL
takes a fraction of a millisecond, while handing work to another thread costs more than that in
GIL hand-offs under load. When another connection holds the lock (a CLI job, another worker
process, a request in a worker thread), and always with PostgreSQL, the write goes to the
writer thread, which waits for the lock and commits everything that queued up meanwhile in one
transaction ("group commit"). When one write of a batch fails, each is written again in a
transaction of its own, so that only the failing one fails its request: a write must be safe to
repeat after a rollback.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app.core.db import loop_writer, new_session

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_BATCH = 256  # writes in one transaction of the writer thread at most

# A queued write: the work, the loop of the request that waits for it, and the future it waits on.
QueuedWrite = tuple[Callable[[Session], Any], asyncio.AbstractEventLoop, asyncio.Future[Any]]


class BatchWriter:
    def __init__(self, session_factory: Callable[[], Session] = new_session) -> None:
        self._session_factory = session_factory
        self._queue: queue.SimpleQueue[QueuedWrite | None] = queue.SimpleQueue()  # None: stop
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.on_loop = self.batches = 0  # writes made on the loop, transactions of the thread (for tests)

    async def write(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` committed; returns its result."""
        engine = loop_writer()
        if engine is not None:
            try:
                with Session(engine, expire_on_commit=False) as session:
                    result = work(session)
                    session.commit()
                self.on_loop += 1
                return result
            except OperationalError as error:
                if not _lock_taken(error):
                    raise
        self._ensure_started()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[T] = loop.create_future()
        self._queue.put((work, loop, done))
        return await done

    def close(self, timeout: float = 30) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="batch-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = None in batch
            items = [item for item in batch if item is not None]
            if items:
                self._commit(items)

    def _commit(self, items: list[QueuedWrite]) -> None:
        try:
            outcomes = [(True, result) for result in self._transaction([work for work, _, _ in items])]
        except Exception:
            logger.warning("a batch of %d writes failed: writing them one at a time", len(items))
            outcomes = []
            for work, _loop, _done in items:
                try:
                    outcomes.append((True, self._transaction([work])[0]))
                except Exception as error:
                    outcomes.append((False, error))
        for (_work, loop, done), outcome in zip(items, outcomes, strict=True):
            loop.call_soon_threadsafe(_settle, done, outcome)

    def _transaction(self, works: list[Callable[[Session], Any]]) -> list[Any]:
        with self._session_factory() as session:
            results = [work(session) for work in works]
            session.commit()
        self.batches += 1
        return results


def _lock_taken(error: OperationalError) -> bool:
    """SQLite's write lock is held by another connection (SQLITE_BUSY and its extended codes)."""
    code = getattr(error.orig, "sqlite_errorcode", None)
    return code is not None and code & 0xFF == sqlite3.SQLITE_BUSY


def _settle(done: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if done.cancelled():  # the client went away; its writes are committed all the same
        return
    succeeded, value = outcome
    if succeeded:
        done.set_result(value)
    else:
        done.set_exception(value)
