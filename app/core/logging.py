"""Log hygiene: secrets that travel in a URL never reach the access log."""

import logging
import re

_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:token|edit_token|access_token)=)[^&\s]*", re.IGNORECASE)


def redact_url(url: str) -> str:
    return _SECRET_QUERY.sub(r"\1***", url)


class RedactSecrets(logging.Filter):
    """Uvicorn's access log line carries the request path with its query string (args[2])."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) >= 3 and isinstance(record.args[2], str):
            record.args = (*record.args[:2], redact_url(record.args[2]), *record.args[3:])
        return True


def install_redaction() -> None:
    access_log = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactSecrets) for f in access_log.filters):
        access_log.addFilter(RedactSecrets())
