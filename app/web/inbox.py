"""A staff member's match inbox: new suggestions for what they own or follow, accepted (triaged,
with them as owner) or dismissed ("niet relevant" with a reason) in one click; the matches they own;
what they follow."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.core.errors import InvalidInput
from app.core.text import FormText
from app.deps import SessionDep
from app.services import follows, inbox
from app.web import messages
from app.web.pages import matching_engine
from app.web.routing import HtmlRoute, flash, is_htmx, render, take_flash
from app.web.session import CsrfDep, StaffVisitorDep

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

# Why a suggestion does not fit, offered when dismissing it (the first is the one-click default).
DISMISS_REASONS = (
    "Past niet bij de vraag",
    "Bedrijf levert dit niet",
    "Al bekend of al in gesprek",
    "Te groot of te klein voor deze vraag",
    "Buiten de regio",
)
Score = Annotated[float | None, Form(ge=0, le=10)]


@router.get("/inbox")
def inbox_page(request: Request, db: SessionDep, visitor: StaffVisitorDep) -> Response:
    user = visitor.user
    assert user is not None  # staff
    engine, reason = matching_engine(request, db)
    suggestions = inbox.suggestions(session=db, engine=engine, caller=visitor.caller) if engine is not None else []
    followed_companies, followed_needs = follows.followed(db, user)
    return render(request, "inbox.html", {
        "suggestions": suggestions,
        "matching_note": reason,
        "owned": inbox.owned(db, user),
        "followed_companies": followed_companies,
        "followed_needs": followed_needs,
        "reasons": DISMISS_REASONS,
        "notice": take_flash(request),
    })


@router.post("/inbox/{company_id}/{need_id}/accepteren", dependencies=[CsrfDep])
def accept(
    request: Request, company_id: int, need_id: int, db: SessionDep, visitor: StaffVisitorDep, score: Score = None,
) -> Response:
    inbox.accept(db, visitor.caller, company_id, need_id, score)
    db.commit()
    return _answer(request, company_id, need_id, "Opgepakt: de koppeling staat op ‘Beoordeeld’ met u als eigenaar.")


@router.post("/inbox/{company_id}/{need_id}/afwijzen", dependencies=[CsrfDep])
def dismiss(
    request: Request, company_id: int, need_id: int, db: SessionDep, visitor: StaffVisitorDep,
    reden: Annotated[FormText, Form(max_length=500)] = DISMISS_REASONS[0], score: Score = None,
) -> Response:
    reason = reden.strip() or DISMISS_REASONS[0]
    try:
        inbox.dismiss(db, visitor.caller, company_id, need_id, reason, score)
    except InvalidInput as refused:
        db.rollback()
        return _answer(request, company_id, need_id, messages.for_error(refused))
    db.commit()
    return _answer(request, company_id, need_id, f"Niet relevant: {reason}. De suggestie komt niet meer terug.")


def _answer(request: Request, company_id: int, need_id: int, message: str) -> Response:
    """htmx replaces the suggestion with what happened to it; without htmx, back to the inbox."""
    if is_htmx(request):
        return render(request, "partials/inbox_done.html",
                      {"message": message, "company_id": company_id, "need_id": need_id})
    flash(request, message)
    return RedirectResponse("/ui/inbox", status_code=303)
