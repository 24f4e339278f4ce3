"""The service's errors: each maps to one HTTP status and carries a message a person can act on.

Services raise these; one handler in ``app.main`` renders them as ``{"detail": message}``. An error
a person can meet in the web interface also carries a ``code`` (and the ``params`` its message
needs), which the interface maps to a Dutch sentence (``app/web/messages.py``); the English
``detail`` is for the API.
"""

from typing import Any


class KoppelkansError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, code: str | None = None, params: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code
        self.params = params or {}


class NotFound(KoppelkansError):
    status_code = 404


class Conflict(KoppelkansError):
    status_code = 409


class Unauthorized(KoppelkansError):
    status_code = 401


class Forbidden(KoppelkansError):
    status_code = 403


class InvalidInput(KoppelkansError):
    status_code = 422


class IndexNotReady(KoppelkansError):
    status_code = 503


class TooManyRequests(KoppelkansError):
    status_code = 429

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail, code="too_many_requests", params={"retry_after": retry_after})
        self.retry_after = retry_after
