"""The front page at ``/``: what a company gets from Koppelkans, what happens with its data, and the
way in (registration, the needs, a lost link, the staff login)."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.web.routing import HtmlRoute, render
from app.web.session import VisitorDep

router = APIRouter(route_class=HtmlRoute, include_in_schema=False)


@router.get("/")
def front_page(request: Request, visitor: VisitorDep) -> Response:
    return render(request, "front.html")
