"""Companies: registration, reading with field-level visibility, changes and erasure."""

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, ColumnExpressionArgument, Row, String, bindparam, cast, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.core.db import forget_erased_pages
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.security import hash_token, new_token, token_matches
from app.domain import CompanySource, CompanyStatus, DefenceExperience
from app.models import Company, CompanyRecord, MatchList, id_of, metadata, utcnow
from app.schemas import CompanyCreate, CompanyOut, CompanyUpdate, Consents, Contact
from app.services import audit, edit_links, freshness, list_counts, mail, pipeline
from app.services.access import Caller, may_see_consents, may_see_contact
from app.services.pipeline import introduction_consent, introduction_consented_company_ids
from app.taxonomy import get_taxonomy

REDACTED_NAME = "[verwijderd bedrijf]"
# Fields only the provincial desk may change.
DESK_ONLY_FIELDS = frozenset({"status"})
# NOT NULL for every company, seed records included: null is refused, not sent to the database.
NEVER_EMPTY_FIELDS = frozenset({
    "name", "description", "defence_experience", "status", "consent_matching", "consent_defence_contact",
    "weekly_match_mail", "sectors", "nld_areas", "capabilities",
})


def register(
    *, session: Session, caller: Caller, company_in: CompanyCreate, edit_token: str | None = None
) -> tuple[Company, str]:
    """Stores a new company and returns it with its edit token (clear text, shown once; ``edit_token``
    when given, else a new random one). A known KvK number is a Conflict: for staff, and for the
    self-registration, which answers strangers without it (app/services/registration.py)."""
    if caller.user is not None and not caller.is_desk:
        raise Forbidden("only advisers and admins register companies on a company's behalf", code="register_forbidden")
    _refuse_duplicate_kvk(session, company_in.kvk_number)
    edit_token = edit_token or new_token("edit")
    fields = company_in.model_dump(exclude={"consent"})
    company = Company(
        **fields,
        consent_matching=True,
        source=CompanySource.adviser if caller.is_desk else CompanySource.self,
        registered_by_user_id=caller.user.id if caller.user else None,
        edit_token_hash=hash_token(edit_token),
    )
    session.add(company)
    try:
        session.flush()
    except IntegrityError as error:  # two registrations of one KvK number at the same moment
        session.rollback()
        raise Conflict(f"a company with kvk_number {company_in.kvk_number} is already registered",
                       code="kvk_taken") from error
    audit.record(session, caller, "register", "company", company.id)
    return company, edit_token


def find_by_kvk(session: Session, kvk_number: str) -> Company | None:
    return session.exec(select(Company).where(Company.kvk_number == kvk_number)).first()


def get(*, session: Session, company_id: int) -> Company:
    return _found(session.get(Company, company_id), company_id)


def get_row(*, session: Session, company_id: int) -> Row[Any]:
    """``get`` as a row of the company's columns, for reading only (a match request)."""
    # Not rows_by_id: its expanding IN list is rendered into the SQL anew on every execution,
    # a third of the time of reading one company.
    return _found(session.connection().execute(_COMPANY_ROW_BY_ID, {"id": company_id}).first(), company_id)


R = TypeVar("R", Company, Row[Any])


def _found(company: R | None, company_id: int) -> R:
    if company is None:
        raise NotFound(f"no company with id {company_id}", code="company_not_found")
    return company


def check_edit_token(company: CompanyRecord, edit_token: str | None) -> bool:
    """The company's edit token, or a link token mailed to its contact (app/services/edit_links.py)."""
    if not edit_token:
        return False
    if edit_token.startswith(edit_links.LINK_PREFIX):
        return edit_links.link_token_matches(company, edit_token)
    return bool(company.edit_token_hash and token_matches(edit_token, company.edit_token_hash))


def issue_edit_token(*, session: Session, company: Company, actor: Caller | str) -> str:
    """A new edit token for the company (the old one stops working); the clear text is returned once."""
    edit_token = new_token("edit")
    company.edit_token_hash = hash_token(edit_token)
    session.add(company)
    audit.record(session, actor, "issue_edit_token", "company", company.id)
    return edit_token


def require_access(caller: Caller, company: CompanyRecord) -> None:
    """Staff may read every company; a company only itself."""
    if caller.is_staff or caller.owns(company.id):
        return
    raise Forbidden("this company's profile is visible only to staff and to the company itself (X-Edit-Token)",
                    code="company_forbidden")


def require_change_access(caller: Caller, company: Company) -> None:
    if caller.is_desk or caller.owns(company.id):
        return
    raise Forbidden("only advisers, admins or the company itself (X-Edit-Token) may change or erase a profile",
                    code="company_change_forbidden")


def update(*, session: Session, caller: Caller, company: Company, changes: CompanyUpdate) -> Company:
    require_change_access(caller, company)
    values = changes.model_dump(exclude_unset=True)
    if DESK_ONLY_FIELDS & values.keys() and not caller.is_desk:
        raise Forbidden(f"only advisers and admins may change {', '.join(sorted(DESK_ONLY_FIELDS & values.keys()))}",
                        code="company_change_forbidden")
    required = {"name", "kvk_number", "municipality", "description", "contact_email"}
    if company.source == CompanySource.seed:  # seed records may lack a KvK number, municipality or contact
        required = set()
    emptied = (required | NEVER_EMPTY_FIELDS) & values.keys()
    cleared = sorted(field for field in emptied if values[field] is None)
    if cleared:
        raise InvalidInput(f"{', '.join(cleared)} cannot be emptied: send a new value instead",
                           code="field_required", params={"fields": cleared})
    if values.get("kvk_number") and values["kvk_number"] != company.kvk_number:
        if not caller.is_desk:
            # Whether another company holds a number would tell who is registered: the desk checks it.
            raise Forbidden("only advisers and admins may change kvk_number: ask the desk to correct it",
                            code="kvk_desk_only")
        _refuse_duplicate_kvk(session, values["kvk_number"])
    for field, value in values.items():
        setattr(company, field, value)
    company.updated_at = utcnow()
    session.add(company)
    session.flush()
    touched_personal = {"contact_name", "contact_email", "contact_phone", "consent_matching", "consent_defence_contact"}
    audit.record(session, caller, "update", "company", company.id, "fields: " + ", ".join(sorted(values)))
    if touched_personal & values.keys():
        audit.record(session, caller, "update_personal_data", "company", company.id)
    return company


def erase(*, session: Session, caller: Caller, company: Company) -> None:
    """Deletes the profile with its personal data; only an audit line without personal data remains."""
    require_change_access(caller, company)
    company_id = id_of(company)
    session.delete(company)  # its matches, events and consents go with it (ON DELETE CASCADE)
    session.flush()
    _redact_from_match_lists(session, company_id)
    audit.record(session, caller, "erase", "company", company_id)


def forget_files(company_id: int) -> None:
    """After an erasure is committed: the company's mail leaves the outbox folder, and SQLite's
    write-ahead log (which still holds the pages as they were) is moved into the database file,
    whose deleted content is overwritten (secure_delete). The matching index forgets its text
    when told of the erasure (MatchingState.changed)."""
    mail.forget_company_files(company_id)
    forget_erased_pages()


def _redact_from_match_lists(session: Session, company_id: int) -> None:
    """Stored weekly lists keep the erased company's id and scores, not its name or place."""
    for match_list in session.exec(select(MatchList)).all():
        content = json.loads(match_list.content)
        lines = [line for line in content["lines"] if line["company_id"] == company_id]
        for line in lines:
            line["company_name"], line["municipality"] = REDACTED_NAME, ""
        if lines:
            match_list.content = json.dumps(content, ensure_ascii=False, sort_keys=True, indent=1)
            session.add(match_list)


# Filters no index serves: with one of them, a list's count reads every company.
SCANNING_FILTERS = ("q", "nld_area", "sector")


def scans(**filters: Any) -> bool:
    """Whether these list filters make the database read every company."""
    return any(filters.get(name) for name in SCANNING_FILTERS)


def filter_conditions(
    *,
    q: str | None = None,
    municipality: str | None = None,
    region: str | None = None,
    nld_area: str | None = None,
    sector: str | None = None,
    defence_experience: DefenceExperience | None = None,
    status: CompanyStatus | None = None,
) -> list[ColumnElement[bool]]:
    """SQL conditions for the company filters shared by the list, matching and search."""
    conditions: list[ColumnElement[bool]] = []
    if q:
        pattern = contains_pattern(q)
        conditions.append(
            or_(
                func.lower(col(Company.name)).like(pattern, escape="\\"),
                func.lower(col(Company.description)).like(pattern, escape="\\"),
            )
        )
    if municipality:
        known = get_taxonomy().municipality(municipality)
        # A profile stores the taxonomy's spelling (schemas.check_municipality): compared with it,
        # the filter reads the municipality index instead of lowering every row's name.
        conditions.append(col(Company.municipality) == known.name if known is not None
                          else func.lower(col(Company.municipality)) == municipality.strip().lower())
    if region:
        names = get_taxonomy().municipalities_in_region(region)
        if not names:
            raise InvalidInput(f"unknown region {region!r}: choose from {list(get_taxonomy().regions)}",
                               code="region_unknown")
        conditions.append(col(Company.municipality).in_(names))
    if nld_area:
        conditions.append(json_list_contains(col(Company.nld_areas), nld_area))
    if sector:
        conditions.append(json_list_contains(col(Company.sectors), sector))
    if defence_experience:
        conditions.append(col(Company.defence_experience) == defence_experience)
    if status:
        conditions.append(col(Company.status) == status)
    return conditions


# How a list of companies may be sorted: by name, newest first, or by municipality.
COMPANY_ORDERS = {
    "name": (col(Company.name), col(Company.id)),
    "newest": (col(Company.created_at).desc(), col(Company.id).desc()),
    "municipality": (col(Company.municipality), col(Company.name), col(Company.id)),
}


def list_companies(
    *, session: Session, limit: int = 50, offset: int = 0, order: str = "name", **filters: Any
) -> tuple[list[Company], int]:
    conditions = filter_conditions(**filters)
    counting = select(func.count()).select_from(Company).where(*conditions)
    if scans(**filters):  # kept a few seconds when costly (list_counts.py)
        key = tuple(sorted((name, str(value)) for name, value in filters.items() if value is not None))
        count = list_counts.scanned.count(session, key, lambda: session.exec(counting).one())
    else:
        count = session.exec(counting).one()
    ordered = select(Company).where(*conditions).order_by(*COMPANY_ORDERS[order])
    companies = session.exec(ordered.offset(offset).limit(limit)).all()
    return list(companies), count


def like_anywhere(text: str) -> str:
    """A LIKE pattern for ``text`` anywhere, its own % _ and \\ escaped (escape character \\)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains_pattern(text: str) -> ColumnElement[str]:
    """``like_anywhere``, lowered by the database like the column it is compared with (SQLite lowers ASCII only)."""
    return func.lower(like_anywhere(text))


def json_list_contains(column: ColumnExpressionArgument[list[str]], slug: str) -> ColumnElement[bool]:
    """True where a JSON array column of slugs holds ``slug`` (works on SQLite and PostgreSQL)."""
    return cast(column, String).like(f'%"{slug}"%')


# What every caller sees of a company; the contact details and consents only some (see to_out).
_PUBLIC_FIELDS = tuple(
    name for name in CompanyOut.model_fields if name not in ("regions", "contact", "consents", "stale")
)


def to_out(
    *, session: Session, caller: Caller, company: CompanyRecord, need_id: int | None = None,
    introduction_consented: bool | None = None, audited: list[tuple[int, str]] | None = None,
) -> CompanyOut:
    """The company (a table object, or a row of its columns) as this caller may see it; every
    release of contact details to staff is audited (here, or by the caller who passes ``audited``
    and writes those events itself).

    ``need_id`` gives the context of an introduction: a company's consent to be introduced for that
    need releases its contact details to Defence parties there. ``introduction_consented`` is that
    consent when the caller already knows it (None: looked up when it could matter).
    """
    out = CompanyOut(
        **{name: getattr(company, name) for name in _PUBLIC_FIELDS},
        regions=regions_of(company.municipality),
        stale=caller.is_staff and freshness.is_stale(company.updated_at),
    )
    company_id = id_of(company)
    visible = may_see_contact(caller, company)
    if not visible and need_id is not None and may_see_contact(caller, company, introduction_consented=True):
        if introduction_consented is None:
            introduction_consented = introduction_consent(session, company_id, need_id) is not None
        visible = introduction_consented
    if visible:
        out.contact = Contact(name=company.contact_name, email=company.contact_email, phone=company.contact_phone)
        if not caller.owns(company_id) and company.contact_email:
            detail = f"need {need_id}" if need_id is not None else ""
            if audited is None:
                audit.record(session, caller, "read_contact", "company", company_id, detail)
            else:
                audited.append((company_id, detail))
    if may_see_consents(caller, company):
        out.consents = Consents(matching=company.consent_matching, defence_contact=company.consent_defence_contact,
                                weekly_match_mail=company.weekly_match_mail)
    return out


def to_out_many(
    *, session: Session, caller: Caller, companies: Sequence[CompanyRecord], need_id: int | None = None,
    audited: list[tuple[int, str]] | None = None,
) -> list[CompanyOut]:
    """``to_out`` for several companies, with the introduction consents for ``need_id`` read in one
    query. The contact details released are audited with one statement, or added to ``audited``
    for the caller to write."""
    consented: set[int] = set()
    # Only where a consent would release the contact details (Defence parties, no general consent).
    undecided = [id_of(c) for c in companies if not may_see_contact(caller, c)
                 and may_see_contact(caller, c, introduction_consented=True)]
    if need_id is not None and undecided:
        consented = introduction_consented_company_ids(session, need_id, undecided)
    released: list[tuple[int, str]] = [] if audited is None else audited
    outs = [
        to_out(session=session, caller=caller, company=c, need_id=need_id,
               introduction_consented=c.id in consented, audited=released)
        for c in companies
    ]
    if audited is None:
        audit.record_many(session, caller, "read_contact", "company", released)
    return outs


# A list of matches reads its companies with this statement: built once, its compiled form is reused.
_COMPANY_TABLE = metadata.tables["company"]
_COMPANY_ROWS_BY_ID = sa_select(_COMPANY_TABLE).where(_COMPANY_TABLE.c.id.in_(bindparam("ids", expanding=True)))
_COMPANY_ROW_BY_ID = sa_select(_COMPANY_TABLE).where(_COMPANY_TABLE.c.id == bindparam("id"))


def rows_by_id(*, session: Session, company_ids: list[int]) -> dict[int, Row[Any]]:
    """The companies with these ids that exist, as rows of their columns (one query, no table
    objects: a list of matches only shows them), by id."""
    if not company_ids:
        return {}
    return {row.id: row for row in session.connection().execute(_COMPANY_ROWS_BY_ID, {"ids": company_ids})}


def regions_of(municipality: str | None) -> list[str]:
    """The sub-regions a municipality belongs to (some belong to two)."""
    if not municipality:
        return []
    found = get_taxonomy().municipality(municipality)
    return list(found.regions) if found else []


def _refuse_duplicate_kvk(session: Session, kvk_number: str) -> None:
    if session.exec(select(Company.id).where(Company.kvk_number == kvk_number)).first() is not None:
        raise Conflict(f"a company with kvk_number {kvk_number} is already registered", code="kvk_taken")


def export(*, session: Session, caller: Caller, company: Company) -> dict[str, Any]:
    """Everything Koppelkans holds about a company (its right of access), as plain JSON data.

    Only the company itself and the provincial desk may ask; every export is audited. It is the
    company's document, whoever downloads it: staff notes appear only when shared with the
    company, and staff only as the service, never by id.
    """
    from app.models import AuditEvent, IntroductionConsent, Match, MatchEvent

    require_change_access(caller, company)
    profile = company.model_dump(exclude={"edit_token_hash", "registered_by_user_id"})
    matches = session.exec(select(Match).where(Match.company_id == company.id).order_by(col(Match.id))).all()
    events = {
        match.id: pipeline.events_for_company(session.exec(
            select(MatchEvent).where(MatchEvent.match_id == match.id).order_by(col(MatchEvent.id))).all())
        for match in matches
    }
    consents = session.exec(select(IntroductionConsent).where(IntroductionConsent.company_id == company.id)).all()
    audit.record(session, caller, "export", "company", company.id)
    session.flush()
    trail = session.exec(
        select(AuditEvent)
        .where(AuditEvent.subject_type == "company", AuditEvent.subject_id == company.id)
        .order_by(col(AuditEvent.id))
    ).all()
    return {
        "profile": profile,
        "regions": regions_of(company.municipality),
        "introduction_consents": [c.model_dump(include={"need_id", "consented_at"}) for c in consents],
        "matches": [{**pipeline.match_for_company(m), "events": events[m.id]} for m in matches],
        "audit_log": [{**e.model_dump(include={"at", "action", "detail"}), "actor": pipeline.company_actor(e.actor)}
                      for e in trail],
    }
