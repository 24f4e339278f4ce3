"""The pipeline board, the weekly list with its downloads, and the dashboard."""

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app.core.errors import Forbidden, InvalidInput
from app.core.text import FormText
from app.deps import SessionDep
from app.domain import ListLineChange, PipelineStatus
from app.services import board as board_service
from app.services import dashboard, match_lists
from app.services import pipeline as pipeline_service
from app.services.board import BoardCard, BoardFilter
from app.services.match_lists import ListLine
from app.web.pages import matching_engine
from app.web.routing import HtmlRoute, is_htmx, render
from app.web.session import CsrfDep, StaffVisitorDep, Visitor
from app.web.templating import PIPELINE_LABELS, nld_label

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

BOARD_LIMIT = 400
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


# --- the board ---------------------------------------------------------------------------------


def board_columns(
    db: Session, *, need_id: int | None = None, company_id: int | None = None
) -> list[dict[str, Any]]:
    """Matches by status, most recently changed first; pairs marked "not relevant" are left out."""
    board_filter = BoardFilter(need_id=need_id, company_id=company_id, include_dismissed=False)
    by_status: dict[PipelineStatus, list[BoardCard]] = {status: [] for status in PipelineStatus}
    for card in board_service.cards(db, board_filter, limit=BOARD_LIMIT):
        by_status[card.match.status].append(card)
    return [
        {"status": status, "label": PIPELINE_LABELS[status], "cards": cards}
        for status, cards in by_status.items()
    ]


def board_context(db: Session, need_id: int | None, company_id: int | None, **extra: Any) -> dict[str, Any]:
    return {
        "columns": board_columns(db, need_id=need_id, company_id=company_id),
        "board_filter": {"need_id": need_id, "company_id": company_id},
        **extra,
    }


@router.get("/pipeline")
def board(
    request: Request,
    db: SessionDep,
    visitor: StaffVisitorDep,
    behoefte: Annotated[int | None, Query(ge=1)] = None,
    bedrijf: Annotated[int | None, Query(ge=1)] = None,
) -> HTMLResponse:
    context = board_context(db, behoefte, bedrijf, error=None, error_for=None)
    return render(request, "partials/board.html" if is_htmx(request) else "pipeline.html", context)


@router.post("/pipeline/{company_id}/{need_id}", dependencies=[CsrfDep])
def change_status(
    request: Request,
    company_id: int,
    need_id: int,
    db: SessionDep,
    visitor: StaffVisitorDep,
    status: Annotated[PipelineStatus | None, Form()] = None,
    note: Annotated[FormText, Form(max_length=5000)] = "",
    behoefte: Annotated[int | None, Form()] = None,
    bedrijf: Annotated[int | None, Form()] = None,
) -> Response:
    """Moves a match on with a note (kept as an event); an illegal move shows the allowed ones."""
    match = pipeline_service.get_or_create(db, company_id, need_id)
    error = None
    try:
        pipeline_service.change(db, visitor.caller, match, status=status, note=note.strip() or None)
        db.commit()
    except InvalidInput as refused:
        db.rollback()
        error = refused.detail
    if not is_htmx(request) and error is None:
        query = f"?behoefte={behoefte}" if behoefte else (f"?bedrijf={bedrijf}" if bedrijf else "")
        return RedirectResponse(f"/ui/pipeline{query}", status_code=303)
    context = board_context(db, behoefte, bedrijf, error=error, error_for=(company_id, need_id))
    if is_htmx(request):  # htmx swaps 2xx answers only: the refusal is shown inside the board
        return render(request, "partials/board.html", context)
    return render(request, "pipeline.html", context, status_code=422)


# --- the weekly list ---------------------------------------------------------------------------


def require_list_reader(visitor: Visitor) -> None:
    if not visitor.caller.reads_weekly_lists:  # as the API's weekly-list endpoints
        raise Forbidden("de weeklijst is voor het Regioteam, adviseurs en beheerders")


@router.get("/weeklijst")
def weekly_list(
    request: Request,
    db: SessionDep,
    visitor: StaffVisitorDep,
    week: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    require_list_reader(visitor)
    weeks = match_lists.weeks(db)
    this_week = match_lists.current_week()
    chosen = week or (weeks[0].week if weeks else None)
    lines: list[ListLine] = []
    if chosen:
        stored = match_lists.get(db, chosen)
        lines = json.loads(stored.content)["lines"]
    counts = {
        change: sum(1 for line in lines if line["change"] == change)
        for change in ListLineChange
    }
    return render(
        request,
        "weekly.html",
        {
            "weeks": weeks,
            "week": chosen,
            "lines": lines,
            "counts": counts,
            "this_week": this_week,
            "this_week_built": any(w.week == this_week for w in weeks),
            "can_build": matching_engine(request, db)[0] is not None,
        },
    )


@router.post("/weeklijst", dependencies=[CsrfDep])
def build_this_week(request: Request, db: SessionDep, visitor: StaffVisitorDep) -> RedirectResponse:
    """Builds this week's list when the scheduled command has not yet (building twice changes nothing)."""
    require_list_reader(visitor)
    engine, reason = matching_engine(request, db)
    if engine is None:
        raise InvalidInput(f"de weeklijst kan nu niet worden opgebouwd: {reason}")
    week = match_lists.current_week()
    match_lists.build(db, engine, week)
    db.commit()
    return RedirectResponse(f"/ui/weeklijst?week={week}", status_code=303)


@router.get("/weeklijst/{week}.{extension}")
def download_week(week: str, extension: str, db: SessionDep, visitor: StaffVisitorDep) -> Response:
    require_list_reader(visitor)
    if extension not in EXPORT_TYPES:
        raise InvalidInput("kies csv of xlsx")
    stored = match_lists.get(db, week)
    body = match_lists.as_csv(stored) if extension == "csv" else match_lists.as_xlsx(stored)
    return Response(
        content=body,
        media_type=EXPORT_TYPES[extension],
        headers={
            "Content-Disposition": f'attachment; filename="koppelkans-matchlijst-{stored.week}.{extension}"'
        },
    )


# --- the dashboard -----------------------------------------------------------------------------


@router.get("/dashboard")
def dashboard_page(request: Request, db: SessionDep, visitor: StaffVisitorDep) -> HTMLResponse:
    figures = dashboard.figures(db)
    return render(
        request,
        "dashboard.html",
        {
            "figures": figures,
            "by_area": [(nld_label(slug), count) for slug, count in figures.matches_by_nld_area.items()],
            "by_region": list(figures.matches_by_sub_region.items()),
            "by_status": [
                (PIPELINE_LABELS.get(status, status), count)
                for status, count in figures.matches_by_status.items()
            ],
            "per_month": list(figures.introductions_per_month.items()),
        },
    )
