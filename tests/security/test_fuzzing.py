"""Fuzzing the API from its own OpenAPI schema (schemathesis, in-process over ASGI).

Every operation is called with generated valid and invalid input by four kinds of caller
(anonymous, the company itself with its edit token, a scout, an admin). Each answer must be
free of server errors, have a documented status code, content type and headers, match the
documented body schema, and hold no personal data the caller may not see.
``KOPPELKANS_FUZZ_EXAMPLES`` sets the examples per operation and caller (``make stress`` raises it).
"""

import os
import tempfile
import zlib
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from app.core.db import get_engine
from app.main import create_app
from app.services.matching import MatchingState
from tests.factories import next_kvk
from tests.security.conftest import LOGIN_PASSWORD, WORLD_WEEK, World
from tests.security.privacy import assert_no_personal_data
from tests.test_matching_api import make_engine

MAX_EXAMPLES = int(os.environ.get("KOPPELKANS_FUZZ_EXAMPLES", "6"))
FUZZ_CALLERS = ("anonymous", "own_company", "scout", "admin")
# The schema-coverage phase (boundary values, missing and wrong-typed fields) yields ~70 cases per
# operation: admin gets one in COVERAGE_SHARE_ADMIN of them, the other callers one in COVERAGE_SHARE
# (``make stress`` sets both to 1).
COVERAGE_SHARE_ADMIN = int(os.environ.get("KOPPELKANS_FUZZ_COVERAGE_SHARE_ADMIN", "2"))
COVERAGE_SHARE = int(os.environ.get("KOPPELKANS_FUZZ_COVERAGE_SHARE", "10"))
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

# A small ready matching engine (deterministic encoders), so the matching endpoints answer for real.
_engine = make_engine(Path(tempfile.mkdtemp(prefix="koppelkans-fuzz-")))
_app = create_app(matching_state=MatchingState.ready_with(_engine))
schema = schemathesis.openapi.from_asgi("/openapi.json", _app)
# (caller, "METHOD /path") -> statuses seen, for the reach check at the end of this module.
PHASES: Counter = Counter()  # requests sent per schemathesis phase
seen: dict[tuple[str, str], Counter] = {}


@pytest.fixture(params=FUZZ_CALLERS)
def fuzz_caller(request) -> str:
    return request.param


def _fingerprint(case) -> int:
    """A stable number per generated case (Python's hash() of strings changes per process)."""
    return zlib.crc32(repr((case.method, case.path_parameters, case.query, case.headers, case.body)).encode())


def _is_coverage_case(case) -> bool:
    return case.meta is not None and str(case.meta.phase.name) == "coverage"


def _aim_at_real_data(case, world: World, caller: str) -> None:
    """On half the cases, replace what the schema cannot tell the fuzzer (ids that exist, municipality
    and sector names from the taxonomy, a fresh KvK number, real login credentials), so generated calls
    get past 404 and 422 to the code behind them. The other half stay as generated."""
    if _fingerprint(case) % 2:
        return
    known_ids = {
        "company_id": world.companies["own"]["id"], "need_id": world.needs["staff"]["id"], "week": WORLD_WEEK,
        "case_id": world.cases["asked"]["id"],
    }
    if case.path.endswith("/consortia"):  # a need of several parts
        known_ids["need_id"] = world.needs["call"]["id"]
    if case.path_parameters:
        case.path_parameters = {
            name: known_ids.get(name, value) for name, value in case.path_parameters.items()
        }
    if caller != "own_company" and case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "x-edit-token"}
    body = case.body
    if not isinstance(body, dict):
        return
    if case.path == "/api/v1/auth/token":
        body.update(username=world.login_username, password=LOGIN_PASSWORD)
    if case.path.startswith("/api/v1/companies"):
        if "municipality" in body:
            body["municipality"] = "Emmen"
        if "kvk_number" in body:
            body["kvk_number"] = next_kvk()
        if "consent" in body:
            body["consent"] = True
        if "contact_phone" in body:
            body["contact_phone"] = "+31 591 123456"
    _aim_loket_body(case.path, body, world)
    for list_of_slugs in ("sectors", "eligible_regions"):
        if isinstance(body.get(list_of_slugs), list):
            body[list_of_slugs] = []
    if "owner_organisation_id" in body:
        body["owner_organisation_id"] = None


def _aim_loket_body(path: str, body: dict[str, object], world: World) -> None:
    """Valid values the loket's schemas cannot express: a question of sensible length from a known
    municipality with consent, a fresh KvK number, a known organisation and programme."""
    if path == "/api/v1/questions":
        body.update(text="Wij zoeken hulp om sensoren aan Defensie te leveren.", municipality="Emmen", consent=True)
        if body.get("kvk_number") is not None:
            body["kvk_number"] = next_kvk()
    if path.endswith("/profile"):
        body.update(name="Vraag Bedrijf BV", kvk_number=next_kvk(), consent=True)
        body.pop("contact_phone", None)
        body.pop("description", None)
    if path.endswith("/referrals"):
        body["organisation"] = "ibdo"
    if path.endswith("/programmes"):
        body["need_id"] = world.needs["programme"]["id"]


FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


@schema.exclude(method="GET").parametrize()
@FUZZ_SETTINGS
def test_api_answers_as_documented(case, world: World, fuzz_caller: str):
    """Operations that may change data: a fresh world for each operation and caller."""
    _call_and_check(case, world, fuzz_caller)


@pytest.mark.tables_shared_by_class
class TestReads:
    """Reads change nothing another test reads: they share one world."""

    @schema.include(method="GET").parametrize()
    @FUZZ_SETTINGS
    def test_read_answers_as_documented(self, case, shared_world: World, fuzz_caller: str):
        _call_and_check(case, shared_world, fuzz_caller)


def _call_and_check(case, world: World, fuzz_caller: str) -> None:
    share = COVERAGE_SHARE_ADMIN if fuzz_caller == "admin" else COVERAGE_SHARE
    if _is_coverage_case(case) and (_fingerprint(case) // 2) % share:
        return  # a sample of the systematic coverage cases (see COVERAGE_SHARE)
    _aim_at_real_data(case, world, fuzz_caller)
    headers = dict(world.headers(fuzz_caller))
    response = case.call(headers=headers)
    seen.setdefault((fuzz_caller, f"{case.method} {case.path}"), Counter())[response.status_code] += 1
    PHASES[str(case.meta.phase.name) if case.meta else "none"] += 1
    case.validate_response(response, checks=CHECKS, headers=headers)
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json") and response.content:
        assert_no_personal_data(response.json(), world.forbidden_for(fuzz_caller), personal_keys_allowed=True)


def test_fuzzing_reached_every_operation_and_got_past_authorisation():
    if not seen:
        pytest.skip("the fuzzing tests did not run in this session")
    operations = {
        f"{method.upper()} {path}"
        for path, methods in schema.raw_schema["paths"].items()
        for method in methods
    }
    for caller in sorted({caller for caller, _operation in seen}):  # those selected in this run
        missed = sorted(op for op in operations if (caller, op) not in seen)
        assert not missed, f"the fuzzer never called {missed} as {caller}"
    # As admin every operation must have succeeded at least once, or the fuzzing stayed at the door;
    # except consenting to an introduction, which only the company itself may do (its successful
    # calls are tested in tests/test_pipeline.py).
    company_only = {
        "POST /api/v1/companies/{company_id}/introductions/{need_id}/consent",
        "DELETE /api/v1/companies/{company_id}/introductions/{need_id}/consent",
    }
    never_ok = sorted(
        op
        for op in operations - company_only
        if ("admin", op) in seen and not any(200 <= status < 300 for status in seen[("admin", op)])
    )
    assert not never_ok, (
        f"no 2xx as admin for {never_ok}: {[(op, dict(seen[('admin', op)])) for op in never_ok]}"
    )
    total = sum(sum(counter.values()) for counter in seen.values())
    server_errors = sum(n for counter in seen.values() for status, n in counter.items() if status >= 500)
    database = get_engine().dialect.name
    print(f"\nfuzzing on {database}: {total} requests over {len(operations)} operations ({dict(PHASES)}), "
          f"{server_errors} server errors")
