"""Logging in and out, where each person lands, and search."""

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app.core.errors import Forbidden, Unauthorized
from app.core.text import FormText
from app.deps import SessionDep, SettingsDep, get_matching_state, login_limit
from app.domain import Role
from app.matching.engine import MatchEngine
from app.services import companies as company_service
from app.services import match_views
from app.services import needs as need_service
from app.services import users as user_service
from app.services.access import Caller
from app.web.routing import HtmlRoute, is_htmx, render, safe_next
from app.web.session import CsrfDep, StaffVisitorDep, VisitorDep, WebSessionDep
from app.web.templating import min_fit_of, weaker_url

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

SEARCH_LIMIT = 10
MATCH_LIMIT = 10


def matching_engine(request: Request, db: Session) -> tuple[MatchEngine, None] | tuple[None, str]:
    """The engine when matching is ready, else None with the reason (pages then fall back and say so)."""
    state = get_matching_state(request)
    if state.ready:
        return state.require_engine(db), None  # also catches up with other workers' writes
    if state.error:
        return None, "het koppelen staat uit of kon niet starten; de beheerder kan het in het logboek nalezen"
    return None, "de zoekindex wordt nog opgebouwd, probeer het over een minuut opnieuw"


# --- logging in and out ----------------------------------------------------------------------


@router.get("/")
def home(visitor: VisitorDep) -> RedirectResponse:
    """Where each person starts: the Regioteam on the weekly list, other staff in their match inbox,
    a company on its own page, anyone else on the front page."""
    user = visitor.user
    if user is not None and visitor.caller.is_staff:
        return RedirectResponse("/ui/weeklijst" if user.role == Role.regioteam else "/ui/inbox", status_code=303)
    if visitor.caller.company_id is not None:
        return RedirectResponse(f"/ui/bedrijf/{visitor.caller.company_id}", status_code=303)
    return RedirectResponse("/", status_code=303)


@router.get("/inloggen")
def login_form(
    request: Request, visitor: VisitorDep, next: Annotated[str | None, Query(max_length=500)] = None
) -> HTMLResponse:
    return render(request, "login.html", {"next": safe_next(next), "error": None, "username": ""})


@router.post("/inloggen", dependencies=[CsrfDep])
def login(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    web_session: WebSessionDep,
    visitor: VisitorDep,
    username: Annotated[FormText, Form(max_length=100)] = "",
    password: Annotated[FormText, Form(max_length=500)] = "",
    next: Annotated[FormText, Form(max_length=500)] = "/ui/",
) -> Response:
    login_limit(request, Caller(), settings)  # the same limit as POST /api/v1/auth/token
    try:
        user = user_service.authenticate(session=db, username=username.strip(), password=password)
    except Unauthorized:
        return render(
            request,
            "login.html",
            {
                "next": safe_next(next),
                "username": username,
                "error": "Onbekende gebruikersnaam of verkeerd wachtwoord.",
            },
            status_code=401,
        )
    if not Caller(user=user).is_staff:
        raise Forbidden("this account has no access to the web interface", code="web_login_forbidden")
    # A fresh session and CSRF token after logging in.
    login_id = user_service.start_web_login(session=db, user=user, lifetime=timedelta(hours=settings.login_token_hours))
    db.commit()  # before the answer: the page it leads to checks the login's record
    web_session.start(user_id=user.id, session_version=user.session_version, login_id=login_id)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/uitloggen", dependencies=[CsrfDep])
def logout(db: SessionDep, web_session: WebSessionDep) -> RedirectResponse:
    """Ends this browser's login, also for any copy of its cookie."""
    if web_session.login_id is not None:
        user_service.end_web_login(session=db, login_id=web_session.login_id)
        db.commit()
    web_session.clear()
    return RedirectResponse("/ui/inloggen", status_code=303)


@router.post("/uitloggen-overal", dependencies=[CsrfDep])
def logout_everywhere(db: SessionDep, visitor: StaffVisitorDep, web_session: WebSessionDep) -> RedirectResponse:
    """Ends every session and API token of this person, on every device, this one included."""
    user_service.end_sessions(session=db, user=visitor.caller.logged_in_user)
    db.commit()
    web_session.clear()
    return RedirectResponse("/ui/inloggen", status_code=303)


# --- search ----------------------------------------------------------------------------------


@router.get("/zoeken")
def search(
    request: Request,
    db: SessionDep,
    visitor: StaffVisitorDep,
    q: Annotated[str, Query(max_length=500)] = "",
    passend: Annotated[str, Query(max_length=20)] = "redelijk",
) -> HTMLResponse:
    text = q.strip()
    min_fit = min_fit_of(passend)
    results: dict[str, Any] = {"companies": [], "needs": [], "semantic": False, "note": None}
    if text:
        engine, reason = matching_engine(request, db)
        if engine is not None:
            caller = visitor.caller
            results["companies"] = match_views.search_companies(
                session=db, engine=engine, caller=caller, text=text, limit=SEARCH_LIMIT, filters={}, min_fit=min_fit)
            results["needs"] = match_views.search_needs(
                session=db, engine=engine, caller=caller, text=text, limit=SEARCH_LIMIT, filters={}, min_fit=min_fit)
            results["semantic"] = True
        else:
            companies, _ = company_service.list_companies(session=db, q=text, limit=SEARCH_LIMIT)
            needs, _ = need_service.list_needs(session=db, caller=visitor.caller, q=text, limit=SEARCH_LIMIT)
            results["companies"] = [{"company": c, "score": None, "explanation": None} for c in companies]
            results["needs"] = [{"need": n, "score": None, "explanation": None} for n in needs]
            results["note"] = reason
    context = {"q": text, "results": results, "searched": bool(text),
               "weaker_url": weaker_url(request, passend)}
    template = "partials/search_results.html" if is_htmx(request) else "search.html"
    return render(request, template, context)
