"""Database engine and sessions.

SQLite runs in WAL mode with a busy timeout so the web workers and the CLI can share one file;
PostgreSQL is selected by ``KOPPELKANS_DATABASE_URL``. Statements' values never appear in an
error's message (``hide_parameters``): they are personal data. SQLite overwrites deleted
content (``secure_delete``), and ``forget_erased_pages`` moves the write-ahead log into the
database file after an erasure, so an erased company's text is in no file of the data folder.
"""

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

import anyio
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool
from sqlmodel import Session, create_engine

from app.core.config import get_settings

logger = logging.getLogger(__name__)


def _configure_sqlite(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10}, hide_parameters=True)
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20, hide_parameters=True)


CHECKPOINT_TRIES = 3
CHECKPOINT_WAIT_MS = 2000  # per try, for readers of older pages to finish


def forget_erased_pages(engine: Engine | None = None) -> bool:
    """SQLite: copy the write-ahead log into the database file and empty it (its frames still hold
    the pages as they were before an erasure; the database file's own copies were overwritten,
    ``secure_delete``). Waits a little for readers of older pages; True when the log is empty.
    Other databases: nothing to do (True)."""
    engine = engine or get_engine()
    if engine.dialect.name != "sqlite":
        return True
    for attempt in range(CHECKPOINT_TRIES):
        with engine.connect() as connection:
            connection.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                busy, _log_frames, _copied = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
            finally:
                connection.exec_driver_sql("PRAGMA busy_timeout=10000")
        if not busy:
            return True
        time.sleep(0.05 * (attempt + 1))
    logger.warning("the write-ahead log could not be emptied after an erasure: a reader held it; "
                   "SQLite empties it at its next checkpoint")
    return False


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    if settings.is_sqlite:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.resolved_database_url)


def new_session() -> Session:
    """A session of the application's database; it connects on first use."""
    return Session(get_engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session that commits when the block ends and rolls back on any error."""
    with new_session() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


# --- reads made on the event loop (or beside it) -------------------------------------------

T = TypeVar("T")
ConnectionConfigurer = Callable[[DBAPIConnection, ConnectionPoolEntry], None]
_thread_engines: dict[tuple[Engine, str, int], Engine] = {}


def _configure_reader(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA query_only=ON")  # a write through this connection fails instead of waiting
    cursor.close()


def thread_reader() -> Engine | None:
    """For SQLite, an engine of one read-only connection for the calling thread (an event loop's,
    or a worker thread's) alone; None for other databases."""
    return _thread_connection("reader", _configure_reader)


def _thread_connection(kind: str, configure: ConnectionConfigurer) -> Engine | None:
    engine = get_engine()
    if engine.dialect.name != "sqlite":
        return None
    key = (engine, kind, threading.get_ident())
    found = _thread_engines.get(key)
    if found is None:
        found = create_engine(engine.url, poolclass=StaticPool, connect_args={"check_same_thread": False},
                              hide_parameters=True)
        event.listen(found, "connect", configure)
        _thread_engines[key] = found
    return found


async def read(work: Callable[[Session], T], *, scan: bool = False) -> T:
    """``work(session)``, which only reads, with a session of its own; returns its result.

    SQLite in WAL mode answers a read from the database file without waiting for any writer, so
    these reads run right on the event loop, on a read-only connection of its own (never one of
    the pool, which threads may hold while they wait for the loop). A request then needs no trip
    through the thread pool, whose threads hand the GIL back and forth with the loop (measured at
    16 concurrent match requests: 80 context switches per request, 7 ms of CPU instead of 4).
    ``work`` must not await, so no other request uses the connection meanwhile. Elsewhere
    (PostgreSQL: a network round trip per statement) ``work`` runs in a worker thread.

    ``scan``: ``work`` may read many rows in SQLite (a list filter no index serves, such as text in
    every description: 100–250 ms at 100,000 companies), so it runs in a worker thread, on that thread's own
    read-only connection: SQLite reads without the GIL, and the loop answers others meanwhile.
    """
    if scan or thread_reader() is None:
        return await anyio.to_thread.run_sync(_read_in_this_thread, work)
    return _read_in_this_thread(work)


def _read_in_this_thread(work: Callable[[Session], T]) -> T:
    """``work`` with this thread's read-only connection (SQLite), or a session of the pool."""
    reader = thread_reader()
    with (Session(reader, expire_on_commit=False) if reader is not None else new_session()) as session:
        return work(session)
