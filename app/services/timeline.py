"""A match's history as people read it: each status change, note, owner change, feedback and
consent, with who did it (a name, not an id) and when."""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.domain import MatchEventKind, NoteVisibility
from app.models import Match, User
from app.services import pipeline

_USER_ACTOR = re.compile(r"^user:(\d+)\b")
_COMPANY_ACTOR = re.compile(r"^company:\d+$")
_OWNER_NOTE = re.compile(r"^owner: user (\d+)$")
_FEEDBACK_NOTE = re.compile(r"^(not relevant|relevant)(?: for [^:]*)?: (.*)$", re.S)


@dataclass(frozen=True)
class Entry:
    at: datetime
    kind: str  # a MatchEventKind
    who: str  # a staff member's name, "het bedrijf", or how the change was made
    by_company: bool
    from_status: str | None = None
    to_status: str | None = None
    note: str = ""
    owner: str | None = None  # owner changes: the new owner's name (None: removed)
    relevant: bool | None = None  # feedback
    shared: bool = False  # a note the company reads too


def user_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """Each user's full name, or username when the name is empty."""
    if not user_ids:
        return {}
    rows = session.exec(select(User.id, User.full_name, User.username).where(col(User.id).in_(user_ids))).all()
    return {user_id: full_name or username for user_id, full_name, username in rows if user_id is not None}


def timeline(session: Session, match: Match) -> list[Entry]:
    """Every event of the match, oldest first."""
    events = pipeline.events(session, match)
    ids = {int(found.group(1)) for event in events for found in [_USER_ACTOR.match(event.actor)] if found}
    ids |= {int(found.group(1)) for event in events for found in [_OWNER_NOTE.match(event.note)] if found}
    names = user_names(session, ids)
    entries = []
    for event in events:
        by_company = bool(_COMPANY_ACTOR.match(event.actor))
        entry = Entry(at=event.at, kind=event.kind, who=_who(event.actor, names), by_company=by_company,
                      from_status=event.from_status, to_status=event.to_status, note=event.note,
                      shared=event.visibility == NoteVisibility.shared)
        if event.kind == MatchEventKind.owner:
            owner = _OWNER_NOTE.match(event.note)
            entry = Entry(**{**vars(entry), "note": "", "owner": names.get(int(owner.group(1))) if owner else None})
        elif event.kind == MatchEventKind.feedback:
            feedback = _FEEDBACK_NOTE.match(event.note)
            if feedback:
                entry = Entry(**{**vars(entry), "relevant": feedback.group(1) == "relevant",
                                 "note": feedback.group(2)})
        elif event.kind == MatchEventKind.consent:
            entry = Entry(**{**vars(entry), "note": ""})
        entries.append(entry)
    return entries


def _who(actor: str, names: dict[int, str]) -> str:
    found = _USER_ACTOR.match(actor)
    if found:
        return names.get(int(found.group(1)), "een medewerker")
    if _COMPANY_ACTOR.match(actor):
        return "het bedrijf"
    if actor == "cli":
        return "beheer"
    return "onbekend"
