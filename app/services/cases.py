"""The desk's inbox: cases from the loket, worked as trajectories (IBDO-trajecten).

A case holds the question and the route its asker was given. The desk assigns an adviser (which
starts the trajectory), writes the articulated question and an answer, links the case to a company
profile (an existing one, or a new one made with the company's consent), records referrals to
organisations and the programmes applied for, and closes it with an outcome. Every step is kept as
an event. Cases carry the asker's e-mail address: only the desk reads them, and each read of it is
audited.
"""

from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.errors import InvalidInput, NotFound
from app.domain import ApplicationStatus, CaseEventKind, CaseStatus, NeedKind
from app.models import (
    CaseEvent,
    CaseProgramme,
    CaseReferral,
    Company,
    LoketCase,
    Match,
    Need,
    Organisation,
    User,
    utcnow,
)
from app.schemas import CompanyCreate, OrganisationRef
from app.schemas_loket import (
    ApplicationIn,
    ApplicationOut,
    CaseChange,
    CaseDetail,
    CaseEventOut,
    CaseMatch,
    CaseOut,
    CaseProfileIn,
    QuestionAnswer,
    ReferralIn,
    ReferralOut,
    UserRef,
)
from app.schemas_pipeline import CompanyRef
from app.services import audit
from app.services import companies as company_service
from app.services.access import DESK_ROLES, Caller

DECIDED = frozenset({ApplicationStatus.granted, ApplicationStatus.rejected, ApplicationStatus.withdrawn})
STATUS_LABELS = {"new": "nieuw", "in_progress": "in behandeling", "answered": "beantwoord", "closed": "afgesloten"}


def get(*, session: Session, case_id: int) -> LoketCase:
    case = session.get(LoketCase, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}")
    return case


def list_cases(
    *, session: Session, status: str | None = None, assigned_user_id: int | None = None, limit: int = 50,
    offset: int = 0,
) -> tuple[list[LoketCase], int]:
    """The inbox, newest first."""
    conditions = []
    if status:
        conditions.append(LoketCase.status == status)
    if assigned_user_id:
        conditions.append(LoketCase.assigned_user_id == assigned_user_id)
    count = session.exec(select(func.count()).select_from(LoketCase).where(*conditions)).one()
    cases = session.exec(select(LoketCase).where(*conditions)
                         .order_by(col(LoketCase.created_at).desc(), col(LoketCase.id).desc())
                         .offset(offset).limit(limit)).all()
    return list(cases), count


def change(*, session: Session, caller: Caller, case: LoketCase, changes: CaseChange) -> LoketCase:
    values = changes.model_dump(exclude_unset=True)
    if "assigned_user_id" in values:
        _assign(session, caller, case, values["assigned_user_id"])
    if values.get("articulated_question") is not None:
        case.articulated_question = values["articulated_question"]
        _start_trajectory(case)
        _event(session, caller, case, CaseEventKind.articulated, values["articulated_question"])
    if values.get("answer") is not None:
        case.answer = values["answer"]
        case.answered_at = utcnow()
        if case.status != CaseStatus.closed:
            case.status = CaseStatus.answered
        _event(session, caller, case, CaseEventKind.answered, values["answer"])
    if values.get("outcome") is not None or values.get("outcome_note") is not None:
        case.outcome = values.get("outcome") or case.outcome
        case.outcome_note = values["outcome_note"] if values.get("outcome_note") is not None else case.outcome_note
        _event(session, caller, case, CaseEventKind.outcome, f"{case.outcome or ''}: {case.outcome_note}".strip(": "))
    if values.get("status") is not None:
        _move(session, caller, case, values["status"])
    return _touched(session, case)


def _assign(session: Session, caller: Caller, case: LoketCase, user_id: int | None) -> None:
    if user_id is None:
        case.assigned_user_id = None
        _event(session, caller, case, CaseEventKind.assigned, "adviseur verwijderd")
        return
    adviser = session.get(User, user_id)
    if adviser is None or not adviser.is_active or adviser.role not in DESK_ROLES:
        raise InvalidInput(f"assigned_user_id {user_id} is not an active adviser or admin")
    case.assigned_user_id = adviser.id
    _start_trajectory(case)
    if case.status == CaseStatus.new:
        case.status = CaseStatus.in_progress
    _event(session, caller, case, CaseEventKind.assigned, f"toegewezen aan {adviser.username}")


def _start_trajectory(case: LoketCase) -> None:
    """The first adviser or articulated question makes the case an IBDO-traject (the KPI counts it then)."""
    if case.trajectory_started_at is None:
        case.trajectory_started_at = utcnow()


def _move(session: Session, caller: Caller, case: LoketCase, status: str) -> None:
    if status == case.status:
        return
    if status == CaseStatus.new:
        raise InvalidInput("a case cannot go back to new: assign it, answer it or close it")
    if status == CaseStatus.answered and not case.answer:
        raise InvalidInput("send an answer to mark the case answered")
    _event(session, caller, case, CaseEventKind.status,
           f"{STATUS_LABELS.get(case.status, case.status)} → {STATUS_LABELS.get(status, status)}")
    case.status = status


def link_company(*, session: Session, caller: Caller, case: LoketCase, company_id: int) -> LoketCase:
    company = company_service.get(session=session, company_id=company_id)
    case.company_id = company.id
    _event(session, caller, case, CaseEventKind.linked, f"gekoppeld aan bedrijf {company.id} ({company.name})")
    return _touched(session, case)


def create_profile(
    *, session: Session, caller: Caller, case: LoketCase, profile_in: CaseProfileIn
) -> tuple[Company, str]:
    """A company profile from the case, with the company's consent (``profile_in.consent``), linked to
    it; returns the company and its edit token (clear text, for the adviser to pass on once)."""
    kvk_number = profile_in.kvk_number or case.kvk_number
    if kvk_number is None:
        raise InvalidInput("kvk_number is needed: the question did not give one, so send the company's 8 digits")
    if not case.contact_email:
        raise InvalidInput("the case has no e-mail address any more: a profile needs one")
    description = profile_in.description or case.articulated_question.strip() or case.text
    company_in = CompanyCreate(
        **profile_in.model_dump(exclude={"kvk_number", "description", "consent"}),
        kvk_number=kvk_number, municipality=case.municipality, description=description,
        contact_email=case.contact_email, consent=True,
    )
    company, edit_token = company_service.register(session=session, caller=caller, company_in=company_in)
    case.company_id = company.id
    _event(session, caller, case, CaseEventKind.linked,
           f"profiel aangemaakt met toestemming van het bedrijf: bedrijf {company.id} ({company.name})")
    _touched(session, case)
    return company, edit_token


def add_referral(*, session: Session, caller: Caller, case: LoketCase, referral_in: ReferralIn) -> LoketCase:
    organisation = session.exec(select(Organisation).where(Organisation.slug == referral_in.organisation)).first()
    if organisation is None or organisation.id is None:
        raise InvalidInput(
            f"unknown organisation {referral_in.organisation!r}: use a slug from GET /api/v1/organisations")
    session.add(CaseReferral(case_id=_id(case), organisation_id=organisation.id, note=referral_in.note))
    _event(session, caller, case, CaseEventKind.referral,
           f"doorverwezen naar {organisation.name}" + (f": {referral_in.note}" if referral_in.note else ""))
    return _touched(session, case)


def set_application(
    *, session: Session, caller: Caller, case: LoketCase, application_in: ApplicationIn
) -> LoketCase:
    """Records that the company applied for a programme, or how its application ended."""
    need = session.get(Need, application_in.need_id)
    if need is None or need.kind != NeedKind.programme:
        raise InvalidInput(f"need {application_in.need_id} is not a programme: see GET /api/v1/needs?kind=programme")
    application = session.exec(select(CaseProgramme).where(CaseProgramme.case_id == case.id,
                                                            CaseProgramme.need_id == need.id)).first()
    if application is None:
        application = CaseProgramme(case_id=_id(case), need_id=_id(need))
    application.status = application_in.status
    application.note = application_in.note or application.note
    application.decided_at = utcnow() if application_in.status in DECIDED else None
    session.add(application)
    _event(session, caller, case, CaseEventKind.programme, f"{need.title}: {application_in.status}"
           + (f" ({application_in.note})" if application_in.note else ""))
    return _touched(session, case)


def erase(*, session: Session, caller: Caller, case: LoketCase) -> None:
    """Deletes the case with its question and e-mail address (the asker's right to be forgotten)."""
    case_id = case.id
    session.delete(case)
    session.flush()
    audit.record(session, caller, "erase", "case", case_id)


# --- reading ---------------------------------------------------------------------------------------


def to_out_many(*, session: Session, caller: Caller, cases: Sequence[LoketCase]) -> list[CaseOut]:
    """The cases as the desk reads them; each e-mail address shown is audited."""
    users = _users(session, {c.assigned_user_id for c in cases})
    companies = _companies(session, {c.company_id for c in cases})
    outs = [_out(case, users.get(case.assigned_user_id), companies.get(case.company_id)) for case in cases]
    audit.record_many(session, caller, "read_contact", "case", [(_id(c), "") for c in cases if c.contact_email])
    return outs


def to_detail(*, session: Session, caller: Caller, case: LoketCase) -> CaseDetail:
    out = to_out_many(session=session, caller=caller, cases=[case])[0]
    events = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.id))).all()
    referrals = session.exec(select(CaseReferral, Organisation).join(Organisation)
                             .where(CaseReferral.case_id == case.id).order_by(col(CaseReferral.id))).all()
    applications = session.exec(select(CaseProgramme, Need).join(Need)
                                .where(CaseProgramme.case_id == case.id).order_by(col(CaseProgramme.id))).all()
    matches: Sequence[tuple[Match, Need]] = []
    if case.company_id is not None:
        matches = session.exec(select(Match, Need).join(Need).where(Match.company_id == case.company_id)
                               .order_by(col(Match.updated_at).desc())).all()
    return CaseDetail(
        **out.model_dump(),
        route=route_of(case),
        events=[CaseEventOut(at=e.at, actor=e.actor, kind=e.kind, note=e.note) for e in events],
        referrals=[ReferralOut(organisation=OrganisationRef(id=_id(o), slug=o.slug, name=o.name), note=r.note, at=r.at)
                   for r, o in referrals],
        programmes=[ApplicationOut(need_id=_id(n), title=n.title, status=ApplicationStatus(p.status), note=p.note,
                                   applied_at=p.applied_at, decided_at=p.decided_at) for p, n in applications],
        matches=[CaseMatch(need_id=_id(n), title=n.title, kind=n.kind, status=m.status) for m, n in matches],
    )


def route_of(case: LoketCase) -> QuestionAnswer | None:
    """The answer the asker was given."""
    return QuestionAnswer.model_validate_json(case.route) if case.route and case.route != "{}" else None


def asked_route(*, session: Session, case_id: int) -> QuestionAnswer | None:
    """The route of a case for the browser that asked it (None once the case is erased)."""
    case = session.get(LoketCase, case_id)
    return route_of(case) if case is not None else None


def _out(case: LoketCase, adviser: User | None, company: Company | None) -> CaseOut:
    return CaseOut(
        **case.model_dump(exclude={"assigned_user_id", "company_id", "consented_at", "route"}),
        assigned_user=UserRef(id=_id(adviser), username=adviser.username, full_name=adviser.full_name)
        if adviser else None,
        company=CompanyRef(id=_id(company), name=company.name, municipality=company.municipality,
                           defence_experience=company.defence_experience) if company else None,
    )


def advisers(*, session: Session) -> list[User]:
    """Who a case can be assigned to."""
    return list(session.exec(select(User).where(col(User.role).in_(DESK_ROLES), col(User.is_active).is_(True))
                             .order_by(col(User.username))).all())


def _users(session: Session, ids: set[int | None]) -> dict[int | None, User]:
    wanted = [i for i in ids if i is not None]
    return {u.id: u for u in session.exec(select(User).where(col(User.id).in_(wanted)))} if wanted else {}


def _companies(session: Session, ids: set[int | None]) -> dict[int | None, Company]:
    wanted = [i for i in ids if i is not None]
    return {c.id: c for c in session.exec(select(Company).where(col(Company.id).in_(wanted)))} if wanted else {}


def _event(session: Session, caller: Caller, case: LoketCase, kind: CaseEventKind, note: str) -> None:
    session.add(CaseEvent(case_id=_id(case), actor=caller.label, kind=kind, note=note))


def _touched(session: Session, case: LoketCase) -> LoketCase:
    case.updated_at = utcnow()
    session.add(case)
    session.flush()
    return case


def _id(row: LoketCase | Need | Organisation | User | Company) -> int:
    assert row.id is not None  # stored rows have their id
    return row.id
