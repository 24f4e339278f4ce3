"""Who may call what: every endpoint x every kind of caller, with the status each one gets.

The list of endpoints comes from the application's route table, so a new endpoint without a row
here fails ``test_every_endpoint_has_a_row``. A cell that changes data runs against a fresh world
(see conftest); reads and refusals share one. The company endpoints act on the company "own", the
need endpoints on a staff-only need.
Every answer is also checked for personal data the caller is not entitled to.
"""

import fastapi.routing
import pytest
from starlette.routing import Route

from app.main import create_app
from tests.factories import company_payload, need_payload
from tests.security.conftest import CALLERS, LOGIN_PASSWORD, WORLD_WEEK, World
from tests.security.privacy import assert_no_personal_data

# Column order: anonymous, the company itself (its X-Edit-Token), another company (its own
# X-Edit-Token on this company), adviser, scout, regioteam, admin.
# fmt: off
MATRIX: dict[tuple[str, str], tuple[int, ...]] = {
    #                                                   anon  own other adviser scout regio admin
    ("GET",    "/healthz"):                             (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/readyz"):                              (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/docs"):                                (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/openapi.json"):                        (200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/api/v1/auth/token"):                   (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/auth/me"):                      (401, 401, 401, 200, 200, 200, 200),
    ("POST",   "/api/v1/auth/logout"):                  (401, 401, 401, 204, 204, 204, 204),
    ("POST",   "/api/v1/auth/logout-everywhere"):       (401, 401, 401, 204, 204, 204, 204),
    ("POST",   "/api/v1/companies"):                    (202, 202, 202, 201, 403, 403, 201),
    ("GET",    "/api/v1/companies"):                    (401, 401, 401, 200, 200, 200, 200),
    ("GET",    "/api/v1/companies/{company_id}"):       (401, 200, 403, 200, 200, 200, 200),
    ("PATCH",  "/api/v1/companies/{company_id}"):       (401, 200, 403, 200, 403, 403, 200),
    ("DELETE", "/api/v1/companies/{company_id}"):       (401, 204, 403, 204, 403, 403, 204),
    ("GET",    "/api/v1/companies/{company_id}/export"): (401, 200, 403, 200, 403, 403, 200),
    ("POST",   "/api/v1/needs"):                        (401, 401, 401, 201, 201, 201, 201),
    ("GET",    "/api/v1/needs"):                        (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/needs/{need_id}"):              (404, 404, 404, 200, 200, 200, 200),
    # The need is the admin's (of no organisation): the others' organisation may not change it.
    ("PATCH",  "/api/v1/needs/{need_id}"):              (401, 401, 401, 403, 403, 403, 200),
    ("DELETE", "/api/v1/needs/{need_id}"):              (401, 401, 401, 403, 403, 403, 204),
    ("GET",    "/api/v1/taxonomy"):                     (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/api/v1/organisations"):                (200, 200, 200, 200, 200, 200, 200),
    # Matching (a ready engine, see conftest). The need is staff-only: a company gets 404 for it.
    ("GET",    "/api/v1/needs/{need_id}/matches"):      (401, 401, 401, 200, 200, 200, 200),
    ("GET",    "/api/v1/needs/{need_id}/scouting"):     (401, 401, 401, 200, 200, 200, 200),
    ("GET",    "/api/v1/companies/{company_id}/matches"): (401, 200, 403, 200, 200, 200, 200),
    ("POST",   "/api/v1/search"):                       (401, 401, 401, 200, 200, 200, 200),
    # The pipeline: staff work it; only the company itself consents to an introduction.
    ("GET",    "/api/v1/matches"):                      (401, 401, 401, 200, 200, 200, 200),
    ("GET",    "/api/v1/matches/{company_id}/{need_id}"): (401, 401, 401, 200, 200, 200, 200),
    ("PATCH",  "/api/v1/matches/{company_id}/{need_id}"): (401, 401, 401, 200, 200, 200, 200),
    ("POST",   "/api/v1/matches/{company_id}/{need_id}/feedback"): (401, 401, 401, 200, 200, 200, 200),
    ("POST",   "/api/v1/companies/{company_id}/introductions/{need_id}/consent"): (401, 404, 403, 403, 403, 403, 403),
    ("DELETE", "/api/v1/companies/{company_id}/introductions/{need_id}/consent"): (401, 404, 403, 403, 403, 403, 403),
    ("GET",    "/api/v1/dashboard"):                    (401, 401, 401, 200, 200, 200, 200),
    # Weekly lists: the Regioteam and the desk.
    ("GET",    "/api/v1/match-lists"):                  (401, 401, 401, 200, 403, 200, 200),
    ("GET",    "/api/v1/match-lists/{week}"):           (401, 401, 401, 200, 403, 200, 200),
    # The loket: anyone asks; the desk works the inbox; staff read the KPIs and consortia (the
    # staff-only need has one part: too small for a consortium).
    ("POST",   "/api/v1/questions"):                    (201, 201, 201, 201, 201, 201, 201),
    ("GET",    "/api/v1/cases"):                        (401, 401, 401, 200, 403, 403, 200),
    ("GET",    "/api/v1/cases/{case_id}"):              (401, 401, 401, 200, 403, 403, 200),
    ("PATCH",  "/api/v1/cases/{case_id}"):              (401, 401, 401, 200, 403, 403, 200),
    ("DELETE", "/api/v1/cases/{case_id}"):              (401, 401, 401, 204, 403, 403, 204),
    ("POST",   "/api/v1/cases/{case_id}/link"):         (401, 401, 401, 200, 403, 403, 200),
    ("POST",   "/api/v1/cases/{case_id}/profile"):      (401, 401, 401, 201, 403, 403, 201),
    ("POST",   "/api/v1/cases/{case_id}/referrals"):    (401, 401, 401, 200, 403, 403, 200),
    ("POST",   "/api/v1/cases/{case_id}/programmes"):   (401, 401, 401, 200, 403, 403, 200),
    ("GET",    "/api/v1/kpis"):                         (401, 401, 401, 200, 200, 200, 200),
    ("GET",    "/api/v1/kpis/export"):                  (401, 401, 401, 200, 200, 200, 200),
    ("GET",    "/api/v1/needs/{need_id}/consortia"):    (401, 401, 401, 422, 422, 422, 422),
    # The web interface logs people in with a session cookie (tests/web): API credentials do not
    # open it, so every caller here is a visitor without a session. Staff pages send them to the
    # login page (303, not followed); a form post without the session's CSRF token is refused.
    ("GET",    "/ui/"):                                 (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/inloggen"):                         (200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/ui/inloggen"):                         (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/uitloggen"):                        (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/uitloggen-overal"):                 (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/aanmelden"):                        (200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/ui/aanmelden"):                        (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/aangemeld"):                        (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/ui/zoeken"):                           (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/"):                                    (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/ui/bedrijf/{company_id}"):             (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/bedrijf/{company_id}/wijzigen"):    (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/bedrijf/{company_id}/wijzigen"):    (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/bedrijf/{company_id}/toestemming"): (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/bedrijf/{company_id}/export"):      (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/bedrijf/{company_id}/verwijderen"): (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/bedrijf/{company_id}/verwijderen"): (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/bedrijf/{company_id}/volgen"):      (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/bedrijven"):                        (303, 303, 303, 303, 303, 303, 303),
    # Needs are public; the one here is staff-only, so without a session it does not exist.
    ("GET",    "/ui/behoeften"):                        (200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/ui/behoefte/{need_id}/volgen"):        (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/inbox"):                            (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/inbox/{company_id}/{need_id}/accepteren"): (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/inbox/{company_id}/{need_id}/afwijzen"): (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/koppeling/{company_id}/{need_id}"): (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/koppeling/{company_id}/{need_id}/status"): (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/koppeling/{company_id}/{need_id}/notitie"): (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/koppeling/{company_id}/{need_id}/eigenaar"): (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/koppeling/{company_id}/{need_id}/feedback"): (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/pipeline/kolom/{kolom}"):           (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/aangemeld/mailen"):                 (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/link-kwijt"):                       (200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/ui/link-kwijt"):                       (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/bedrijf/{company_id}/introductie/{need_id}"): (403, 403, 403, 403, 403, 403, 403),
    ("POST",   "/ui/bedrijf/{company_id}/introductie/{need_id}/intrekken"): (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/behoefte/{need_id}"):               (404, 404, 404, 404, 404, 404, 404),
    ("GET",    "/ui/pipeline"):                         (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/pipeline/{company_id}/{need_id}"):  (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/weeklijst"):                        (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/weeklijst"):                        (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/weeklijst/{week}.{extension}"):     (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/dashboard"):                        (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/loket"):                            (200, 200, 200, 200, 200, 200, 200),
    ("POST",   "/ui/loket"):                            (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/loket/antwoord"):                   (200, 200, 200, 200, 200, 200, 200),
    ("GET",    "/ui/casussen"):                         (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/casus/{case_id}"):                  (303, 303, 303, 303, 303, 303, 303),
    ("POST",   "/ui/casus/{case_id}/{step}"):           (403, 403, 403, 403, 403, 403, 403),
    ("GET",    "/ui/behoefte/{need_id}/consortia"):     (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/kpi"):                              (303, 303, 303, 303, 303, 303, 303),
    ("GET",    "/ui/kpi/{year}.{extension}"):           (303, 303, 303, 303, 303, 303, 303),
}
# fmt: on

# What each call sends (a fresh value per call, so a 201 is never a 409 by accident).
BODIES = {
    ("POST", "/api/v1/auth/token"): lambda world: {
        "data": {"username": world.login_username, "password": LOGIN_PASSWORD}
    },
    ("POST", "/api/v1/companies"): lambda world: {"json": company_payload()},
    ("PATCH", "/api/v1/companies/{company_id}"): lambda world: {"json": {"employees": 12}},
    ("POST", "/api/v1/needs"): lambda world: {"json": need_payload()},
    ("PATCH", "/api/v1/needs/{need_id}"): lambda world: {"json": {"budget_note": "tot 50.000 euro"}},
    ("POST", "/api/v1/search"): lambda world: {"json": {"text": "precisieonderdelen", "target": "companies"}},
    ("PATCH", "/api/v1/matches/{company_id}/{need_id}"): lambda world: {"json": {"note": "eerste blik"}},
    ("POST", "/api/v1/matches/{company_id}/{need_id}/feedback"): lambda world: {
        "json": {"relevant": False, "reason": "levert alleen civiel"}
    },
    ("POST", "/api/v1/questions"): lambda world: {"json": {
        "text": "Hoe vind ik een partner voor een EDF-call?", "municipality": "Emmen", "phase": "idea",
        "contact_email": "vraag@loket-bedrijf.example", "consent": True}},
    ("PATCH", "/api/v1/cases/{case_id}"): lambda world: {"json": {"articulated_question": "Route naar Defensie"}},
    ("POST", "/api/v1/cases/{case_id}/link"): lambda world: {"json": {"company_id": world.companies["own"]["id"]}},
    ("POST", "/api/v1/cases/{case_id}/profile"): lambda world: {"json": {
        "name": "Vraag Bedrijf BV", "kvk_number": company_payload()["kvk_number"], "consent": True}},
    ("POST", "/api/v1/cases/{case_id}/referrals"): lambda world: {"json": {"organisation": "ibdo"}},
    ("POST", "/api/v1/cases/{case_id}/programmes"): lambda world: {"json": {"need_id": world.needs["programme"]["id"]}},
    ("GET", "/api/v1/kpis"): lambda world: {"params": {"year": 2026}},
    ("GET", "/api/v1/kpis/export"): lambda world: {"params": {"year": 2026, "format": "xlsx"}},
}


def served_endpoints() -> set[tuple[str, str]]:
    """(method, path) for every route the application serves, routers' prefixes included."""
    app = create_app()
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)  # FastAPI >= 0.16x
    contexts = iter_contexts(app.routes) if iter_contexts else app.routes
    found = set()
    for context in contexts:
        route = getattr(context, "original_route", context)
        if not isinstance(route, Route):  # mounts (static files) have no methods
            continue
        for method in context.methods or ():
            if method != "HEAD":
                found.add((method, context.path_format))
    return found


def test_every_endpoint_has_a_row():
    served = served_endpoints()
    missing = sorted(served - MATRIX.keys())
    stale = sorted(MATRIX.keys() - served)
    assert not missing, (
        f"endpoints without a row in the authorisation matrix: {missing}; add one to MATRIX in {__file__} "
        "with the status each kind of caller must get"
    )
    assert not stale, f"rows for endpoints the app no longer serves: {stale}"


def test_matrix_statuses_are_documented_in_the_openapi_schema():
    schema = create_app().openapi()
    undocumented = []
    for (method, path), statuses in MATRIX.items():
        operation = schema["paths"].get(path, {}).get(method.lower())
        if operation is None:  # /docs and /openapi.json themselves are not in the schema
            continue
        undocumented += [(method, path, s) for s in set(statuses) if str(s) not in operation["responses"]]
    assert not undocumented, f"statuses the API gives but does not document: {undocumented}"


def _url(world: World, path: str) -> str:
    return path.format(
        company_id=world.companies["own"]["id"], need_id=world.needs["staff"]["id"], week=WORLD_WEEK, extension="csv",
        kolom="new", case_id=world.cases["asked"]["id"], step="toewijzen", year=2026,
    )


CELLS = [
    (method, path, caller, statuses[i])
    for (method, path), statuses in MATRIX.items()
    for i, caller in enumerate(CALLERS)
]


def _changes_data(cell: tuple[str, str, str, int]) -> bool:
    """A request that is let through and is not a read: it may change what other cells read."""
    method, _path, _caller, expected = cell
    return method != "GET" and expected < 300


def _ids(cells: list[tuple[str, str, str, int]]) -> list[str]:
    return [f"{m} {p} as {c}" for m, p, c, _ in cells]


CHANGING = [cell for cell in CELLS if _changes_data(cell)]
READING_OR_REFUSED = [cell for cell in CELLS if not _changes_data(cell)]


@pytest.mark.parametrize(("method", "path", "caller", "expected"), CHANGING, ids=_ids(CHANGING))
def test_status_of_each_change_let_through(client, world, method, path, caller, expected):
    """Each request that changes data gets a world of its own."""
    _check_cell(client, world, method, path, caller, expected)


@pytest.mark.tables_shared_by_class
class TestReadsAndRefusals:
    """Reads and refused requests change nothing another cell reads, so they share one world:
    building a world for each of these cells took most of this module's time."""

    @pytest.mark.parametrize(("method", "path", "caller", "expected"), READING_OR_REFUSED,
                             ids=_ids(READING_OR_REFUSED))
    def test_status(self, shared_client, shared_world, method, path, caller, expected):
        shared_client.cookies.clear()  # a page read by one cell may set a cookie: no cell sends another's
        _check_cell(shared_client, shared_world, method, path, caller, expected)


def _check_cell(client, world: World, method: str, path: str, caller: str, expected: int) -> None:
    request = BODIES.get((method, path), lambda _world: {})(world)
    response = client.request(
        method, _url(world, path), headers=world.headers(caller), follow_redirects=not path.startswith("/ui/"),
        **request,
    )
    assert response.status_code == expected, (
        f"{method} {path} as {caller}: expected {expected}, got {response.status_code}: {response.text[:300]}"
    )
    json_answer = response.headers.get("content-type", "").startswith("application/json") and response.content
    if json_answer and path != "/openapi.json":
        # A registration answers with the registrant's own contact details; nothing else of anyone.
        assert_no_personal_data(response.json(), world.forbidden_for(caller), personal_keys_allowed=True)
    else:
        assert_no_personal_data(response.text, world.forbidden_for(caller))
