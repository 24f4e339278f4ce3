"""The service's errors: each maps to one HTTP status and carries a message a person can act on.

Services raise these; one handler in ``app.main`` renders them as ``{"detail": message}``.
"""


class KoppelkansError(Exception):
    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


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
        super().__init__(detail)
        self.retry_after = retry_after
