"""The need page: a need, programme or call for anyone (staff-only needs for staff); staff also see
the companies that fit it, filter them (scouting: never worked with Defence), and follow it."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.core.errors import InvalidInput
from app.deps import SessionDep
from app.domain import CompanyStatus, DefenceExperience, Fit
from app.models import Need
from app.services import companies as company_service
from app.services import follows, match_views
from app.services import needs as need_service
from app.taxonomy import get_taxonomy
from app.web.pages import MATCH_LIMIT, matching_engine
from app.web.routing import HtmlRoute, is_htmx, render
from app.web.session import CsrfDep, LoginRequired, StaffVisitorDep, Visitor, VisitorDep
from app.web.templating import min_fit_of, weaker_url

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)


@router.get("/behoefte/{need_id}")
def need_page(
    request: Request,
    need_id: int,
    db: SessionDep,
    visitor: VisitorDep,
    regio: Annotated[str | None, Query(max_length=100)] = None,
    nld: Annotated[str, Query(max_length=50)] = "",
    nieuw_voor_defensie: Annotated[bool, Query()] = False,
    passend: Annotated[str, Query(max_length=20)] = "redelijk",
) -> Response:
    caller = visitor.caller
    need = need_service.get(session=db, caller=caller, need_id=need_id)
    context = {"need": need_service.to_out(session=db, need=need), "matches": [], "matching_note": None,
               "following": False, "filters": {}}
    if not caller.is_staff:
        if is_htmx(request):
            raise LoginRequired()
        return render(request, "need.html", context)
    region = regio or None
    if region and region not in get_taxonomy().regions:
        raise InvalidInput(f"unknown region '{region}'", code="region_unknown")
    if nld and nld not in get_taxonomy().nld_area_slugs:
        raise InvalidInput(f"unknown NLD area '{nld}'", code="nld_unknown")
    context["matches"], context["matching_note"] = _companies(request, db, visitor, need, region, nld or None,
                                                              nieuw_voor_defensie, min_fit_of(passend))
    context["weaker_url"] = weaker_url(request, passend)
    assert visitor.user is not None  # staff
    context["following"] = follows.is_following(db, visitor.user, need_id=need.id)
    context["filters"] = {"regio": region or "", "nld": nld or "", "nieuw_voor_defensie": nieuw_voor_defensie,
                          "passend": passend}
    template = "partials/need_matches.html" if is_htmx(request) else "need.html"
    return render(request, template, context)


def _companies(request: Request, db: SessionDep, visitor: Visitor, need: Need, region: str | None,
               nld_area: str | None, scouting: bool, min_fit: Fit) -> tuple[list[Any], str | None]:
    """The companies that fit the need best, or without the engine those that pass the filters."""
    caller = visitor.caller
    engine, reason = matching_engine(request, db)
    if engine is not None:
        # Scouting (MINDbase Noord): only companies that never worked with Defence, newest first among equals.
        return match_views.companies_for_need(session=db, engine=engine, caller=caller, need=need, limit=MATCH_LIMIT,
                                              scouting=scouting, region=region, nld_area=nld_area,
                                              min_fit=min_fit), None
    filters: dict[str, Any] = {"region": region, "nld_area": nld_area,
               "defence_experience": DefenceExperience.none if scouting else None}
    companies, _ = company_service.list_companies(session=db, status=CompanyStatus.active, limit=MATCH_LIMIT,
                                                  order="newest", **filters)
    return [{"company": company_service.to_out(session=db, caller=caller, company=c, need_id=need.id),
             "score": None, "explanation": None} for c in companies], reason


@router.post("/behoefte/{need_id}/volgen", dependencies=[CsrfDep])
def follow(
    need_id: int, db: SessionDep, visitor: StaffVisitorDep, volgen: Annotated[str, Form(max_length=3)] = "ja",
) -> Response:
    need_service.get(session=db, caller=visitor.caller, need_id=need_id)
    assert visitor.user is not None  # staff
    follows.set_following(db, visitor.user, volgen == "ja", need_id=need_id)
    db.commit()
    return RedirectResponse(f"/ui/behoefte/{need_id}", status_code=303)
