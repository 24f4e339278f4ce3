"""The desk's inbox: cases from the loket and their trajectories (advisers and admins), and the
province's KPIs (staff)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel
from sqlmodel import Session

from app.deps import DeskDep, MatchingStateDep, SessionDep, StaffDep
from app.domain import CaseStatus
from app.models import LoketCase, utcnow
from app.schemas import MAX_ID, CompanyRegistered
from app.schemas_loket import (
    ApplicationIn,
    CaseChange,
    CaseDetail,
    CaseLinkIn,
    CaseProfileIn,
    CasesOut,
    KpiReport,
    ReferralIn,
)
from app.services import cases as case_service
from app.services import companies as company_service
from app.services import kpis
from app.services.access import Caller
from app.services.matchable import is_matchable

router = APIRouter(prefix="/cases", tags=["loket"])

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="The case's id")]


class CaseWithProfile(BaseModel):
    case: CaseDetail
    company: CompanyRegistered


def _case(session: Session, case_id: int) -> LoketCase:
    return case_service.get(session=session, case_id=case_id)


@router.get("", response_model=CasesOut)
def list_cases(
    caller: DeskDep,
    session: SessionDep,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    assigned_user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CasesOut:
    """The inbox, newest first: questions from the loket and the trajectories they became."""
    cases, count = case_service.list_cases(session=session, status=status_, assigned_user_id=assigned_user_id,
                                           limit=limit, offset=offset)
    return CasesOut(data=case_service.to_out_many(session=session, caller=caller, cases=cases), count=count)


@router.get("/{case_id}", response_model=CaseDetail)
def read_case(case_id: CaseId, caller: DeskDep, session: SessionDep) -> CaseDetail:
    """A case with the route its asker was given, its events, referrals, programmes and the linked
    company's matches."""
    return case_service.to_detail(session=session, caller=caller, case=_case(session, case_id))


@router.patch("/{case_id}", response_model=CaseDetail)
def change_case(case_id: CaseId, changes: CaseChange, caller: DeskDep, session: SessionDep) -> CaseDetail:
    """Assign an adviser (starts the trajectory), write the articulated question or the answer, set
    the status or the outcome. Only the fields sent change."""
    case = case_service.change(session=session, caller=caller, case=_case(session, case_id), changes=changes)
    session.commit()
    return case_service.to_detail(session=session, caller=caller, case=case)


@router.post("/{case_id}/link", response_model=CaseDetail)
def link_case(case_id: CaseId, link: CaseLinkIn, caller: DeskDep, session: SessionDep) -> CaseDetail:
    """Link the case to an existing company profile."""
    case = case_service.link_company(session=session, caller=caller, case=_case(session, case_id),
                                     company_id=link.company_id)
    session.commit()
    return case_service.to_detail(session=session, caller=caller, case=case)


@router.post("/{case_id}/profile", status_code=status.HTTP_201_CREATED, response_model=CaseWithProfile,
             responses={409: {"description": "KvK number already registered: link the case instead"}})
def create_profile(
    case_id: CaseId, profile_in: CaseProfileIn, caller: DeskDep, session: SessionDep, matching: MatchingStateDep
) -> CaseWithProfile:
    """Make a company profile from the case, with the company's consent, and link it. The answer
    holds the company's `edit_token` once: pass it on to the company."""
    case = _case(session, case_id)
    company, edit_token = case_service.create_profile(session=session, caller=caller, case=case, profile_in=profile_in)
    session.commit()  # before the answer: the new profile is matched from its first request on
    registrant = Caller(user=caller.user, company_id=company.id)
    out = company_service.to_out(session=session, caller=registrant, company=company)
    indexing = matching.indexing(session, matchable=is_matchable(company))
    return CaseWithProfile(case=case_service.to_detail(session=session, caller=caller, case=case),
                           company=CompanyRegistered(**out.model_dump(), edit_token=edit_token, indexing=indexing))


@router.post("/{case_id}/referrals", response_model=CaseDetail)
def refer(case_id: CaseId, referral: ReferralIn, caller: DeskDep, session: SessionDep) -> CaseDetail:
    """Record a referral of the company to an organisation (by slug)."""
    case = case_service.add_referral(session=session, caller=caller, case=_case(session, case_id),
                                     referral_in=referral)
    session.commit()
    return case_service.to_detail(session=session, caller=caller, case=case)


@router.post("/{case_id}/programmes", response_model=CaseDetail)
def record_application(case_id: CaseId, application: ApplicationIn, caller: DeskDep, session: SessionDep) -> CaseDetail:
    """Record a programme the company applied for, or how its application ended."""
    case = case_service.set_application(session=session, caller=caller, case=_case(session, case_id),
                                        application_in=application)
    session.commit()
    return case_service.to_detail(session=session, caller=caller, case=case)


@router.delete("/{case_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def erase_case(case_id: CaseId, caller: DeskDep, session: SessionDep) -> Response:
    """Erase a case with its question and e-mail address (at the asker's request)."""
    case_service.erase(session=session, caller=caller, case=_case(session, case_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


kpi_router = APIRouter(prefix="/kpis", tags=["loket"])

EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
Year = Annotated[int, Query(ge=kpis.FIRST_YEAR, le=kpis.LAST_YEAR, description="The calendar year, e.g. 2026")]


@kpi_router.get("", response_model=KpiReport)
def kpi_report(caller: StaffDep, session: SessionDep, year: Year) -> KpiReport:
    """Staff: the province's KPIs per month against their targets (trajectories, advice vouchers,
    companies helped towards Defence, introductions and what came of them)."""
    return kpis.report(session, year)


@kpi_router.get(
    "/export",
    response_class=Response,
    responses={200: {"content": {t: {} for t in EXPORT_TYPES.values()}, "description": "The KPI table"}},
)
def kpi_export(caller: StaffDep, session: SessionDep, year: Year, format: Literal["csv", "xlsx"] = "csv") -> Response:
    """Staff: the KPI table for the province's reporting, as CSV for Dutch Excel or as XLSX, Dutch headers."""
    report = kpis.report(session, year)
    body = kpis.as_csv(report) if format == "csv" else kpis.as_xlsx(report, created=utcnow())
    return Response(content=body, media_type=EXPORT_TYPES[format], headers={
        "Content-Disposition": f'attachment; filename="koppelkans-kpi-{year}.{format}"'})
