"""Logging in and out, search, the company page and the need page."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app.core.errors import Forbidden, InvalidInput, Unauthorized
from app.core.text import FormText
from app.deps import SessionDep, SettingsDep, get_matching_state, login_limit
from app.domain import CompanyStatus, DefenceExperience
from app.matching.engine import MatchEngine
from app.models import id_of
from app.schemas_matching import CompanyMatch
from app.services import companies as company_service
from app.services import match_views
from app.services import needs as need_service
from app.services import pipeline as pipeline_service
from app.services import users as user_service
from app.services.access import Caller
from app.taxonomy import get_taxonomy
from app.web.routing import HtmlRoute, is_htmx, render, safe_next
from app.web.session import CsrfDep, LoginRequired, StaffVisitorDep, VisitorDep, WebSessionDep
from app.web.templating import DEFENCE_EXPERIENCE_LABELS

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

SEARCH_LIMIT = 10
MATCH_LIMIT = 10


def matching_engine(request: Request, db: Session) -> tuple[MatchEngine, None] | tuple[None, str]:
    """The engine when matching is ready, else None with the reason (pages then fall back and say so)."""
    state = get_matching_state(request)
    if state.ready:
        return state.require_engine(db), None  # also catches up with other workers' writes
    if state.error:
        return None, f"de matching staat uit of kon niet starten: {state.error}"
    return None, "de zoekindex wordt nog opgebouwd, probeer het over een minuut opnieuw"


# --- logging in and out ----------------------------------------------------------------------


@router.get("/")
def home(visitor: VisitorDep) -> RedirectResponse:
    if visitor.caller.is_staff:
        return RedirectResponse("/ui/zoeken", status_code=303)
    if visitor.caller.company_id is not None:
        return RedirectResponse(f"/ui/bedrijf/{visitor.caller.company_id}", status_code=303)
    return RedirectResponse("/ui/inloggen", status_code=303)


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
        raise Forbidden("dit account heeft geen toegang tot de webinterface")
    # A fresh session and CSRF token after logging in.
    web_session.start(user_id=user.id, session_version=user.session_version)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/uitloggen", dependencies=[CsrfDep])
def logout(web_session: WebSessionDep) -> RedirectResponse:
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
) -> HTMLResponse:
    text = q.strip()
    results: dict[str, Any] = {"companies": [], "needs": [], "semantic": False, "note": None}
    if len(text) >= 2:
        engine, reason = matching_engine(request, db)
        if engine is not None:
            caller = visitor.caller
            results["companies"] = match_views.search_companies(
                session=db, engine=engine, caller=caller, text=text, limit=SEARCH_LIMIT, filters={})
            results["needs"] = match_views.search_needs(
                session=db, engine=engine, caller=caller, text=text, limit=SEARCH_LIMIT, filters={})
            results["semantic"] = True
        else:
            companies, _ = company_service.list_companies(session=db, q=text, limit=SEARCH_LIMIT)
            needs, _ = need_service.list_needs(session=db, caller=visitor.caller, q=text, limit=SEARCH_LIMIT)
            results["companies"] = [{"company": c, "score": None, "explanation": None} for c in companies]
            results["needs"] = [{"need": n, "score": None, "explanation": None} for n in needs]
            results["note"] = reason
    context = {"q": text, "results": results, "searched": len(text) >= 2}
    template = "partials/search_results.html" if is_htmx(request) else "search.html"
    return render(request, template, context)


# --- the company page ------------------------------------------------------------------------


@router.get("/bedrijf/{company_id}")
def company_page(
    request: Request,
    company_id: int,
    db: SessionDep,
    visitor: VisitorDep,
    web_session: WebSessionDep,
    token: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    caller = visitor.caller
    if token is None and caller.user is None and caller.company_id is None:
        raise LoginRequired()  # before the lookup, so anonymous visitors cannot probe which ids exist
    company = company_service.get(session=db, company_id=company_id)
    if token is not None:
        # The company's own edit link: remember it in the session and drop the token from the address bar.
        if not company_service.check_edit_token(company, token):
            raise Forbidden("deze bewerkingslink hoort niet bij dit bedrijf of is niet meer geldig")
        web_session.start(company_id=company.id)
        return RedirectResponse(f"/ui/bedrijf/{company.id}", status_code=303)
    if not caller.is_staff and not caller.owns(company.id):
        company_service.require_access(caller, company)
    profile = company_service.to_out(session=db, caller=caller, company=company)
    engine, reason = matching_engine(request, db)
    matches = []
    if engine is not None:
        matches = match_views.needs_for_company(
            session=db, engine=engine, caller=caller, company=company, limit=MATCH_LIMIT
        )
    is_own = caller.owns(company.id)
    # The needs this company agreed to be introduced for, shown to the company itself.
    consented = pipeline_service.introduction_consented_need_ids(db, id_of(company)) if is_own else set()
    return render(
        request,
        "company.html",
        {
            "company": profile,
            "matches": matches,
            "consented_need_ids": consented,
            "matching_note": reason,
            "defence_label": DEFENCE_EXPERIENCE_LABELS.get(
                profile.defence_experience, profile.defence_experience
            ),
            "is_own": is_own,
        },
    )


# --- the need page ---------------------------------------------------------------------------


@router.get("/behoefte/{need_id}")
def need_page(
    request: Request,
    need_id: int,
    db: SessionDep,
    visitor: StaffVisitorDep,
    regio: Annotated[str | None, Query(max_length=100)] = None,
    nld: Annotated[str, Query(max_length=50)] = "",
    nieuw_voor_defensie: Annotated[bool, Query()] = False,
) -> HTMLResponse:
    caller = visitor.caller
    need = need_service.get(session=db, caller=caller, need_id=need_id)
    region = regio or None
    if nld and nld not in get_taxonomy().nld_area_slugs:
        raise InvalidInput(f"onbekend NLD-gebied {nld!r}")
    filters: dict[str, Any] = {"region": region, "nld_area": nld or None}
    engine, reason = matching_engine(request, db)
    matches: list[CompanyMatch] | list[dict[str, Any]]
    if engine is not None:
        # Scouting (MINDbase Noord): only companies that never worked with Defence, newest first among equals.
        matches = match_views.companies_for_need(
            session=db,
            engine=engine,
            caller=caller,
            need=need,
            limit=MATCH_LIMIT,
            scouting=nieuw_voor_defensie,
            **filters,
        )
    else:  # no ranking without the engine: the companies that pass the filters, newest first
        if nieuw_voor_defensie:
            filters["defence_experience"] = DefenceExperience.none
        companies, _ = company_service.list_companies(
            session=db, status=CompanyStatus.active, limit=MATCH_LIMIT, **filters
        )
        companies.sort(key=lambda c: c.created_at, reverse=True)
        matches = [
            {
                "company": company_service.to_out(session=db, caller=caller, company=c, need_id=need.id),
                "score": None,
                "explanation": None,
            }
            for c in companies
        ]
    context = {
        "need": need_service.to_out(session=db, need=need),
        "matches": matches,
        "matching_note": reason,
        "filters": {"regio": region or "", "nld": nld or "", "nieuw_voor_defensie": nieuw_voor_defensie},
    }
    template = "partials/need_matches.html" if is_htmx(request) else "need.html"
    return render(request, template, context)
