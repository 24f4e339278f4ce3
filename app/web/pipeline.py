"""The pipeline board: worked matches per status, filtered by the server (owner, status,
organisation, need, company, NLD area, sub-region, month introduced), one page per column, and moving a match on
with a note. After a move the board comes back with the moved card focused."""

from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from app.core.errors import InvalidInput
from app.core.text import FormText
from app.deps import SessionDep
from app.domain import PipelineStatus
from app.services import board as board_service
from app.services import pipeline as pipeline_service
from app.services import users as user_service
from app.services.board import BoardFilter
from app.taxonomy import get_taxonomy
from app.web import messages
from app.web.routing import HtmlRoute, is_htmx, render
from app.web.session import CsrfDep, StaffVisitorDep, Visitor
from app.web.templating import PIPELINE_LABELS

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

ME = "ik"
NOBODY = "geen"


@dataclass(frozen=True)
class BoardQuery:
    """The board's filters as the address carries them (Dutch names), and as the service reads them."""

    eigenaar: str = ""  # "ik", "geen", or a user id
    status: str = ""
    organisatie: int | None = None
    behoefte: int | None = None
    bedrijf: int | None = None
    nld: str = ""
    regio: str = ""
    maand: str = ""  # introduced in this month (YYYY-MM), from the dashboard's trend

    def params(self) -> dict[str, Any]:
        """The filters that are set, to carry into links and forms."""
        return {name: value for name, value in vars(self).items() if value not in ("", None)}

    def query_string(self, **extra: Any) -> str:
        return urlencode({**self.params(), **extra})

    def board_filter(self, visitor: Visitor) -> BoardFilter:
        if self.status and self.status not in PipelineStatus.__members__:
            raise InvalidInput(f"unknown pipeline status '{self.status}'", code="status_unknown")
        if self.nld and self.nld not in get_taxonomy().nld_area_slugs:
            raise InvalidInput(f"unknown NLD area '{self.nld}'", code="nld_unknown")
        owner_id: int | None = None
        if self.eigenaar == ME:
            owner_id = visitor.user.id if visitor.user else None
        elif self.eigenaar.isdigit():
            owner_id = int(self.eigenaar)
        elif self.eigenaar not in ("", NOBODY):
            raise InvalidInput(f"unknown owner '{self.eigenaar}'", code="owner_unknown")
        return BoardFilter(
            status=PipelineStatus(self.status) if self.status else None, need_id=self.behoefte,
            company_id=self.bedrijf, owner_user_id=owner_id, unowned=self.eigenaar == NOBODY,
            organisation_id=self.organisatie, nld_area=self.nld or None, region=self.regio or None,
            introduced_in=self.maand or None, include_dismissed=False,
        )


def board_query(
    eigenaar: Annotated[str, Query(max_length=20)] = "",
    status: Annotated[str, Query(max_length=30)] = "",
    organisatie: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    behoefte: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    bedrijf: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    nld: Annotated[str, Query(max_length=50)] = "",
    regio: Annotated[str, Query(max_length=100)] = "",
    maand: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")] = "",
) -> BoardQuery:
    return BoardQuery(eigenaar, status, organisatie, behoefte, bedrijf, nld, regio, maand)


async def board_form(request: Request) -> BoardQuery:
    """The same filters, carried in a move's form so the board comes back as it was."""
    form = await request.form()

    def number(name: str) -> int | None:
        value = str(form.get(name) or "")
        return int(value) if value.isdigit() and len(value) < 10 else None

    return BoardQuery(str(form.get("eigenaar") or "")[:20], str(form.get("status_filter") or "")[:30],
                      number("organisatie"), number("behoefte"), number("bedrijf"), str(form.get("nld") or "")[:50],
                      str(form.get("regio") or "")[:100], str(form.get("maand") or "")[:7])


BoardQueryDep = Annotated[BoardQuery, Depends(board_query)]


def board_context(db: Session, visitor: Visitor, query: BoardQuery, **extra: Any) -> dict[str, Any]:
    board_filter = query.board_filter(visitor)
    return {
        "columns": board_service.columns(db, board_filter),
        "query": query,
        "filtered": bool(query.params()),
        "owners": user_service.staff(session=db),
        "organisations": user_service.organisations(session=db),
        "me": ME,
        "nobody": NOBODY,
        "moved": None,
        "error": None,
        "error_for": None,
        **extra,
    }


@router.get("/pipeline")
def board(request: Request, db: SessionDep, visitor: StaffVisitorDep, query: BoardQueryDep) -> Response:
    context = board_context(db, visitor, query)
    return render(request, "partials/board.html" if is_htmx(request) else "pipeline.html", context)


@router.get("/pipeline/kolom/{kolom}")
def board_column(
    request: Request,
    kolom: PipelineStatus,
    db: SessionDep,
    visitor: StaffVisitorDep,
    query: BoardQueryDep,
    pagina: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """One page of one column: swapped into the board by htmx, or a page of its own without it."""
    column = board_service.column(db, query.board_filter(visitor), kolom, pagina)
    if is_htmx(request):
        return render(request, "partials/board_column.html",
                      {"column": column, "query": query, "focus_heading": True, "moved": None, "error": None})
    context = board_context(db, visitor, query, columns=[column])
    return render(request, "pipeline.html", context)


@router.post("/pipeline/{company_id}/{need_id}", dependencies=[CsrfDep])
def change_status(
    request: Request,
    company_id: int,
    need_id: int,
    db: SessionDep,
    visitor: StaffVisitorDep,
    status: Annotated[PipelineStatus | None, Form()] = None,
    note: Annotated[FormText, Form(max_length=5000)] = "",
    query: BoardQuery = Depends(board_form),
) -> Response:
    """Moves a match on with a note (kept as an event); an illegal move says which moves are allowed."""
    error = None
    try:
        match = pipeline_service.get_or_create(db, company_id, need_id)
        pipeline_service.change(db, visitor.caller, match, status=status, note=note.strip() or None)
        db.commit()
    except InvalidInput as refused:
        db.rollback()
        error = messages.for_error(refused)
    if not is_htmx(request) and error is None:
        return RedirectResponse(f"/ui/pipeline?{query.query_string()}", status_code=303)
    moved = None
    if error is None and status is not None:
        moved = {"pair": (company_id, need_id), "label": PIPELINE_LABELS[status]}
    context = board_context(db, visitor, query, moved=moved, error=error, error_for=(company_id, need_id))
    # Focus goes to the moved card in its new column, or to the message when the filters hide it.
    context["moved_card_shown"] = any((card.match.company_id, card.match.need_id) == (company_id, need_id)
                                      for column in context["columns"] for card in column.cards)
    if is_htmx(request):  # htmx swaps 2xx answers only: the refusal is shown inside the board
        return render(request, "partials/board.html", context)
    return render(request, "pipeline.html", context, status_code=422)
