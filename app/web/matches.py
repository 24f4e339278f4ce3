"""One match, for staff: the company and the need, why they fit, where the match stands, its
timeline (status changes, notes, owners, feedback: who and when), and the actions that move it on.
Opening the page changes nothing: the first action opens the match record."""

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.core.errors import InvalidInput, NotFound
from app.core.text import FormText
from app.deps import SessionDep
from app.domain import NoteVisibility, PipelineStatus
from app.models import Match
from app.services import companies as company_service
from app.services import feedback as feedback_service
from app.services import match_views, timeline
from app.services import needs as need_service
from app.services import pipeline as pipeline_service
from app.services import users as user_service
from app.web import messages
from app.web.pages import matching_engine
from app.web.routing import HtmlRoute, flash, render, take_flash
from app.web.session import CsrfDep, StaffVisitorDep, Visitor

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

Note = Annotated[FormText, Form(max_length=5000)]


def _existing(db: SessionDep, company_id: int, need_id: int) -> Match | None:
    try:
        return pipeline_service.get(db, company_id, need_id)
    except NotFound:
        return None


@router.get("/koppeling/{company_id}/{need_id}")
def match_page(request: Request, company_id: int, need_id: int, db: SessionDep, visitor: StaffVisitorDep) -> Response:
    return _page(request, db, visitor, company_id, need_id)


def _page(request: Request, db: SessionDep, visitor: Visitor, company_id: int, need_id: int,
          error: str | None = None) -> Response:
    caller = visitor.caller
    company = company_service.get(session=db, company_id=company_id)
    need = need_service.get(session=db, caller=caller, need_id=need_id)
    match = _existing(db, company_id, need_id)
    engine, reason = matching_engine(request, db)
    found = match_views.pair(session=db, engine=engine, caller=caller, company=company, need=need) if engine else None
    return render(request, "match.html", {
        "company": company,
        "need": need,
        "match": match,
        "found": found,
        "score": found.score if found else (match.last_score if match else None),
        "matching_note": reason,
        "allowed_next": pipeline_service.TRANSITIONS[match.status if match else PipelineStatus.new],
        "entries": timeline.timeline(db, match) if match else [],
        "owners": user_service.staff(session=db),
        "notice": take_flash(request),
        "error": error,
    }, status_code=422 if error else 200)


def _act(request: Request, db: SessionDep, visitor: Visitor, company_id: int, need_id: int, done: str,
         action: Callable[[Match], object]) -> Response:
    """Runs ``action`` on the pair's match record (opened now if this is the first action) and goes
    back to the match's page; a refused action shows the page with the reason, in Dutch."""
    try:
        match = pipeline_service.get_or_create(db, company_id, need_id)
        action(match)
        db.commit()
    except InvalidInput as refused:
        db.rollback()
        return _page(request, db, visitor, company_id, need_id, error=messages.for_error(refused))
    flash(request, done)
    return RedirectResponse(f"/ui/koppeling/{company_id}/{need_id}#tijdlijn", status_code=303)


@router.post("/koppeling/{company_id}/{need_id}/status", dependencies=[CsrfDep])
def move(request: Request, company_id: int, need_id: int, db: SessionDep, visitor: StaffVisitorDep,
         status: Annotated[PipelineStatus, Form()], note: Note = "") -> Response:
    return _act(request, db, visitor, company_id, need_id, "De status is gewijzigd.",
                lambda match: pipeline_service.change(db, visitor.caller, match, status=status,
                                                      note=note.strip() or None))


@router.post("/koppeling/{company_id}/{need_id}/notitie", dependencies=[CsrfDep])
def add_note(request: Request, company_id: int, need_id: int, db: SessionDep, visitor: StaffVisitorDep,
             note: Note = "", zichtbaar: Annotated[NoteVisibility, Form()] = NoteVisibility.internal) -> Response:
    """A note for staff only (the default), or shared with the company on its page."""
    if not note.strip():
        return _page(request, db, visitor, company_id, need_id, error="Schrijf eerst een notitie en sla die dan op.")
    done = ("De notitie is opgeslagen en is zichtbaar voor het bedrijf." if zichtbaar == NoteVisibility.shared
            else "De interne notitie is opgeslagen.")
    return _act(request, db, visitor, company_id, need_id, done,
                lambda match: pipeline_service.change(db, visitor.caller, match, note=note.strip(),
                                                      note_visibility=zichtbaar))


@router.post("/koppeling/{company_id}/{need_id}/eigenaar", dependencies=[CsrfDep])
def set_owner(request: Request, company_id: int, need_id: int, db: SessionDep, visitor: StaffVisitorDep,
              eigenaar: Annotated[FormText, Form(max_length=12)] = "") -> Response:
    owner_id = int(eigenaar) if eigenaar.isdigit() else None
    return _act(request, db, visitor, company_id, need_id, "De eigenaar is gewijzigd.",
                lambda match: pipeline_service.change(db, visitor.caller, match, owner_user_id=owner_id,
                                                      owner_given=True))


@router.post("/koppeling/{company_id}/{need_id}/feedback", dependencies=[CsrfDep])
def feedback(request: Request, company_id: int, need_id: int, db: SessionDep, visitor: StaffVisitorDep,
             relevant: Annotated[FormText, Form(max_length=3)] = "",
             reden: Annotated[FormText, Form(max_length=500)] = "") -> Response:
    if relevant not in ("ja", "nee"):
        return _page(request, db, visitor, company_id, need_id,
                     error="Kies bij de beoordeling ‘Relevant’ of ‘Niet relevant’.")
    if len(reden.strip()) < 3:
        return _page(request, db, visitor, company_id, need_id,
                     error="Schrijf bij de beoordeling kort waarom (minstens drie tekens).")
    is_relevant = relevant == "ja"
    done = ("Gemarkeerd als relevant." if is_relevant
            else "Gemarkeerd als niet relevant: de koppeling komt niet meer terug.")
    return _act(request, db, visitor, company_id, need_id, done,
                lambda match: feedback_service.set_feedback(db, visitor.caller, match, relevant=is_relevant,
                                                    reason=reden.strip()))
