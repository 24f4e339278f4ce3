"""Documents the error answers every endpoint can give, derived from what the endpoint depends on.

Errors are raised centrally (the caller dependencies, the rate limiter, the body-size limit, the
service errors), so they are documented centrally too: an endpoint that depends on
``require_staff`` can answer 401 and 403, one with a path parameter 404, and so on. New endpoints
get their error answers documented without anyone having to remember it.
"""

from collections.abc import Iterator
from typing import Any, NamedTuple

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from app.deps import RateLimit, company_caller, get_caller, require_desk, require_list_reader, require_staff

Responses = dict[int | str, dict[str, Any]]  # an endpoint's documented answers by status, as FastAPI takes them
REF = "#/components/schemas/"
ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {
        "detail": {"title": "Detail", "type": "string", "description": "What went wrong and what to fix"}
    },
    "required": ["detail"],
}
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": REF + "Error"}}}
# For an endpoint that checks its caller's role or edit token in its own body, not in a dependency.
FORBIDDEN: Responses = {403: {"description": "Logged in, but this role or edit token may not do this"}}


class Endpoint(NamedTuple):
    method: str
    path: str  # with the router prefixes, e.g. /api/v1/companies/{company_id}
    route: APIRoute  # as declared (its own path lacks the prefixes)


def api_endpoints(app: FastAPI) -> Iterator[Endpoint]:
    """Every (method, path) the app serves through an APIRoute, routers' prefixes included."""
    # FastAPI >= 0.16x keeps included routers as one node each; older versions copy their routes.
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    contexts = iter_contexts(app.routes) if iter_contexts else app.routes
    for context in contexts:
        route = getattr(context, "original_route", context)
        if not isinstance(route, APIRoute):
            continue
        # A route context (newer FastAPI) or the route itself: both have the prefixed path and methods.
        methods: set[str] = getattr(context, "methods", None) or set()
        path_format: str = getattr(context, "path_format", None) or route.path_format
        for method in sorted(methods):
            yield Endpoint(method, path_format, route)


def _dependants(dependant: Dependant) -> list[Dependant]:
    found = [dependant]
    for sub in dependant.dependencies:
        found.extend(_dependants(sub))
    return found


def error_responses(route: APIRoute) -> Responses:
    """The error statuses ``route`` can answer besides 422, each with a description."""
    dependants = _dependants(route.dependant)
    calls = [d.call for d in dependants]
    errors: Responses = {}
    if get_caller in calls:
        errors[401] = {
            "description": "Not logged in, or the bearer token is unknown, revoked or expired",
            "headers": {"WWW-Authenticate": {"schema": {"type": "string"}}},
        }
    if {require_staff, require_desk, require_list_reader, company_caller} & set(calls):
        errors.update(FORBIDDEN)
    if any(d.path_params for d in dependants):
        errors[404] = {"description": "Nothing with this id (or not visible to this caller)"}
    if route.body_field is not None:
        errors[400] = {"description": "The body could not be read (e.g. not UTF-8)"}
        errors[413] = {"description": "Request body larger than KOPPELKANS_MAX_BODY_BYTES"}
    if any(isinstance(call, RateLimit) for call in calls):
        errors[429] = {
            "description": "Too many requests from this address",
            "headers": {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait"}},
        }
    return errors


def document_error_responses(app: FastAPI) -> None:
    """Wraps ``app.openapi`` so the generated schema lists the error answers of every operation."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        if "HTTPValidationError" in schemas:
            # Service-level checks (e.g. an unknown region) answer 422 with a sentence instead of a list.
            detail = schemas["HTTPValidationError"]["properties"]["detail"]
            schemas["HTTPValidationError"]["properties"]["detail"] = {
                "title": "Detail",
                "anyOf": [{k: v for k, v in detail.items() if k != "title"}, {"type": "string"}],
            }
            schemas["HTTPValidationError"]["required"] = ["detail"]
        for method, path, route in api_endpoints(app):
            operation = schema["paths"].get(path, {}).get(method.lower())
            if operation is None or not route.include_in_schema:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in error_responses(route).items():
                documented = responses.setdefault(str(status), {"description": response["description"]})
                documented.setdefault("content", _ERROR_CONTENT)
                if "headers" in response:
                    documented.setdefault("headers", response["headers"])
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
