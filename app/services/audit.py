"""The audit log: who read or changed personal data. Entries carry ids, never the data itself."""

from collections.abc import Iterable

from sqlalchemy import insert
from sqlmodel import Session

from app.models import AuditEvent, utcnow
from app.services.access import Caller

_INSERT_EVENTS = insert(AuditEvent)


def record(
    session: Session,
    caller: Caller | str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    detail: str = "",
) -> None:
    actor = caller if isinstance(caller, str) else caller.label
    session.add(
        AuditEvent(actor=actor, action=action, subject_type=subject_type, subject_id=subject_id, detail=detail[:500])
    )


def record_many(
    session: Session,
    caller: Caller | str,
    action: str,
    subject_type: str,
    entries: Iterable[tuple[int, str]],
) -> None:
    """One event per (subject id, detail), written with one statement in the session's transaction
    (a list of matches releases up to a hundred contact details at once)."""
    actor = caller if isinstance(caller, str) else caller.label
    at = utcnow()
    rows = [
        {"at": at, "actor": actor, "action": action, "subject_type": subject_type, "subject_id": subject_id,
         "detail": detail[:500]}
        for subject_id, detail in entries
    ]
    if rows:  # Core, not the ORM's bulk insert: its statement is compiled once for every list
        session.connection().execute(_INSERT_EVENTS, rows)
