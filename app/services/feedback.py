"""Staff feedback on a match: "not relevant" for one's own organisation, or for everyone (admins).

A scout who finds a company no fit for a need hides the pair from the people of the scout's own
organisation only; other organisations may judge it otherwise. An admin's feedback counts for
everyone (``Match.relevant``): it keeps the pair out of every list and match result, the weekly
lists included.
"""

from sqlalchemy import bindparam, union
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, delete, select

from app.core.errors import Forbidden, InvalidInput
from app.domain import FeedbackScope, MatchEventKind, Role
from app.models import Match, MatchDismissal, Organisation, utcnow
from app.services.access import Caller
from app.services.pipeline import record_event


def scope_for(caller: Caller, asked: FeedbackScope | None) -> FeedbackScope:
    """The scope a feedback applies in: as asked, else the caller's organisation (admins without
    one: everyone)."""
    is_admin = caller.user is not None and caller.user.role == Role.admin
    organisation_id = caller.user.organisation_id if caller.user else None
    if asked == FeedbackScope.everyone and not is_admin:
        raise Forbidden("only an admin gives feedback for everyone: leave scope out (your organisation)")
    if asked is None:
        asked = FeedbackScope.organisation if organisation_id is not None or not is_admin else FeedbackScope.everyone
    if asked == FeedbackScope.organisation and organisation_id is None:
        raise InvalidInput("you belong to no organisation, so feedback cannot be kept for one: "
                           "ask an admin to add you to your organisation, or to judge the match for everyone")
    return asked


def set_feedback(
    session: Session, caller: Caller, match: Match, *, relevant: bool, reason: str, scope: FeedbackScope | None = None
) -> Match:
    """Marks the match (not) relevant for the caller's organisation, or for everyone; kept as an event."""
    chosen = scope_for(caller, scope)
    if chosen == FeedbackScope.everyone:
        match.relevant = relevant
        match.feedback_reason = reason
        whom = "everyone"
    else:
        assert caller.user is not None and caller.user.organisation_id is not None
        _set_dismissal(session, caller, match, relevant=relevant, reason=reason)
        organisation = session.get(Organisation, caller.user.organisation_id)
        whom = organisation.name if organisation else f"organisation {caller.user.organisation_id}"
    match.updated_at = utcnow()
    record_event(session, caller, match, MatchEventKind.feedback,
                 note=f"{'relevant' if relevant else 'not relevant'} for {whom}: {reason}")
    session.add(match)
    session.flush()
    return match


def _set_dismissal(session: Session, caller: Caller, match: Match, *, relevant: bool, reason: str) -> None:
    assert caller.user is not None and caller.user.organisation_id is not None
    organisation_id = caller.user.organisation_id
    session.exec(delete(MatchDismissal).where(  # one per organisation: the latest judgement counts
        col(MatchDismissal.company_id) == match.company_id, col(MatchDismissal.need_id) == match.need_id,
        col(MatchDismissal.organisation_id) == organisation_id))
    if not relevant:
        session.add(MatchDismissal(company_id=match.company_id, need_id=match.need_id, organisation_id=organisation_id,
                                   user_id=caller.user.id, reason=reason))


# Asked by every list of matches: built once, so their compiled forms are reused.
_MATCHES = Match.__table__.c  # type: ignore[attr-defined]
_DISMISSALS = MatchDismissal.__table__.c  # type: ignore[attr-defined]
_DISMISSED_NEEDS = union(
    sa_select(_MATCHES.need_id).where(_MATCHES.company_id == bindparam("company_id"), _MATCHES.relevant.is_(False)),
    sa_select(_DISMISSALS.need_id).where(_DISMISSALS.company_id == bindparam("company_id"),
                                         _DISMISSALS.organisation_id == bindparam("organisation_id")),
)
_DISMISSED_COMPANIES = union(
    sa_select(_MATCHES.company_id).where(_MATCHES.need_id == bindparam("need_id"), _MATCHES.relevant.is_(False)),
    sa_select(_DISMISSALS.company_id).where(_DISMISSALS.need_id == bindparam("need_id"),
                                            _DISMISSALS.organisation_id == bindparam("organisation_id")),
)


def _organisation_of(caller: Caller) -> int | None:
    return caller.user.organisation_id if caller.user is not None else None


def dismissed_need_ids(session: Session, caller: Caller, company_id: int) -> set[int]:
    """The needs kept out of this company's matches for this caller: for everyone, or for its organisation."""
    parameters = {"company_id": company_id, "organisation_id": _organisation_of(caller)}
    return set(session.connection().execute(_DISMISSED_NEEDS, parameters).scalars())


def dismissed_company_ids(session: Session, caller: Caller, need_id: int) -> set[int]:
    """The companies kept out of this need's matches for this caller: for everyone, or for its organisation."""
    parameters = {"need_id": need_id, "organisation_id": _organisation_of(caller)}
    return set(session.connection().execute(_DISMISSED_COMPANIES, parameters).scalars())


def dismissed_pairs(session: Session) -> set[tuple[int, int]]:
    """The pairs no list shows (the weekly lists are shared by every organisation: feedback for everyone)."""
    rows = session.exec(select(Match.company_id, Match.need_id).where(col(Match.relevant).is_(False))).all()
    return {(company_id, need_id) for company_id, need_id in rows}
