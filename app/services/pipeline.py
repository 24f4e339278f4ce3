"""The shared pipeline: match records, their status transitions and events, feedback, and
consent-gated introductions."""

from collections.abc import Iterable
from functools import cache
from typing import Any

from sqlalchemy import bindparam, func, tuple_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session, col, select

from app.core.errors import Forbidden, InvalidInput, NotFound
from app.domain import MatchEventKind, NoteVisibility, PipelineStatus
from app.models import Company, IntroductionConsent, Match, MatchEvent, Need, User, id_of, metadata, utcnow
from app.services import audit
from app.services.access import Caller

_Status = PipelineStatus  # short, for the table below
# Where a match may go next. `lost` and `won` end it; `parked` may be picked up again.
TRANSITIONS: dict[PipelineStatus, tuple[PipelineStatus, ...]] = {
    _Status.new: (_Status.triaged, _Status.intro_proposed, _Status.parked, _Status.lost),
    _Status.triaged: (_Status.intro_proposed, _Status.parked, _Status.lost),
    _Status.intro_proposed: (_Status.consented, _Status.parked, _Status.lost),
    _Status.consented: (_Status.introduced, _Status.parked, _Status.lost),
    _Status.introduced: (_Status.meeting, _Status.parked, _Status.lost),
    _Status.meeting: (_Status.pilot, _Status.subsidy_applied, _Status.won, _Status.lost, _Status.parked),
    _Status.pilot: (_Status.subsidy_applied, _Status.won, _Status.lost, _Status.parked),
    _Status.subsidy_applied: (_Status.pilot, _Status.won, _Status.lost, _Status.parked),
    _Status.parked: (_Status.triaged, _Status.intro_proposed, _Status.lost),
    _Status.won: (),
    _Status.lost: (),
}
FINAL = frozenset({_Status.won, _Status.lost})
NEEDS_REASON = frozenset({_Status.lost, _Status.parked})
NEEDS_CONSENT = frozenset({_Status.consented, _Status.introduced})

_MATCH_TABLE = metadata.tables["match"]  # Core statements: compiled once, no ORM on the hot paths
_MATCHES = _MATCH_TABLE.c


@cache
def _match_insert(dialect: str, update_scores: bool) -> Insert:
    """The statement that inserts match rows, built once per dialect and mode: executed with a list
    of rows (executemany), its compiled form is reused by every request."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(_MATCH_TABLE)
    if update_scores:
        return statement.on_conflict_do_update(
            index_elements=["company_id", "need_id"],
            set_={"last_score": func.coalesce(statement.excluded.last_score, _MATCHES.last_score)},
        )
    return statement.on_conflict_do_nothing(index_elements=["company_id", "need_id"])


def ensure_matches(
    session: Session, pairs: Iterable[tuple[int, int, float | None]], *, update_scores: bool = False
) -> int | None:
    """Creates a `new` match for every (company, need, score) pair that has none; returns how many
    rows it wrote (None where the driver does not say).

    Looking at matches only inserts pairs not seen before (no write once they exist, so reads stay
    cheap); a weekly list also refreshes ``last_score`` (``update_scores``).
    """
    best: dict[tuple[int, int], float | None] = {}
    for company_id, need_id, score in pairs:  # one row per pair: PostgreSQL refuses duplicates in one insert
        known = best.get((company_id, need_id))
        best[(company_id, need_id)] = score if known is None or (score is not None and score > known) else known
    now = utcnow()
    rows = [
        {"company_id": c, "need_id": n, "last_score": s, "status": PipelineStatus.new, "created_at": now,
         "updated_at": now}
        for (c, n), s in best.items()
    ]
    if not rows:
        return 0
    connection = session.connection()
    written = connection.execute(_match_insert(connection.dialect.name, update_scores), rows).rowcount
    return written if written is not None and written >= 0 else None


def get(session: Session, company_id: int, need_id: int) -> Match:
    match = session.exec(select(Match).where(Match.company_id == company_id, Match.need_id == need_id)).first()
    if match is None:
        raise NotFound(f"no match between company {company_id} and need {need_id}: look at the need's matches first")
    return match


def get_or_create(session: Session, company_id: int, need_id: int) -> Match:
    if session.get(Company, company_id) is None:
        raise NotFound(f"no company with id {company_id}")
    if session.get(Need, need_id) is None:
        raise NotFound(f"no need with id {need_id}")
    ensure_matches(session, [(company_id, need_id, None)])
    return get(session, company_id, need_id)


def change(
    session: Session,
    caller: Caller,
    match: Match,
    *,
    status: PipelineStatus | None = None,
    note: str | None = None,
    note_visibility: NoteVisibility = NoteVisibility.internal,
    owner_user_id: int | None = None,
    owner_given: bool = False,
) -> Match:
    """Applies a status change, a note and/or a new owner, each kept as an event. The note is for
    staff only unless ``note_visibility`` is shared (the company then reads it too)."""
    if status is not None and status != match.status:
        allowed = TRANSITIONS.get(match.status, ())
        if status not in allowed:
            raise InvalidInput(
                f"a match in status {match.status.value!r} cannot move to {status.value!r}; allowed: "
                + (", ".join(allowed) if allowed else f"none ({match.status} is final)")
            )
        reason = (note or "").strip()
        if status in NEEDS_REASON and not reason:
            raise InvalidInput(f"moving a match to {status.value!r} needs a note with the reason")
        if status in NEEDS_CONSENT and not has_consent(session, match):
            raise InvalidInput(
                "the company has not consented to this introduction"
                + (" (it withdrew its consent)" if match.consent_withdrawn else "")
                + ": it consents with its edit token at "
                f"POST /api/v1/companies/{match.company_id}/introductions/{match.need_id}/consent"
            )
        record_event(session, caller, match, MatchEventKind.status, from_status=match.status, to_status=status,
                     note=note or "", visibility=note_visibility)
        if status in NEEDS_REASON:
            match.closing_reason = reason
        match.status = status
    elif note:
        record_event(session, caller, match, MatchEventKind.note, note=note, visibility=note_visibility)
    if owner_given:
        owner = session.get(User, owner_user_id) if owner_user_id is not None else None
        if owner_user_id is not None and owner is None:
            raise InvalidInput(f"owner user {owner_user_id} does not exist")
        match.owner_user_id = owner.id if owner else None
        match.owner_organisation_id = owner.organisation_id if owner else None
        owner_note = f"owner: user {owner_user_id}" if owner else "owner removed"
        record_event(session, caller, match, MatchEventKind.owner, note=owner_note)
    match.updated_at = utcnow()
    session.add(match)
    session.flush()
    return match


def has_consent(session: Session, match: Match) -> bool:
    """The company consents to this introduction: for this need, or to all Defence contact, and has
    not withdrawn it for this need since."""
    if match.consent_withdrawn:
        return False
    company = session.get(Company, match.company_id)
    if company is not None and company.consent_defence_contact:
        return True
    return introduction_consent(session, match.company_id, match.need_id) is not None


def introduction_consent(session: Session, company_id: int, need_id: int) -> IntroductionConsent | None:
    return session.exec(
        select(IntroductionConsent).where(
            IntroductionConsent.company_id == company_id, IntroductionConsent.need_id == need_id
        )
    ).first()


def introduction_consented_need_ids(session: Session, company_id: int) -> set[int]:
    """The needs this company consented to be introduced for."""
    return set(session.exec(
        select(IntroductionConsent.need_id).where(IntroductionConsent.company_id == company_id)).all())


def introduction_consented_company_ids(session: Session, need_id: int, company_ids: list[int]) -> set[int]:
    """Which of these companies consented to be introduced for this need (one query)."""
    return set(session.exec(select(IntroductionConsent.company_id).where(
        IntroductionConsent.need_id == need_id, col(IntroductionConsent.company_id).in_(company_ids))).all())


# Asked by every list of matches: built once, so their compiled forms are reused.
_STATUSES_FOR_NEED = sa_select(_MATCHES.company_id, _MATCHES.status).where(
    _MATCHES.need_id == bindparam("need_id"),
    _MATCHES.company_id.in_(bindparam("company_ids", expanding=True)),
)
_STATUSES_FOR_COMPANY = sa_select(_MATCHES.need_id, _MATCHES.status).where(
    _MATCHES.company_id == bindparam("company_id"),
    _MATCHES.need_id.in_(bindparam("need_ids", expanding=True)),
)
_STATUSES_OF_PAIRS = sa_select(_MATCHES.company_id, _MATCHES.need_id, _MATCHES.status).where(
    tuple_(_MATCHES.company_id, _MATCHES.need_id).in_(bindparam("pairs", expanding=True)))


def statuses_for_need(session: Session, need_id: int, company_ids: list[int]) -> dict[int, PipelineStatus]:
    """The pipeline status of each of these companies' matches with one need, by company id."""
    if not company_ids:
        return {}
    parameters = {"need_id": need_id, "company_ids": company_ids}
    return dict(session.connection().execute(_STATUSES_FOR_NEED, parameters).all())


def statuses_for_company(session: Session, company_id: int, need_ids: list[int]) -> dict[int, PipelineStatus]:
    """The pipeline status of one company's matches with each of these needs, by need id."""
    if not need_ids:
        return {}
    parameters = {"company_id": company_id, "need_ids": need_ids}
    return dict(session.connection().execute(_STATUSES_FOR_COMPANY, parameters).all())


def statuses_of_pairs(session: Session, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], PipelineStatus]:
    """The pipeline status of each of these (company id, need id) pairs that has a match record."""
    if not pairs:
        return {}
    rows = session.connection().execute(_STATUSES_OF_PAIRS, {"pairs": pairs})
    return {(company_id, need_id): status for company_id, need_id, status in rows}


def consent_to_introduction(session: Session, caller: Caller, company: Company, need: Need) -> Match:
    """The company agrees to be introduced for this need: its contact details are released there."""
    company_id, need_id = id_of(company), id_of(need)
    if not caller.owns(company_id):
        raise Forbidden("only the company itself (X-Edit-Token) can consent to an introduction")
    if introduction_consent(session, company_id, need_id) is None:
        session.add(IntroductionConsent(company_id=company_id, need_id=need_id))
    match = get_or_create(session, company_id, need_id)
    match.consent_withdrawn = False
    record_event(session, caller, match, MatchEventKind.consent, note="company consented to the introduction",
                 visibility=NoteVisibility.shared)
    if match.status == PipelineStatus.intro_proposed:
        session.flush()
        change(session, caller, match, status=PipelineStatus.consented)
    audit.record(session, caller, "consent_introduction", "company", company_id, f"need {need_id}")
    session.flush()
    return match


def withdraw_consent(session: Session, caller: Caller, company: Company, need: Need) -> None:
    """The company no longer agrees to be introduced for this need: its contact details are no longer
    released there, a `consented` match goes back to `intro_proposed` (kept as an event), and the
    match cannot be moved to `consented` or `introduced` until the company consents again."""
    company_id, need_id = id_of(company), id_of(need)
    if not caller.owns(company_id):
        raise Forbidden("only the company itself (X-Edit-Token) can withdraw its consent")
    consent = introduction_consent(session, company_id, need_id)
    if consent is not None:
        session.delete(consent)
    match = get_or_create(session, company_id, need_id)
    match.consent_withdrawn = True
    record_event(session, caller, match, MatchEventKind.consent,
                 note="company withdrew its consent to the introduction", visibility=NoteVisibility.shared)
    if match.status == PipelineStatus.consented:
        record_event(session, caller, match, MatchEventKind.status, from_status=match.status,
                     to_status=PipelineStatus.intro_proposed, note="consent withdrawn by the company",
                     visibility=NoteVisibility.shared)
        match.status = PipelineStatus.intro_proposed
    match.updated_at = utcnow()
    session.add(match)
    audit.record(session, caller, "withdraw_introduction_consent", "company", company_id, f"need {need_id}")
    session.flush()


def events(session: Session, match: Match) -> list[MatchEvent]:
    query = select(MatchEvent).where(MatchEvent.match_id == match.id).order_by(col(MatchEvent.id))
    return list(session.exec(query).all())


def record_event(
    session: Session,
    caller: Caller,
    match: Match,
    kind: MatchEventKind,
    *,
    from_status: PipelineStatus | None = None,
    to_status: PipelineStatus | None = None,
    note: str = "",
    visibility: NoteVisibility = NoteVisibility.internal,
) -> None:
    """Keeps a change to the match as an event (who, when, what; the note for staff unless shared)."""
    session.add(MatchEvent(match_id=id_of(match), actor=caller.label, kind=kind, from_status=from_status,
                           to_status=to_status, note=note, visibility=visibility))


# --- what the company itself reads of its matches ----------------------------------------------

STAFF_ACTOR = "Koppelkans"
# Event kinds the company reads (its own consents, where its matches stand, notes shared with it);
# owners and staff feedback are internal.
COMPANY_EVENT_KINDS = frozenset({MatchEventKind.status, MatchEventKind.note, MatchEventKind.consent})
# What staff think of a match and who works on it (the closing reason is a staff note): empty for the company.
STAFF_ONLY_MATCH_FIELDS = {"owner_user_id": None, "relevant": None, "feedback_reason": None, "closing_reason": None}


def company_actor(actor: str) -> str:
    """An actor as the company reads it: staff as the service, never by id or role."""
    return STAFF_ACTOR if actor.startswith("user:") else actor


def events_for_company(events: Iterable[MatchEvent]) -> list[dict[str, Any]]:
    """A match's events as the company may read them: no internal notes, no owner or feedback
    events, no staff ids. A status change keeps its note only when the note was shared."""
    shown = []
    for event in events:
        shared = event.visibility == NoteVisibility.shared
        if event.kind not in COMPANY_EVENT_KINDS or (event.kind == MatchEventKind.note and not shared):
            continue
        shown.append({"at": event.at, "actor": company_actor(event.actor), "kind": event.kind,
                      "from_status": event.from_status, "to_status": event.to_status,
                      "note": event.note if shared else "", "visibility": event.visibility})
    return shown


def match_for_company(match: Match) -> dict[str, Any]:
    """A match's fields as the company may read them: where it stands, not who owns it or what staff
    think of it."""
    return {**match.model_dump(exclude={"id", "company_id", "consent_withdrawn"}), **STAFF_ONLY_MATCH_FIELDS}
