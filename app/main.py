"""The FastAPI application: routers, error rendering, security headers and body limits."""

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from swagger_ui_bundle import swagger_ui_path
from threadpoolctl import threadpool_limits

from app import web
from app.core.config import get_settings
from app.core.errors import KoppelkansError, TooManyRequests
from app.core.logging import install_redaction
from app.core.memory import limit_allocation_arenas
from app.core.text import refuse_control_characters_in_parameters
from app.core.writer import BatchWriter
from app.openapi_errors import document_error_responses
from app.routers import auth, cases, companies, consortia, health, matching, needs, pipeline, questions, taxonomy
from app.services import mail
from app.services.matching import MatchingState

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
OPENAPI_URL = "/openapi.json"
THREADS = 200

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
# The API documentation page starts Swagger UI with an inline script, so it alone gets one.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'"
)


class BodyTooLarge(Exception):
    pass


class LimitsAndHeaders:
    """Adds the security headers to every answer, answers an unexpected error with a JSON 500,
    keeps API answers out of caches, and caps the request body.

    An error no handler knows (a bug, a database gone away) is logged with a reference and answered
    ``{"detail": …}`` with the security headers, here, inside Starlette's outermost error middleware
    (whose plain-text 500 would carry neither). API answers may carry contact details, so they get
    ``Cache-Control: no-store`` unless the route chose otherwise.

    A declared body over the limit is refused before anything reads it. The body's bytes are also
    counted as they arrive, so a chunked upload (no Content-Length) is capped as well: past the
    limit the body read fails (the request is not processed on a partial body) and the answer is
    413, whatever the application made of the failed read. Plain ASGI: Starlette's
    BaseHTTPMiddleware runs every request through an extra task and stream, which cost more than
    a match itself under load.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = get_settings().max_body_bytes
        received = 0
        exceeded = started = False

        api = scope["path"].startswith(API_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if api:
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def send_or_refuse(message: Message) -> None:
            nonlocal started
            if not exceeded:
                started = True
                await send_with_headers(message)
            elif message["type"] == "http.response.start" and not started:
                started = True
                await _too_large(max_bytes)(scope, receive, send_with_headers)

        declared_length = Headers(scope=scope).get("content-length")
        if declared_length and (not declared_length.isdigit() or int(declared_length) > max_bytes):
            await _too_large(max_bytes)(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, limited_receive, send_or_refuse)
        except BodyTooLarge:
            if not started:
                await _too_large(max_bytes)(scope, receive, send_with_headers)
        except Exception:
            if started:  # the answer is under way: nothing else can be sent
                raise
            reference = uuid.uuid4().hex[:12]
            logger.exception("unexpected error on %s %s (reference %s)", scope.get("method"), scope["path"], reference)
            started = True
            await _server_error(reference)(scope, receive, send_with_headers)


def _server_error(reference: str) -> JSONResponse:
    detail = f"internal error: the request was not completed (reference {reference}); try again later"
    return JSONResponse(status_code=500, content={"detail": detail})


def _too_large(max_bytes: int) -> JSONResponse:
    detail = f"request body too large: at most {max_bytes} bytes"
    return JSONResponse(status_code=413, content={"detail": detail})


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()  # refuses to start with a placeholder secret in production
    install_redaction()  # the company's edit link carries its token in the query string
    # Routes and the session dependency are sync and run in a thread pool; a request's commit (the
    # dependency's exit) needs a thread too. With SQLite, threads waiting for the write lock could
    # take every thread while the lock's holder waits for one to commit: more threads than
    # concurrent requests keeps that from happening (measured: 50 clients, tests/reliability).
    anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
    # Requests run side by side in threads, each doing its own small matrix products: one BLAS thread
    # each. With OpenBLAS's default (one per core) its helper thread spins between calls and took a
    # whole core under load (measured: 35-45 ms of CPU per match request, more than the match itself).
    threadpool_limits(limits=1, user_api="blas")
    limit_allocation_arenas()
    state = getattr(app.state, "matching", None)
    if state is None and settings.matching_enabled:
        # Models load and the index is brought in step with the database in the background:
        # the API answers at once, matching answers 503 until /readyz says ready.
        state = app.state.matching = MatchingState()
        state.start_in_background(settings)
    if state is not None:
        app.state.matching_readiness = state.readiness
        state.follow_commits()  # every company or need committed reaches the index at once
    mail.sender.start()  # sends what requests queued, after their commits (app/services/mail.py)
    yield
    app.state.writer.close()  # commits what requests handed over
    mail.sender.stop()
    if state is not None:
        state.close()


def create_app(matching_state: MatchingState | None = None) -> FastAPI:
    """The application; tests pass a ready ``matching_state`` with a small deterministic engine."""
    install_redaction()  # personal data and secrets never reach a log line
    app = FastAPI(
        title="Koppelkans",
        # A control character in any query or path parameter: 422 naming it (app/core/text.py).
        dependencies=[Depends(refuse_control_characters_in_parameters)],
        summary="Matches MKB companies in Drenthe and the north to defence needs, NLD areas and innovation programmes.",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
    )
    # Swagger UI from a Python package, not a CDN: the service runs on closed networks.
    app.mount("/static/swagger", StaticFiles(directory=str(swagger_ui_path)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def api_docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="Koppelkans API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )
        page.headers["Content-Security-Policy"] = DOCS_CSP
        return page
    if matching_state is not None:
        app.state.matching = matching_state
    app.state.writer = BatchWriter()  # what requests record, many at a time (app/core/writer.py)
    app.include_router(health.router)
    for router in (auth.router, companies.router, needs.router, matching.router, pipeline.router, taxonomy.router,
                   questions.router, cases.router, cases.kpi_router, consortia.router):
        app.include_router(router, prefix=API_PREFIX)
    # The web interface: pages under /ui/ (session cookie + CSRF: app/web/session.py), its static files.
    app.mount("/ui/static", StaticFiles(directory=str(web.STATIC_DIR)), name="ui-static")
    app.include_router(web.router)
    document_error_responses(app)

    @app.exception_handler(KoppelkansError)
    async def render_error(_request: Request, error: KoppelkansError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, TooManyRequests) else None
        if error.status_code == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return JSONResponse(status_code=error.status_code, content={"detail": error.detail}, headers=headers)

    @app.exception_handler(DataError)
    async def render_refused_value(_request: Request, _error: DataError) -> JSONResponse:
        # What validation let through and the database refuses: a client's mistake, not a server error.
        detail = ("a value could not be stored: it is too long or too large for its field, or holds characters "
                  "the database refuses; check the values sent")
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(RequestValidationError)
    async def render_validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's shape (a list of {loc, msg, type}), with messages that read as instructions.
        details = [
            {
                "loc": list(item.get("loc", ())),
                "msg": str(item.get("msg", "")).removeprefix("Value error, "),
                "type": item.get("type", "value_error"),
            }
            for item in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": details})

    app.add_middleware(LimitsAndHeaders)

    return app


app = create_app()
