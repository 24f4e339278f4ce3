"""Checks that a response holds no personal data the caller is not entitled to.

Reusable for every endpoint that returns companies (search, matches, lists, exports): pass the
parsed JSON (or any text, such as a CSV export) and the values the caller must not see.
"""

import json
from collections.abc import Iterable
from typing import Any

# Keys whose value is personal data or a secret; a caller without the right sees them absent or null.
PERSONAL_KEYS = frozenset(
    {
        "contact",
        "contact_name",
        "contact_email",
        "contact_phone",
        "consents",
        "consent_matching",
        "consent_defence_contact",
    }
)
SECRET_KEYS = frozenset({"edit_token_hash", "token_hash", "password_hash"})


def _walk(value: Any, path: str = "$") -> Iterable[tuple[str, str | None, Any]]:
    """Yields (json path, key, value) for every node of a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", str(key), item
            yield from _walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield f"{path}[{index}]", None, item
            yield from _walk(item, f"{path}[{index}]")


def assert_no_personal_data(
    payload: Any, forbidden_values: Iterable[str] = (), *, personal_keys_allowed: bool = False
) -> None:
    """Fails when ``payload`` (parsed JSON, or text) contains any forbidden value (case-insensitive,
    also inside longer strings), a secret key, or, unless ``personal_keys_allowed``, a personal key
    with a non-null value. Use ``personal_keys_allowed=True`` where the caller may see some
    companies' contact details: the values of the others must then be in ``forbidden_values``."""
    forbidden = [value.lower() for value in forbidden_values if value]
    if isinstance(payload, (str, bytes)):
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
        leaked = [value for value in forbidden if value in text.lower()]
        assert not leaked, f"response text contains personal data it must not: {leaked}"
        return
    text = json.dumps(payload, ensure_ascii=False).lower()
    leaked = [value for value in forbidden if value in text]
    if leaked:
        where = [
            path
            for path, _key, node in _walk(payload)
            if isinstance(node, str) and any(value in node.lower() for value in leaked)
        ]
        raise AssertionError(f"response contains personal data it must not: {leaked} at {where}")
    for path, key, node in _walk(payload):
        if key in SECRET_KEYS:
            raise AssertionError(f"response contains a secret field at {path}")
        if key in PERSONAL_KEYS and node not in (None, {}, []) and not personal_keys_allowed:
            raise AssertionError(f"response contains personal data at {path}: {node!r}")
