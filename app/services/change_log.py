"""The index change log: every company or need write, numbered, so each worker process can
bring its own matching index in step with writes made through the others (see
``MatchingState.catch_up`` in app/services/matching.py), pruned after a retention window.
"""

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, event, func, insert
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.matching.store import Side
from app.models import Company, IndexChange, Need

# A worker re-reads this many sequence numbers below the last one it applied: on PostgreSQL two
# transactions can commit out of sequence order, and the later-committed lower number must not be
# skipped. Applying a change twice is harmless (an unchanged text is not re-encoded).
CHANGE_LOG_OVERLAP = 200


# Old change-log entries are deleted at most this often per process, in the transaction of a write.
PRUNE_EVERY_SECONDS = 600
_last_prune = {"at": float("-inf")}


def flushed_changes(session: Session) -> list[tuple[Side, int]]:
    """The (side, id) of every company or need the flush in progress inserts, updates or deletes
    (for an ``after_flush`` hook, while the session still lists them)."""
    return [
        ("company" if isinstance(obj, Company) else "need", obj.id)
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, Company | Need) and obj.id is not None
    ]


@event.listens_for(Session, "after_flush")
def _log_index_changes(session: Session, _flush_context: object) -> None:
    """Every company or need inserted, updated or deleted in a flush gets a change-log row, in the
    same transaction, so other workers see the write exactly when it commits."""
    now = datetime.now(UTC)
    rows = [{"side": side, "record_id": record_id, "at": now} for side, record_id in flushed_changes(session)]
    if rows:
        session.connection().execute(insert(IndexChange), rows)
        if time.monotonic() - _last_prune["at"] >= PRUNE_EVERY_SECONDS:
            _last_prune["at"] = time.monotonic()
            prune_change_log(session, timedelta(hours=get_settings().change_log_retention_hours))


def prune_change_log(session: Session, retention: timedelta) -> int:
    """Delete the change-log entries older than ``retention``; returns how many.

    The newest entry always stays: SQLite numbers a new row after the highest one left, and a
    number must never be used twice (a worker that applied it would skip the new write).
    """
    newest = select(func.max(IndexChange.id)).scalar_subquery()
    deleted = session.connection().execute(
        delete(IndexChange).where(col(IndexChange.at) < datetime.now(UTC) - retention, col(IndexChange.id) < newest)
    )
    return deleted.rowcount or 0


_LATEST_CHANGE = select(func.max(IndexChange.id))  # asked on every matching request: built once


def latest_change(session: Session) -> int:
    return int(session.connection().execute(_LATEST_CHANGE).scalar() or 0)


def oldest_change(session: Session) -> int:
    return int(session.exec(select(func.min(IndexChange.id))).one() or 0)
