"""Companies: public self-registration and the staff API."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app.deps import (
    CallerDep,
    CompanyCallerDep,
    CompanyDep,
    SessionDep,
    StaffDep,
    registration_limit,
)
from app.schemas import (
    CompaniesOut,
    CompanyCreate,
    CompanyOut,
    CompanyRegistered,
    CompanyStatus,
    CompanyUpdate,
    DefenceExperience,
    NldArea,
)
from app.services import companies as company_service
from app.services.access import Caller

router = APIRouter(prefix="/companies", tags=["companies"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CompanyRegistered,
    dependencies=[Depends(registration_limit)],
    responses={
        403: {"description": "Only advisers and admins register on a company's behalf"},
        409: {"description": "KvK number already registered"},
        429: {"description": "Too many registrations"},
    },
)
def register_company(company_in: CompanyCreate, caller: CallerDep, session: SessionDep) -> CompanyRegistered:
    """Register a company: by itself (anonymous, rate-limited) or by an adviser on its behalf.

    The answer holds the `edit_token` once: keep it to read, change or erase the profile later.
    """
    company, edit_token = company_service.register(session=session, caller=caller, company_in=company_in)
    session.commit()
    # The registering party sees what it just sent, contact details included.
    registrant = Caller(user=caller.user, company_id=company.id)
    out = company_service.to_out(session=session, caller=registrant, company=company)
    return CompanyRegistered(**out.model_dump(), edit_token=edit_token)


@router.get("", response_model=CompaniesOut)
def list_companies(
    caller: StaffDep,
    session: SessionDep,
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
    """Staff only. Filters combine; results are ordered by name."""
    companies, count = company_service.list_companies(
        session=session,
        q=q,
        municipality=municipality,
        region=region,
        nld_area=nld_area,
        sector=sector,
        defence_experience=defence_experience,
        status=status,
        limit=limit,
        offset=offset,
    )
    return CompaniesOut(
        data=[company_service.to_out(session=session, caller=caller, company=c) for c in companies], count=count
    )


@router.get("/{company_id}", response_model=CompanyOut)
def read_company(company: CompanyDep, caller: CompanyCallerDep, session: SessionDep) -> CompanyOut:
    """Staff, or the company itself with header `X-Edit-Token`."""
    company_service.require_access(caller, company)
    return company_service.to_out(session=session, caller=caller, company=company)


@router.get("/{company_id}/export", response_model=dict)
def export_company(company: CompanyDep, caller: CompanyCallerDep, session: SessionDep) -> JSONResponse:
    """Everything held about the company — profile, contact details, consents, matches with their
    history, and the audit log of who read or changed its data — as one JSON document.

    The company itself (`X-Edit-Token`), advisers and admins. Every export is written to the audit log.
    """
    data = company_service.export(session=session, caller=caller, company=company)
    session.commit()
    return JSONResponse(
        jsonable_encoder(data),
        headers={"Content-Disposition": f'attachment; filename="koppelkans-bedrijf-{company.id}.json"'},
    )


@router.patch(
    "/{company_id}", response_model=CompanyOut, responses={409: {"description": "KvK number already registered"}}
)
def update_company(
    changes: CompanyUpdate, company: CompanyDep, caller: CompanyCallerDep, session: SessionDep
) -> CompanyOut:
    """Advisers, admins, or the company itself with `X-Edit-Token`. Only the fields sent change."""
    company_service.update(session=session, caller=caller, company=company, changes=changes)
    session.commit()
    return company_service.to_out(session=session, caller=caller, company=company)


@router.delete("/{company_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def erase_company(company: CompanyDep, caller: CompanyCallerDep, session: SessionDep) -> Response:
    """Erase the profile and its personal data. Advisers, admins, or the company itself with `X-Edit-Token`."""
    company_service.erase(session=session, caller=caller, company=company)
    session.commit()  # the commit also removes its vectors and passages from the index
    return Response(status_code=status.HTTP_204_NO_CONTENT)
