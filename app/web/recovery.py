"""A lost edit link: asked for with the KvK number or the registered address, and mailed to that
address as a link to the company's page (app/services/edit_links.py)."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from app.core.text import FormText
from app.deps import RateLimit, SessionDep, SettingsDep
from app.services import edit_links
from app.services.access import Caller
from app.web.routing import HtmlRoute, render
from app.web.session import CsrfDep, VisitorDep

router = APIRouter(prefix="/ui", route_class=HtmlRoute, include_in_schema=False)

# As many tries per address as registrations: each one may send an e-mail.
link_limit = RateLimit("edit-link", "registration_rate_limit")


@router.get("/link-kwijt")
def lost_link_form(request: Request, visitor: VisitorDep) -> Response:
    return render(request, "lost_link.html", {"sent": False, "identifier": "", "error": None})


@router.post("/link-kwijt", dependencies=[CsrfDep])
def lost_link(
    request: Request, db: SessionDep, settings: SettingsDep, visitor: VisitorDep,
    kvk_of_email: Annotated[FormText, Form(max_length=320)] = "",
) -> Response:
    identifier = kvk_of_email.strip()
    if not identifier:
        error = "Vul het KvK-nummer of het e-mailadres van uw bedrijf in."
        return render(request, "lost_link.html", {"sent": False, "identifier": "", "error": error}, 422)
    link_limit(request, Caller(), settings)
    edit_links.send_lost_links(db, identifier)
    db.commit()
    # The same answer whether or not the company is known: the form tells no stranger who is registered.
    return render(request, "lost_link.html", {"sent": True, "identifier": identifier, "error": None})
