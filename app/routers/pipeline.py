"""Working the matches: the pipeline, feedback, introductions, scouting, weekly lists, dashboard."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response, status

from app.deps import (
    CompanyCallerDep,
    CompanyDep,
    CompanyId,
    EngineDep,
    ListReaderDep,
    NeedId,
    SessionDep,
    StaffDep,
)
from app.domain import Fit
from app.routers.matching import MinFit
from app.schemas import MAX_ID, NldArea, PipelineStatus
from app.schemas_matching import CompanyMatches
from app.schemas_pipeline import Dashboard, MatchChange, MatchDetail, MatchesOut, MatchFeedback, MatchListWeek
from app.services import board as board_service
from app.services import dashboard, match_lists, match_views, pipeline
from app.services import feedback as feedback_service
from app.services import needs as need_service
from app.services.board import BoardFilter

router = APIRouter(tags=["pipeline"])


@router.get("/matches", response_model=MatchesOut)
def list_matches(
    caller: StaffDep,
    session: SessionDep,
    status_: Annotated[PipelineStatus | None, Query(alias="status")] = None,
    need_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    company_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    owner_user_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> MatchesOut:
    """Staff: the pipeline board, most recently changed first."""
    board_filter = BoardFilter(status=status_, need_id=need_id, company_id=company_id, owner_user_id=owner_user_id)
    page = board_service.cards(session, board_filter, limit=limit, offset=offset)
    count = board_service.count(session, board_filter)
    return MatchesOut(data=[board_service.match_out(card) for card in page], count=count)


@router.get("/matches/{company_id}/{need_id}", response_model=MatchDetail)
def read_match(company_id: CompanyId, need_id: NeedId, caller: StaffDep, session: SessionDep) -> MatchDetail:
    return board_service.match_detail(session, pipeline.get(session, company_id, need_id))


@router.patch("/matches/{company_id}/{need_id}", response_model=MatchDetail)
def change_match(
    company_id: CompanyId, need_id: NeedId, change: MatchChange, caller: StaffDep, session: SessionDep
) -> MatchDetail:
    """Staff: move a match on (illegal moves get 422 naming the allowed ones), add a note, set the owner."""
    match = pipeline.get_or_create(session, company_id, need_id)
    pipeline.change(
        session, caller, match, status=change.status, note=change.note, note_visibility=change.note_visibility,
        owner_user_id=change.owner_user_id, owner_given="owner_user_id" in change.model_fields_set,
    )
    session.commit()
    return board_service.match_detail(session, match)


@router.post("/matches/{company_id}/{need_id}/feedback", response_model=MatchDetail)
def give_feedback(
    company_id: CompanyId, need_id: NeedId, feedback: MatchFeedback, caller: StaffDep, session: SessionDep
) -> MatchDetail:
    """Staff: mark a match relevant or not. "Not relevant" keeps it out of the match results of the
    caller's organisation; an admin's (or `scope: everyone`, admins only) keeps it out of everyone's
    results and the weekly lists."""
    match = pipeline.get_or_create(session, company_id, need_id)
    feedback_service.set_feedback(session, caller, match, relevant=feedback.relevant, reason=feedback.reason,
                                  scope=feedback.scope)
    session.commit()
    return board_service.match_detail(session, match)


@router.post("/companies/{company_id}/introductions/{need_id}/consent", response_model=MatchDetail)
def consent_to_introduction(
    need_id: NeedId, company: CompanyDep, caller: CompanyCallerDep, session: SessionDep
) -> MatchDetail:
    """The company itself (`X-Edit-Token`): agree to be introduced for this need; releases its contact
    details to the Defence parties working on it."""
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    match = pipeline.consent_to_introduction(session, caller, company, need)
    session.commit()
    return board_service.match_detail_for_company(session, match)


@router.delete("/companies/{company_id}/introductions/{need_id}/consent", status_code=204, response_class=Response)
def withdraw_consent(need_id: NeedId, company: CompanyDep, caller: CompanyCallerDep, session: SessionDep) -> Response:
    """The company itself: withdraw its consent for this introduction."""
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    pipeline.withdraw_consent(session, caller, company, need)
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/needs/{need_id}/scouting", response_model=CompanyMatches)
def scouting(
    need_id: NeedId,
    caller: StaffDep,
    session: SessionDep,
    engine: EngineDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    region: Annotated[str | None, Query(max_length=100)] = None,
    nld_area: NldArea | None = None,
    min_fit: MinFit = Fit.fair,
) -> CompanyMatches:
    """Scouting for MINDbase Noord: companies that fit and never worked with Defence, newest first among equals."""
    need = need_service.get(session=session, caller=caller, need_id=need_id)
    items = match_views.companies_for_need(
        session=session, engine=engine, caller=caller, need=need, limit=limit, scouting=True, region=region,
        nld_area=nld_area, min_fit=min_fit,
    )
    session.commit()
    return CompanyMatches(items=items, total=len(items))


@router.get("/match-lists", response_model=list[MatchListWeek])
def list_weeks(caller: ListReaderDep, session: SessionDep) -> list[MatchListWeek]:
    """The weeks with a stored match list, newest first."""
    return match_lists.weeks(session)


EXPORT_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get(
    "/match-lists/{week}",
    response_class=Response,
    responses={200: {"content": {t: {} for t in EXPORT_TYPES.values()}, "description": "The stored list"}},
)
def read_week(
    week: str, caller: ListReaderDep, session: SessionDep, format: Literal["json", "csv", "xlsx"] = "json",
    min_fit: MinFit = Fit.fair,
) -> Response:
    """A stored weekly list (ISO week, e.g. 2026-W48) as JSON, CSV for Dutch Excel, or XLSX: the
    pairs that fit at least `min_fit` (by default `fair` and better)."""
    match_list = match_lists.get(session, week)
    lines = match_lists.fitting(match_lists.lines_of(match_list), min_fit)
    body = {"json": match_lists.as_json, "csv": match_lists.as_csv,
            "xlsx": match_lists.as_xlsx}[format](match_list, lines)
    headers = {}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="koppelkans-matchlijst-{match_list.week}.{format}"'
    return Response(content=body, media_type=EXPORT_TYPES[format], headers=headers)


@router.get("/dashboard", response_model=Dashboard)
def dashboard_figures(caller: StaffDep, session: SessionDep) -> Dashboard:
    """Staff: matches by status, NLD area and sub-region, and introductions per month."""
    return dashboard.figures(session)


