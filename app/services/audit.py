"""The audit log: who read or changed personal data. Entries carry ids, never the data itself."""

from sqlmodel import Session

from app.models import AuditEvent
from app.services.access import Caller


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
