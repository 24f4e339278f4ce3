"""The web interface: the front page at / and the pages under /ui/ (Jinja2) with htmx 2 served from
./static.

``router`` holds every page; ``STATIC_DIR`` is mounted at /ui/static by ``app.main``;
``wants_html`` and ``status_page`` give the front page and /ui/ their HTML error pages.
"""

from fastapi import APIRouter

from app.web import (
    cases,
    company,
    dashboard,
    front,
    inbox,
    introductions,
    lists,
    loket,
    matches,
    need,
    pages,
    pipeline,
    recovery,
    register,
    weekly,
)
from app.web.routing import status_page, wants_html
from app.web.templating import STATIC_DIR

router = APIRouter()
for module in (front, pages, register, recovery, company, need, lists, inbox, matches, pipeline, weekly, dashboard,
               introductions, loket, cases):
    router.include_router(module.router)

__all__ = ["STATIC_DIR", "router", "status_page", "wants_html"]
