"""Sessions for people in the browser: a signed cookie, a CSRF token per session, and who is calling.

The cookie holds ids only (a user id with the user's session version and the id of the login's
record, or the id of a company that opened its edit link) and the session's CSRF token; logging
out revokes the login's record, and raising the user's session version ends every login. It
is signed with the settings' ``secret_key`` and expires with the login lifetime. The JSON API
does not read it: the API keeps its bearer tokens.
"""

import hmac
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from app.core.config import get_settings
from app.deps import SessionDep
from app.models import User
from app.services import users as user_service
from app.services.access import Caller

COOKIE_NAME = "kk_session"
COOKIE_PATH = "/"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_SALT = "koppelkans-web-session"


class LoginRequired(Exception):
    """Raised by staff pages for anonymous visitors; answered with a redirect to the login page."""


class CsrfRefused(Exception):
    """A form post without the session's CSRF token."""


@dataclass
class WebSession:
    data: dict[str, Any] = field(default_factory=dict)  # the signed cookie's content
    changed: bool = False
    cleared: bool = False

    @property
    def user_id(self) -> int | None:
        found = self.data.get("uid")
        return found if isinstance(found, int) else None

    @property
    def company_id(self) -> int | None:
        found = self.data.get("cid")
        return found if isinstance(found, int) else None

    @property
    def csrf_token(self) -> str:
        token = self.data.get("csrf")
        if not isinstance(token, str):
            token = self.data["csrf"] = secrets.token_urlsafe(32)
            self.changed = True
        return token

    @property
    def session_version(self) -> int | None:
        found = self.data.get("sv")
        return found if isinstance(found, int) else None

    @property
    def login_id(self) -> int | None:
        found = self.data.get("lid")
        return found if isinstance(found, int) else None

    def start(
        self, *, user_id: int | None = None, company_id: int | None = None, session_version: int = 0,
        login_id: int | None = None,
    ) -> None:
        """A new session (new CSRF token) for a person who just logged in or opened an edit link.
        A person's session carries the user's session version and its login's record (services/users.py):
        raising the one or revoking the other ends the session."""
        self.data = {"csrf": secrets.token_urlsafe(32)}
        if user_id is not None:
            self.data["uid"] = user_id
            self.data["sv"] = session_version
            self.data["lid"] = login_id
        if company_id is not None:
            self.data["cid"] = company_id
        self.changed = True

    def clear(self) -> None:
        self.data = {}
        self.changed = True
        self.cleared = True

    def csrf_matches(self, token: str | None) -> bool:
        expected = self.data.get("csrf")
        return bool(token and expected and hmac.compare_digest(token, expected))


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SALT)


def _max_age_seconds() -> int:
    return get_settings().login_token_hours * 3600


def load_session(request: Request) -> WebSession:
    """The session of this request (cached on it); an empty one when the cookie is absent or forged."""
    existing: WebSession | None = getattr(request.state, "web_session", None)
    if existing is not None:
        return existing
    data: dict[str, Any] = {}
    raw = request.cookies.get(COOKIE_NAME)
    if raw:
        try:
            loaded = _serializer().loads(raw, max_age=_max_age_seconds())
            data = loaded if isinstance(loaded, dict) else {}
        except BadSignature:  # also expired ones (SignatureExpired is a BadSignature)
            data = {}
    web_session = WebSession(data=data)
    request.state.web_session = web_session
    return web_session


def save_session(request: Request, response: Response) -> None:
    """Writes the cookie when the session changed: HttpOnly, SameSite=Lax, Secure over https, for the
    whole site (the front page at / shows who is logged in too)."""
    web_session = getattr(request.state, "web_session", None)
    if web_session is None or not web_session.changed:
        return
    # A cookie of the same name scoped to /ui alone would be sent first there and shadow this one.
    response.delete_cookie(COOKIE_NAME, path="/ui", httponly=True, samesite="lax")
    if web_session.cleared and not web_session.data:
        response.delete_cookie(COOKIE_NAME, path=COOKIE_PATH, httponly=True, samesite="lax")
        return
    response.set_cookie(
        COOKIE_NAME,
        _serializer().dumps(web_session.data),
        max_age=_max_age_seconds(),
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


WebSessionDep = Annotated[WebSession, Depends(load_session)]


@dataclass(frozen=True)
class Visitor:
    """Who is looking at a page: a logged-in person, a company through its edit link, or nobody."""

    caller: Caller
    session: WebSession

    @property
    def user(self) -> User | None:
        return self.caller.user


def get_visitor(request: Request, db: SessionDep) -> Visitor:
    web_session = load_session(request)
    user = None
    if web_session.user_id is not None:
        user = user_service.active_user(session=db, user_id=web_session.user_id)
        # Removed, blocked, its sessions ended (logout everywhere, a new password …) or this login
        # logged out since logging in.
        login_id = web_session.login_id
        if (user is None or web_session.session_version != user.session_version or login_id is None
                or not user_service.web_login_holds(session=db, user=user, login_id=login_id)):
            web_session.clear()
            user = None
    caller = Caller(user=user, company_id=web_session.company_id if user is None else None)
    visitor = Visitor(caller=caller, session=web_session)
    request.state.visitor = visitor  # for the page header, also on error pages
    return visitor


VisitorDep = Annotated[Visitor, Depends(get_visitor)]


def require_staff_visitor(visitor: VisitorDep) -> Visitor:
    if not visitor.caller.is_staff:
        raise LoginRequired()
    return visitor


StaffVisitorDep = Annotated[Visitor, Depends(require_staff_visitor)]


async def check_csrf(request: Request) -> None:
    """Every state-changing request carries the session's token, in a form field or (htmx) a header."""
    web_session = load_session(request)
    token = request.headers.get(CSRF_HEADER)
    if not token:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not web_session.csrf_matches(token):
        raise CsrfRefused()


CsrfDep = Depends(check_csrf)
