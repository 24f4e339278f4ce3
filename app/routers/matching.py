"""Matches: needs → companies, companies → needs, and free-text search, each with explanations."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session

from app.core.db import read
from app.deps import (
    CallerDep,
    CompanyId,
    EditTokenHeader,
    EngineDep,
    MatchingStateDep,
    NeedId,
    SessionDep,
    StaffDep,
    WriterDep,
    caller_for_company,
)
from app.openapi_errors import FORBIDDEN, Responses
from app.schemas import DefenceExperience, NeedKind, NldArea
from app.schemas_matching import CompanyMatch, CompanyMatches, NeedMatch, NeedMatches, SearchRequest
from app.services import companies as company_service
from app.services import match_views
from app.services import needs as need_service
from app.services.match_views import MatchPage

router = APIRouter(tags=["matching"])

NOT_READY: Responses = {503: {"description": "The matching index is still being built: try again shortly"}}


@router.get("/needs/{need_id}/matches", response_model=CompanyMatches, responses=NOT_READY)
async def companies_for_need(
    need_id: NeedId,
    caller: StaffDep,
    engine: EngineDep,
    writer: WriterDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    region: Annotated[str | None, Query(max_length=100, description="e.g. Zuidoost-Drenthe")] = None,
    nld_area: NldArea | None = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    defence_experience: Annotated[
        DefenceExperience | None, Query(description="`none` finds companies that never worked with Defence")
    ] = None,
) -> CompanyMatches:
    """Staff: the companies that best answer a need (active companies that consented to matching)."""
    def question(session: Session) -> MatchPage[CompanyMatch]:
        need = need_service.get_row(session=session, caller=caller, need_id=need_id)
        return match_views.companies_for_need_page(
            session=session, engine=engine, caller=caller, need=need, limit=limit, region=region,
            nld_area=nld_area, sector=sector, defence_experience=defence_experience,
        )

    page = await read(question)
    await writer.write(page.record)  # new match records and audit lines, committed before the answer
    return CompanyMatches(items=page.items)


@router.get(
    "/companies/{company_id}/matches", response_model=NeedMatches, responses={**NOT_READY, **FORBIDDEN}
)
async def needs_for_company(
    company_id: CompanyId,
    caller: CallerDep,
    engine: EngineDep,
    matching: MatchingStateDep,
    writer: WriterDep,
    x_edit_token: EditTokenHeader = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    kind: NeedKind | None = None,
    include_closed: Annotated[bool, Query(description="Also closed needs and needs past their deadline")] = False,
) -> NeedMatches:
    """Staff, or the company itself (`X-Edit-Token`): the needs and programmes that fit a company."""
    def question(session: Session) -> MatchPage[NeedMatch]:
        company = company_service.get_row(session=session, company_id=company_id)
        company_caller = caller_for_company(company, caller, x_edit_token)
        company_service.require_access(company_caller, company)
        return match_views.needs_for_company_page(
            session=session, engine=engine, caller=company_caller, company=company, limit=limit, kind=kind,
            include_closed=include_closed, need_filters=matching.need_filters,
        )

    page = await read(question)
    await writer.write(page.record)
    return NeedMatches(items=page.items)


@router.post("/search", response_model=CompanyMatches | NeedMatches, responses=NOT_READY)
def search(
    request_in: SearchRequest, caller: CallerDep, session: SessionDep, engine: EngineDep, matching: MatchingStateDep
) -> CompanyMatches | NeedMatches:
    """Free-text search over needs (anyone: public needs) or companies (staff only)."""
    text, limit, filters = request_in.text, request_in.limit, request_in.filters.model_dump()
    with matching.match_slots:
        if request_in.target == "companies":
            return CompanyMatches(items=match_views.search_companies(
                session=session, engine=engine, caller=caller, text=text, limit=limit, filters=filters))
        return NeedMatches(items=match_views.search_needs(
            session=session, engine=engine, caller=caller, text=text, limit=limit, filters=filters,
            need_filters=matching.need_filters))
