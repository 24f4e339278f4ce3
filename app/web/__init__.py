"""The web interface under /ui/: server-rendered pages (Jinja2) with htmx 2 served from ./static.

``router`` holds every page; ``STATIC_DIR`` is mounted at /ui/static by ``app.main``.
"""

from fastapi import APIRouter

from app.web import cases, introductions, loket, pages, pipeline, register
from app.web.templating import STATIC_DIR

router = APIRouter()
router.include_router(pages.router)
router.include_router(register.router)
router.include_router(pipeline.router)
router.include_router(introductions.router)
router.include_router(loket.router)
router.include_router(cases.router)

__all__ = ["STATIC_DIR", "router"]
