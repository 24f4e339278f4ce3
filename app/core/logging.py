"""Log hygiene: no secrets and no personal data in any log line.

- Secrets that travel in a URL (an edit link's token) are masked in uvicorn's access log.
- Every log record, of any logger, has e-mail addresses and phone numbers masked in its message,
  its traceback and the contact fields of its structured extras (``logger.info(..., extra={...})``),
  before any handler or formatter sees it. The database engine is made
  with ``hide_parameters`` (app/core/db.py), so a failed statement's values never reach a
  traceback in the first place; this catches what a driver's own message may quote.
"""

import logging
import re
from collections.abc import Callable
from typing import Any

_SECRET_QUERY = re.compile(r"((?:^|[?&])(?:token|edit_token|access_token)=)[^&\s]*", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Phone numbers as people write them (+31 591 123456, 0591-123456, (050) 1234567): a + or a 0
# first, nine digits or more; dates, times and ids do not start so.
_PHONE = re.compile(r"(?<![\w.+])(?:\+|\(?0)[\d ()\-]{7,}\d(?![\w.])")
_PHONE_DIGITS = 9
MASK = "***"
# Keys of structured extras that always hold personal data, whatever their value looks like.
PERSONAL_KEYS = frozenset({"contact_name", "contact_email", "contact_phone", "email", "to", "to_address", "phone"})


def redact_url(url: str) -> str:
    return _SECRET_QUERY.sub(r"\1***", url)


def mask_personal_data(text: str) -> str:
    return _PHONE.sub(_mask_phone, _EMAIL.sub(MASK, text))


def _mask_phone(found: re.Match[str]) -> str:
    return MASK if sum(c.isdigit() for c in found.group()) >= _PHONE_DIGITS else found.group()


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
    install_personal_data_masking()


_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _masking_make_record(make_record: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def masked(self: logging.Logger, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(self, *args, **kwargs)
        mask_record(record)
        return record

    masked.masks_personal_data = True  # type: ignore[attr-defined]
    return masked


def mask_record(record: logging.LogRecord) -> None:
    """Masks the record's message and traceback in place (its arguments are merged into the message)."""
    try:
        message = record.getMessage()
    except Exception:  # arguments that do not fit the format: logging reports that when it emits
        return
    masked = mask_personal_data(message)
    if masked != message:
        record.msg, record.args = masked, ()
    if record.exc_info:
        # The traceback as masked text; the exception object (whose arguments may quote an address)
        # is dropped: formatters print exc_text.
        if not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_text = mask_personal_data(record.exc_text)
        record.exc_info = None
    if record.stack_info:
        record.stack_info = mask_personal_data(record.stack_info)
    for key, value in vars(record).items():
        if key in _STANDARD_ATTRIBUTES or key.startswith("_"):
            continue
        if key in PERSONAL_KEYS and value:
            setattr(record, key, MASK)
        elif isinstance(value, str):
            setattr(record, key, mask_personal_data(value))


def install_personal_data_masking() -> None:
    """Masks personal data in every log record made from now on, by any logger (idempotent).

    Hooked into ``Logger.makeRecord``, where a record gets its structured extras (a log record
    factory runs before they are set), for the loggers that exist already too.
    """
    current = logging.Logger.makeRecord
    if not getattr(current, "masks_personal_data", False):
        logging.Logger.makeRecord = _masking_make_record(current)  # type: ignore[method-assign]
