"""A lost edit link: asked for with the KvK number or the registered address, answered by e-mail
with a recovery link; opening it (and confirming) gives the company a new edit link."""

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.deps import RateLimit, SessionDep, SettingsDep
from app.services import edit_links
from app.services.access import Caller
from app.web.routing import HtmlRoute, render
from app.web.session import CsrfDep, VisitorDep, WebSessionDep

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

# As many tries per address as registrations: each one may send an e-mail.
link_limit = RateLimit("edit-link", "registration_rate_limit")


@router.get("/link-kwijt")
def lost_link_form(request: Request, visitor: VisitorDep) -> Response:
    return render(request, "lost_link.html", {"sent": False, "identifier": "", "error": None})


@router.post("/link-kwijt", dependencies=[CsrfDep])
def lost_link(
    request: Request, db: SessionDep, settings: SettingsDep, visitor: VisitorDep,
    kvk_of_email: Annotated[str, Form(max_length=320)] = "",
) -> Response:
    identifier = kvk_of_email.strip()
    if not identifier:
        error = "Vul het KvK-nummer of het e-mailadres van uw bedrijf in."
        return render(request, "lost_link.html", {"sent": False, "identifier": "", "error": error}, 422)
    link_limit(request, Caller(), settings)
    edit_links.send_recovery_links(db, identifier, str(request.url_for("recovery_form")))
    db.commit()
    # The same answer whether or not the company is known: the form tells no stranger who is registered.
    return render(request, "lost_link.html", {"sent": True, "identifier": identifier, "error": None})


@router.get("/link-herstellen")
def recovery_form(
    request: Request, db: SessionDep, visitor: VisitorDep, t: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    """The recovery link from the e-mail asks to confirm: a link checker that opens it changes nothing."""
    return render(request, "recovery.html", {"token": t, "valid": edit_links.recovery_is_valid(db, t)})


@router.post("/link-herstellen", dependencies=[CsrfDep])
def recover(
    request: Request, db: SessionDep, web_session: WebSessionDep, visitor: VisitorDep,
    t: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    company, edit_token = edit_links.redeem(db, t)
    db.commit()
    if visitor.user is None:
        web_session.start(company_id=company.id)
    web_session.data["new_link"] = {"id": company.id, "name": company.name, "token": edit_token}
    web_session.changed = True
    return RedirectResponse("/ui/nieuwe-link", status_code=303)


@router.get("/nieuwe-link")
def new_link(request: Request, web_session: WebSessionDep, visitor: VisitorDep) -> Response:
    """The new edit link, shown once."""
    shown = web_session.data.pop("new_link", None)
    if shown is not None:
        web_session.changed = True
        shown["link"] = str(request.url_for("company_page", company_id=shown["id"])
                            .include_query_params(token=shown["token"]))
    return render(request, "new_link.html", {"shown": shown})
