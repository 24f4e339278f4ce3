"""Companies: public self-registration and the staff API."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.core.db import read
from app.deps import (
    CallerDep,
    CompanyCallerDep,
    CompanyDep,
    CompanyId,
    EditTokenHeader,
    IdempotencyKeyHeader,
    JournalDep,
    MatchingStateDep,
    SessionDep,
    StaffDep,
    readable_company,
    registration_limit,
)
from app.models import id_of
from app.openapi_errors import FORBIDDEN
from app.schemas import (
    CompaniesOut,
    CompanyCreate,
    CompanyOut,
    CompanyRegistered,
    CompanyStatus,
    CompanyUpdate,
    CompanyWritten,
    DefenceExperience,
    NldArea,
    RegistrationReceived,
)
from app.services import companies as company_service
from app.services import idempotency, recording, registration
from app.services.access import Caller
from app.services.matchable import is_matchable

router = APIRouter(prefix="/companies", tags=["companies"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CompanyRegistered,
    dependencies=[Depends(registration_limit)],
    responses={
        202: {"model": RegistrationReceived,
              "description": "Anonymous registration received: the next step goes by e-mail (new or known KvK alike)"},
        403: {"description": "Only advisers and admins register on a company's behalf"},
        409: {"description": "KvK number already registered (told to advisers and admins only)"},
        429: {"description": "Too many registrations"},
    },
)
def register_company(
    company_in: CompanyCreate, caller: CallerDep, session: SessionDep, matching: MatchingStateDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CompanyRegistered | JSONResponse:
    """Register a company: by itself (anonymous, rate-limited) or by an adviser on its behalf.

    Anonymously the answer is 202 with a message, whether the KvK number is new or known: the
    contact address Koppelkans holds for that number gets the next step by e-mail (for a new
    company its edit link; for a known one a notice with a link to its profile). An adviser or
    admin gets 201 with the `edit_token` (shown once: keep it to read, change or erase the profile
    later), or 409 for a known number. With `Idempotency-Key`, the same request within 24 hours
    gets the first answer again (edit token included); the same key with another body gets 422.
    The answer is given once the company is stored; `indexing` says when matching knows it.
    """
    key = idempotency.IdempotencyKey.of("POST /companies", caller, idempotency_key, company_in)
    replayed = idempotency.replay(session, key)
    if caller.user is None:
        if replayed is None:
            registration.register_self(session=session, company_in=company_in)
            idempotency.remember(session, key, status_code=status.HTTP_202_ACCEPTED)
            session.commit()  # the index takes it in from the change log (services/indexing.py)
        return JSONResponse(status_code=status.HTTP_202_ACCEPTED,
                            content=RegistrationReceived(message=registration.RECEIVED).model_dump())
    if replayed is not None and replayed.company_id is not None:
        company = company_service.get(session=session, company_id=replayed.company_id)
        edit_token = key.edit_token() if key else ""
    else:
        company, edit_token = company_service.register(
            session=session, caller=caller, company_in=company_in, edit_token=key.edit_token() if key else None
        )
        idempotency.remember(session, key, status_code=status.HTTP_201_CREATED, company_id=id_of(company))
        session.commit()
    # The registering party sees what it just sent, contact details included.
    registrant = Caller(user=caller.user, company_id=company.id)
    out = company_service.to_out(session=session, caller=registrant, company=company)
    indexing = matching.indexing(session, matchable=is_matchable(company))
    return CompanyRegistered(**out.model_dump(), edit_token=edit_token, indexing=indexing)


@router.get("", response_model=CompaniesOut)
async def list_companies(
    caller: StaffDep,
    journal: JournalDep,
    q: Annotated[str | None, Query(max_length=200, description="Text in name or description")] = None,
    municipality: Annotated[str | None, Query(max_length=100)] = None,
    region: Annotated[
        str | None, Query(max_length=100, description="e.g. Zuidoost-Drenthe, Drenthe, Noord-Nederland")
    ] = None,
    nld_area: NldArea | None = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    defence_experience: DefenceExperience | None = None,
    status: CompanyStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CompaniesOut:
    """Staff only. Filters combine; results are ordered by name. With `q`, `nld_area` or `sector`
    in a large register, `count` may leave out the last few seconds' registrations (it reads
    every company); the listed companies are always current."""
    def question(session: Session) -> tuple[CompaniesOut, list[tuple[int, str]]]:
        companies, count = company_service.list_companies(
            session=session, q=q, municipality=municipality, region=region, nld_area=nld_area, sector=sector,
            defence_experience=defence_experience, status=status, limit=limit, offset=offset,
        )
        released: list[tuple[int, str]] = []
        data = company_service.to_out_many(session=session, caller=caller, companies=companies, audited=released)
        return CompaniesOut(data=data, count=count), released

    listed, released = await read(question, scan=company_service.scans(q=q, nld_area=nld_area, sector=sector))
    journal.append(recording.page_entry(caller.label, released))  # the contact details shown, audited shortly
    return listed


@router.get("/{company_id}", response_model=CompanyOut, responses=FORBIDDEN)
async def read_company(
    company_id: CompanyId, caller: CallerDep, journal: JournalDep, x_edit_token: EditTokenHeader = None
) -> CompanyOut:
    """Staff, or the company itself with header `X-Edit-Token`."""
    def question(session: Session) -> tuple[CompanyOut, recording.Entry]:
        company, company_caller = readable_company(session, company_id, caller, x_edit_token)
        released: list[tuple[int, str]] = []
        out = company_service.to_out(session=session, caller=company_caller, company=company, audited=released)
        return out, recording.page_entry(company_caller.label, released)

    out, entry = await read(question)
    journal.append(entry)  # the contact details shown, audited shortly after
    return out


@router.get("/{company_id}/export", response_model=dict)
def export_company(
    company: CompanyDep, caller: CompanyCallerDep, session: SessionDep, journal: JournalDep
) -> JSONResponse:
    """Everything held about the company — profile, contact details, consents, matches with their
    history, and the audit log of who read or changed its data — as one JSON document.

    The company itself (`X-Edit-Token`), advisers and admins. Every export is written to the audit log.
    """
    journal.flush()  # reads of its contact details a moment ago are in the audit log it gets
    data = company_service.export(session=session, caller=caller, company=company)
    session.commit()
    return JSONResponse(
        jsonable_encoder(data),
        headers={"Content-Disposition": f'attachment; filename="koppelkans-bedrijf-{company.id}.json"'},
    )


@router.patch(
    "/{company_id}", response_model=CompanyWritten, responses={409: {"description": "KvK number already registered"}}
)
def update_company(
    changes: CompanyUpdate, company: CompanyDep, caller: CompanyCallerDep, session: SessionDep,
    matching: MatchingStateDep,
) -> CompanyWritten:
    """Advisers, admins, or the company itself with `X-Edit-Token`. Only the fields sent change.
    The answer is given once the change is stored; `indexing` says when matching knows it."""
    company_service.update(session=session, caller=caller, company=company, changes=changes)
    session.commit()
    out = company_service.to_out(session=session, caller=caller, company=company)
    return CompanyWritten(**out.model_dump(), indexing=matching.indexing(session, matchable=is_matchable(company)))


@router.delete("/{company_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def erase_company(company: CompanyDep, caller: CompanyCallerDep, session: SessionDep) -> Response:
    """Erase the profile and its personal data. Advisers, admins, or the company itself with `X-Edit-Token`."""
    company_id = id_of(company)
    company_service.erase(session=session, caller=caller, company=company)
    session.commit()  # the commit also removes its vectors, passages and saved text from the index
    company_service.forget_files(company_id)  # its mail files, the database's write-ahead log
    return Response(status_code=status.HTTP_204_NO_CONTENT)
