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


def _in_dutch(problem: dict[str, Any]) -> str:
    control_character = text.found_in(problem)
    if control_character is not None:
        location = problem.get("loc") or ()
        return text.in_dutch(control_character, str(location[-1]) if location else None)
    return str(problem.get("msg", "")).removeprefix("Value error, ")


def error_page(request: Request, status_code: int, message: str, retry_after: int | None = None) -> Response:
    template = "partials/error_notice.html" if is_htmx(request) else "error.html"
    response = render(request, template, {"status_code": status_code, "message": message}, status_code)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


class HtmlRoute(APIRoute):
    """Routes of the web interface: errors become HTML pages, anonymous staff pages redirect to the
    login page, the session cookie is written when it changed, and nothing personal is cached."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                response = login_redirect(request)
            except CsrfRefused:
                response = error_page(
                    request,
                    403,
                    "Dit formulier is verlopen of kwam niet van deze site (CSRF-controle). "
                    "Laad de pagina opnieuw en probeer het nog eens.",
                )
            except TooManyRequests as error:
                response = error_page(
                    request,
                    429,
                    f"Te veel pogingen vanaf dit adres: probeer het over {error.retry_after} s opnieuw.",
                    error.retry_after,
                )
            except KoppelkansError as error:
                response = error_page(request, error.status_code, error.detail)
            except RequestValidationError as error:
                problems = "; ".join(_in_dutch(item) for item in error.errors())
                response = error_page(request, 422, f"Ongeldige invoer: {problems}")
            save_session(request, response)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler
