"""What every web route shares: HTML error pages, the login redirect, the session cookie, and rendering."""

from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from app.core import text
from app.core.errors import KoppelkansError, TooManyRequests
from app.web import messages
from app.web.session import CSRF_HEADER, CsrfRefused, LoginRequired, load_session, save_session
from app.web.templating import templates

LOGIN_PATH = "/ui/inloggen"


def is_htmx(request: Request) -> bool:
    """An htmx partial update; a history restore asks for the whole page."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    web_session = load_session(request)
    values = {
        "request": request,
        "csrf_token": web_session.csrf_token,
        "csrf_header": CSRF_HEADER,
        "visitor": getattr(request.state, "visitor", None),
        "path": request.url.path,
    }
    values.update(context or {})
    response = templates.TemplateResponse(request, template, values, status_code=status_code)
    response.headers["Vary"] = "HX-Request, Cookie"
    return response


def flash(request: Request, message: str) -> None:
    """A message for the next page this person sees (after a redirect), shown once."""
    web_session = load_session(request)
    web_session.data["notice"] = message
    web_session.changed = True


def take_flash(request: Request) -> str | None:
    web_session = load_session(request)
    message = web_session.data.pop("notice", None)
    if message is not None:
        web_session.changed = True
    return message if isinstance(message, str) else None


def safe_next(target: str | None) -> str:
    """Only a path inside the web interface: never another host (//evil.example) or scheme."""
    if target and target.startswith("/ui/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui/"


def login_redirect(request: Request) -> Response:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    target = f"{LOGIN_PATH}?next={quote(wanted, safe='/')}"
    if is_htmx(request):  # a partial update cannot show the login page inside a fragment
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def error_page(request: Request, status_code: int, message: str, retry_after: int | None = None) -> Response:
    """The house-style error page (or, for htmx, the notice alone) with a Dutch message."""
    template = "partials/error_notice.html" if is_htmx(request) else "error.html"
    context = {"status_code": status_code, "message": message, "title": messages.title_for(status_code)}
    response = render(request, template, context, status_code)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


# Paths that answer machines: their errors stay JSON.
MACHINE_PATHS = ("/api/", "/healthz", "/readyz", "/openapi.json", "/docs", "/static/")


def wants_html(request: Request) -> bool:
    """The front page, the web interface and any other address a person may type answer errors with
    a page; the API, the health checks and its documentation with JSON."""
    return not request.url.path.startswith(MACHINE_PATHS)


def status_page(request: Request, status_code: int) -> Response:
    """An error page for a status met outside a page's own handler (an unknown address, a crash)."""
    response = error_page(request, status_code, messages.for_status(status_code))
    save_session(request, response)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def validation_message(error: RequestValidationError) -> str:
    """A request the pages did not build themselves (an edited address, a pasted control character):
    which value, in Dutch."""
    sentences: list[str] = []
    for problem in error.errors():
        control_character = text.found_in(problem)
        if control_character is not None:
            location = problem.get("loc") or ()
            sentences.append(text.in_dutch(control_character, str(location[-1]) if location else None))
    if sentences:
        return " ".join(dict.fromkeys(sentences))
    names = sorted({str(item.get("loc", ("", ""))[-1]) for item in error.errors()} - {""})
    where = f" bij ‘{', '.join(names)}’" if names else ""
    return f"Het adres bevat een ongeldige waarde{where}. Gebruik de keuzes op de pagina of ga terug naar de start."


class HtmlRoute(APIRoute):
    """Routes of the web interface: errors become HTML pages in Dutch, anonymous staff pages redirect
    to the login page, the session cookie is written when it changed, and nothing personal is cached."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                response = login_redirect(request)
            except CsrfRefused:
                response = error_page(request, 403, messages.for_code("csrf"))
            except TooManyRequests as error:
                response = error_page(request, 429, messages.for_error(error), error.retry_after)
            except KoppelkansError as error:
                response = error_page(request, error.status_code, messages.for_error(error))
            except RequestValidationError as error:
                response = error_page(request, 422, validation_message(error))
            save_session(request, response)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler
