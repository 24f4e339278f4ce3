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
    JournalDep,
    MatchingStateDep,
    NeedId,
    StaffDep,
    readable_company,
)
from app.domain import Fit
from app.openapi_errors import FORBIDDEN, Responses
from app.schemas import DefenceExperience, NeedKind, NldArea
from app.schemas_matching import CompanyMatch, CompanyMatches, NeedMatch, NeedMatches, SearchRequest
from app.services import match_views, recording
from app.services import needs as need_service
from app.services.match_views import MatchPage

router = APIRouter(tags=["matching"])

NOT_READY: Responses = {503: {"description": "The matching index is still being built: try again shortly"}}
MinFit = Annotated[Fit, Query(description="The weakest band to list (`strong`, `fair` or `weak`): by default "
                                          "only `fair` and better; an empty list means nothing fits that well")]


@router.get("/needs/{need_id}/matches", response_model=CompanyMatches, responses=NOT_READY)
async def companies_for_need(
    need_id: NeedId,
    caller: StaffDep,
    engine: EngineDep,
    journal: JournalDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    region: Annotated[str | None, Query(max_length=100, description="e.g. Zuidoost-Drenthe")] = None,
    nld_area: NldArea | None = None,
    sector: Annotated[str | None, Query(max_length=100)] = None,
    defence_experience: Annotated[
        DefenceExperience | None, Query(description="`none` finds companies that never worked with Defence")
    ] = None,
    min_fit: MinFit = Fit.fair,
) -> CompanyMatches:
    """Staff: the companies that best answer a need (active companies that consented to matching)."""
    def question(session: Session) -> MatchPage[CompanyMatch]:
        need = need_service.get_row(session=session, caller=caller, need_id=need_id)
        return match_views.companies_for_need_page(
            session=session, engine=engine, caller=caller, need=need, limit=limit, region=region,
            nld_area=nld_area, sector=sector, defence_experience=defence_experience, min_fit=min_fit,
        )

    page = await read(question)
    journal.append(page.journal_entry())  # audit lines of the contact details shown, committed shortly after
    return CompanyMatches(items=page.items, total=len(page.items))


@router.get(
    "/companies/{company_id}/matches", response_model=NeedMatches, responses={**NOT_READY, **FORBIDDEN}
)
async def needs_for_company(
    company_id: CompanyId,
    caller: CallerDep,
    engine: EngineDep,
    matching: MatchingStateDep,
    journal: JournalDep,
    x_edit_token: EditTokenHeader = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    kind: NeedKind | None = None,
    include_closed: Annotated[bool, Query(description="Also closed needs and needs past their deadline")] = False,
    min_fit: MinFit = Fit.fair,
) -> NeedMatches:
    """Staff, or the company itself (`X-Edit-Token`): the needs and programmes that fit a company."""
    def question(session: Session) -> MatchPage[NeedMatch]:
        company, company_caller = readable_company(session, company_id, caller, x_edit_token)
        return match_views.needs_for_company_page(
            session=session, engine=engine, caller=company_caller, company=company, limit=limit, kind=kind,
            include_closed=include_closed, need_filters=matching.need_filters, min_fit=min_fit,
        )

    page = await read(question)
    journal.append(page.journal_entry())
    return NeedMatches(items=page.items, total=len(page.items))


@router.post("/search", response_model=CompanyMatches | NeedMatches, responses=NOT_READY)
async def search(
    request_in: SearchRequest, caller: CallerDep, engine: EngineDep, matching: MatchingStateDep, journal: JournalDep
) -> CompanyMatches | NeedMatches:
    """Free-text search over needs (anyone: public needs) or companies (staff only)."""
    text, limit, filters = request_in.text, request_in.limit, request_in.filters.model_dump()

    def question(session: Session) -> tuple[CompanyMatches | NeedMatches, list[tuple[int, str]]]:
        released: list[tuple[int, str]] = []
        if request_in.target == "companies":
            companies = match_views.search_companies(session=session, engine=engine, caller=caller, text=text,
                                                     limit=limit, filters=filters, min_fit=request_in.min_fit,
                                                     audited=released)
            return CompanyMatches(items=companies, total=len(companies)), released
        needs = match_views.search_needs(session=session, engine=engine, caller=caller, text=text, limit=limit,
                                         filters=filters, need_filters=matching.need_filters,
                                         min_fit=request_in.min_fit)
        return NeedMatches(items=needs, total=len(needs)), released

    found, released = await read(question)
    journal.append(recording.page_entry(caller.label, released))  # contact details shown, audited shortly after
    return found
