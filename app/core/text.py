"""Text from outside: control characters are refused, on every backend, by one check.

PostgreSQL cannot store a NUL character (SQLite can, and would hand it to every reader), and no
field of this service has any use for control characters besides tab and newline. A Windows or
browser line break (CR LF, which every textarea sends) counts as a newline. Lone surrogates
(possible in JSON's ``\\ud800`` escapes) cannot be stored as UTF-8, so they are refused too.

Used by every request schema (``Input`` in app/schemas.py), by the query and path parameters of
every route (``refuse_control_characters_in_parameters``, an app-wide dependency) and by the web
forms (``FormText``).
"""

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BeforeValidator, ValidationInfo

# C0 controls except tab (09) and newline (0A), DEL and C1 controls, and UTF-16 surrogates.
_REFUSED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
ERROR_TYPE = "control_character"


class ControlCharacter(ValueError):
    def __init__(self, field: str, character: str, position: int) -> None:
        self.field = field
        self.code_point = f"U+{ord(character):04X}"
        super().__init__(
            f"{field} contains a control character ({self.code_point}) at position {position}: "
            "remove it (only tab and newline are allowed)"
        )


def found_in(problem: Mapping[str, Any]) -> ControlCharacter | None:
    """The control character a validation problem (one of ``errors()``) is about, if any."""
    error = (problem.get("ctx") or {}).get("error")
    return error if isinstance(error, ControlCharacter) else None


def in_dutch(error: ControlCharacter, label: str | None = None) -> str:
    """What the web interface says: which field, which character, what to do."""
    return (f"Het veld ‘{label or error.field}’ bevat een onzichtbaar stuurteken ({error.code_point}): "
            "verwijder het; alleen tab en nieuwe regel zijn toegestaan.")


def first_in(problems: list[Any]) -> ControlCharacter | None:
    """The first control character among a ValidationError's ``errors()``, if any."""
    return next((found for found in map(found_in, problems) if found is not None), None)


def clean_text(value: str, field: str) -> str:
    """``value`` with CR LF as newline; ControlCharacter (a ValueError) naming ``field`` when it
    holds a control character other than tab or newline."""
    value = value.replace("\r\n", "\n")
    found = _REFUSED.search(value)
    if found is not None:
        raise ControlCharacter(field, found.group(), found.start() + 1)
    return value


def clean_value(value: Any, field: str) -> Any:
    """``clean_text`` on a string, or on every string of a list; anything else as it is (a nested
    model checks its own fields)."""
    if isinstance(value, str):
        return clean_text(value, field)
    if isinstance(value, list | tuple):
        return type(value)(clean_value(item, field) for item in value)
    return value


def _clean_field(value: Any, info: ValidationInfo) -> Any:
    # A form parameter's validator has no field name: the 422's loc names it.
    return clean_value(value, info.field_name or "this field")


# A form field or parameter of free text: ``Annotated[FormText, Form(max_length=…)]``.
FormText = Annotated[str, BeforeValidator(_clean_field)]


async def refuse_control_characters_in_parameters(request: Request) -> None:
    """An app-wide dependency: a query or path parameter with a control character gets 422 naming it."""
    problems = []
    for location, parameters in (("path", request.path_params.items()),
                                 ("query", request.query_params.multi_items())):
        for name, value in parameters:
            try:
                clean_text(str(value), name)
            except ControlCharacter as error:
                problems.append({"loc": (location, name), "msg": str(error), "type": ERROR_TYPE,
                                 "ctx": {"error": error}})
    if problems:
        raise RequestValidationError(problems)
