"""What showing a list of matches records, written off the request path and never lost.

A list of matches records an audit line for every contact detail it releases
(match_views.MatchPage). The match endpoints do not wait for the database to write them: each
answer's record is
appended to this process's journal first, a file of JSON lines in ``<data_dir>/journal/`` (one
``write`` of a line, no fsync: it survives the process being killed, as a committed SQLite
transaction in WAL mode with ``synchronous=NORMAL`` does; a power cut can lose the last moments
of both). A thread commits what the journal gained every ``flush_seconds``, many answers in one
transaction, together with the bytes of the journal done (table `write_journal`), so a crash
between the commit and anything after it makes no line count twice.

Each process holds an exclusive lock (flock) on its own file. A file nobody holds belongs to a
process that died: the next process to start commits the lines its row does not count as done,
then deletes it. The journal folder must be kept across restarts, as the rest of the data folder.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import delete, insert, update
from sqlmodel import Session, col

from app.core.db import new_session
from app.models import AuditEvent, WriteJournal

logger = logging.getLogger(__name__)

Entry = dict[str, Any]
# An entry: {"actor": …, "at": ISO time, "reads": [[company id, detail], …]}
MAX_BATCH = 2_000  # entries in one transaction at most
ROTATE_BYTES = 8 * 2**20  # a journal this long, all committed, is replaced by a new file


def page_entry(actor: str, reads: list[tuple[int, str]]) -> Entry:
    """An entry of the audit lines of the contact details (company id, detail) one answer released."""
    return {"actor": actor, "at": datetime.now(UTC).isoformat(), "reads": reads}


def commit_entries(session: Session, entries: list[Entry]) -> None:
    """The audit lines of these entries, in ``session``'s transaction."""
    audit_rows = [
        {"at": datetime.fromisoformat(entry["at"]), "actor": entry["actor"], "action": "read_contact",
         "subject_type": "company", "subject_id": int(company_id), "detail": str(detail)[:500]}
        for entry in entries for company_id, detail in entry["reads"]
    ]
    if audit_rows:
        session.connection().execute(insert(AuditEvent), audit_rows)


class RecordJournal:
    def __init__(
        self,
        folder: Path,
        flush_seconds: float,
        commit: Callable[[Session, list[Entry]], None] = commit_entries,
        session_factory: Callable[[], Session] = new_session,
    ) -> None:
        self.folder = folder
        self.flush_seconds = flush_seconds
        self._commit = commit
        self._session_factory = session_factory
        self._lock = threading.Lock()  # the file, its position and the pending entries
        self._pending: list[tuple[Entry, int]] = []  # (entry, the file's length once it is written)
        self._descriptor: int | None = None
        self.name = ""
        self._written = self.done = 0  # bytes of the current file: appended, committed
        self._wanted = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- the request side ---------------------------------------------------------------

    def append(self, entry: Entry) -> None:
        """Make ``entry`` durable (one write to the journal file); it is committed shortly after.
        An entry that released no contact details has nothing to audit and is not written."""
        if not entry["reads"]:
            return
        line = orjson.dumps(entry) + b"\n"
        with self._lock:
            if self._descriptor is None:
                raise RuntimeError("the record journal is not open")
            os.write(self._descriptor, line)
            self._written += len(line)
            self._pending.append((entry, self._written))
            if len(self._pending) >= MAX_BATCH:
                self._wanted.set()

    # --- starting and stopping ----------------------------------------------------------

    def start(self) -> None:
        """Commit what processes that died left in their journals, then open this one's own."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.recover()
        with self._lock:
            self._open_new_file()
        self._thread = threading.Thread(target=self._run, name="record-journal", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30) -> None:
        """Commit what is pending and delete this process's journal."""
        self._stopping = True
        self._wanted.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.flush()
        with self._lock:
            if not self._pending and self._descriptor is not None:
                self._retire_current_file()

    # --- committing ---------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping:
            self._wanted.wait(self.flush_seconds)
            self._wanted.clear()
            try:
                self.flush()
            except Exception:  # the lines stay in the journal; the next round tries again
                logger.exception("committing the journal of page records failed")
                time.sleep(self.flush_seconds)

    def flush(self) -> int:
        """Commit what is pending, in batches; returns how many entries."""
        committed = 0
        while True:
            with self._lock:
                batch = self._pending[:MAX_BATCH]
                name = self.name
            if not batch:
                return committed
            done = batch[-1][1]
            with self._session_factory() as session:
                self._commit(session, [entry for entry, _ in batch])
                _set_done(session, name, done)
                session.commit()
            with self._lock:
                del self._pending[: len(batch)]
                self.done = done
                if self.done >= ROTATE_BYTES and not self._pending:
                    self._retire_current_file()
                    self._open_new_file()
            committed += len(batch)

    def recover(self) -> int:
        """Commit the lines of journals whose process died, then delete them; returns how many entries."""
        recovered = 0
        for path in sorted(self.folder.glob("*.jsonl")):
            if path.name == self.name:
                continue
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except FileNotFoundError:  # another process recovered it meanwhile
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # its process is alive
                os.close(descriptor)
                continue
            try:
                recovered += self._recover_file(path)
            finally:
                os.close(descriptor)
        return recovered

    def _recover_file(self, path: Path) -> int:
        name = path.name
        with self._session_factory() as session:
            row = session.get(WriteJournal, name)
            done = row.done_bytes if row is not None else 0
        entries = list(_complete_lines(path.read_bytes(), done))
        for start in range(0, len(entries), MAX_BATCH):
            batch = entries[start : start + MAX_BATCH]
            with self._session_factory() as session:
                self._commit(session, [entry for entry, _ in batch])
                _set_done(session, name, batch[-1][1])
                session.commit()
        path.unlink(missing_ok=True)
        _forget(self._session_factory, name)
        if entries:
            logger.warning("committed %d page records a stopped process left in %s", len(entries), name)
        return len(entries)

    # --- files (called holding the lock) ------------------------------------------------

    def _open_new_file(self) -> None:
        self.name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}.jsonl"
        self._descriptor = os.open(self.folder / self.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        fcntl.flock(self._descriptor, fcntl.LOCK_EX)
        self._written = self.done = 0

    def _retire_current_file(self) -> None:
        if self._descriptor is None:
            return
        (self.folder / self.name).unlink(missing_ok=True)
        os.close(self._descriptor)  # the lock goes with it
        self._descriptor = None
        _forget(self._session_factory, self.name)


def _complete_lines(data: bytes, start: int) -> Iterator[tuple[Entry, int]]:
    """The entries after byte ``start``, with where each ends; a last line cut short by the crash
    is left out (its answer was never sent)."""
    position = start
    while (end := data.find(b"\n", position)) >= 0:
        yield orjson.loads(data[position:end]), end + 1
        position = end + 1


def _set_done(session: Session, name: str, done: int) -> None:
    changed = session.connection().execute(
        update(WriteJournal).where(col(WriteJournal.name) == name)
        .values(done_bytes=done, updated_at=datetime.now(UTC))).rowcount
    if not changed:
        session.connection().execute(insert(WriteJournal).values(name=name, done_bytes=done,
                                                                 updated_at=datetime.now(UTC)))


def _forget(session_factory: Callable[[], Session], name: str) -> None:
    with session_factory() as session:
        session.connection().execute(delete(WriteJournal).where(col(WriteJournal.name) == name))
        session.commit()
