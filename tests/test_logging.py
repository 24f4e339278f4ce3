"""Secrets in URLs never reach the access log."""

import logging

from app.core.logging import RedactSecrets, redact_url


def test_tokens_in_query_strings_are_redacted():
    assert redact_url("/ui/bedrijf/4?token=kk_edit_abc&tab=x") == "/ui/bedrijf/4?token=***&tab=x"
    assert redact_url("/ui/bedrijf/4?tab=x&TOKEN=geheim") == "/ui/bedrijf/4?tab=x&TOKEN=***"
    assert redact_url("/api/v1/needs?q=token") == "/api/v1/needs?q=token"


def test_uvicorn_access_record_is_redacted():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/ui/bedrijf/4?token=kk_edit_abc", "1.1", 303), None)
    RedactSecrets().filter(record)
    assert "kk_edit_abc" not in record.getMessage() and "token=***" in record.getMessage()
