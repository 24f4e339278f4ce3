"""Fixtures for the web interface: an app with a small deterministic matching engine, people with
passwords, and a helper that logs a TestClient in through the login form (CSRF token included)."""

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.main import create_app
from app.matching.encoders import HashingEncoder
from app.matching.engine import MatchEngine
from app.services.matching import MatchingState
from app.web.templating import templates
from tests.factories import make_user
from tests.web.english import english_in

PASSWORD = "correct horse battery staple"
# (page, median ms, slowest ms), filled by test_render_times and printed at the end of the run.
RENDER_TIMES: list[tuple[str, float, float]] = []
RENDER_TARGET_MS = 300
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_engine(folder) -> MatchEngine:
    return MatchEngine(folder, HashingEncoder(128, name="dense-test"), HashingEncoder(96, name="multi-test"))


def csrf_from(html: str) -> str:
    found = CSRF_INPUT.search(html)
    assert found, "the page has no CSRF token field"
    return found.group(1)


@pytest.fixture
def web(tmp_path) -> Iterator[TestClient]:
    """A client of the app with matching ready (hashing encoders: fast and deterministic)."""
    state = MatchingState.ready_with(make_engine(tmp_path / "matching"))
    with TestClient(create_app(matching_state=state), base_url="http://testserver") as client:
        yield client


@pytest.fixture
def web_plain() -> Iterator[TestClient]:
    """A client of the app with matching switched off (the pages fall back to text filters)."""
    with TestClient(create_app(), base_url="http://testserver") as client:
        yield client


class People:
    """Users with a password, created on first use (hashing is slow on purpose): people["adviser"]."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.names: dict[str, str] = {}

    def __getitem__(self, role: str) -> str:
        if role not in self.names:
            user, _token = make_user(self.session, role=role, username=f"web-{role}", password=PASSWORD)
            self.names[role] = user.username
        return self.names[role]


@pytest.fixture
def people(session: Session) -> People:
    return People(session)


def log_in(client: TestClient, username: str, password: str = PASSWORD):
    page = client.get("/ui/inloggen")
    return client.post(
        "/ui/inloggen",
        data={
            "username": username,
            "password": password,
            "csrf_token": csrf_from(page.text),
            "next": "/ui/zoeken",
        },
        follow_redirects=False,
    )


@pytest.fixture
def adviser_web(web: TestClient, people) -> TestClient:
    assert log_in(web, people["adviser"]).status_code == 303
    return web


@pytest.fixture(autouse=True)
def pages_speak_dutch(monkeypatch) -> Iterator[list[str]]:
    """Every page the web interface renders in a test (the browser tests' server included) that
    shows an error or a refusal is checked for the API's English messages and enum reprs."""
    rendered: list[str] = []
    original = templates.TemplateResponse

    def keep(*args, **kwargs):
        response = original(*args, **kwargs)
        context = kwargs.get("context") or (args[2] if len(args) > 2 else {})
        if response.status_code >= 400 or context.get("error") or context.get("errors") or context.get("message"):
            rendered.append(response.body.decode())
        return response

    monkeypatch.setattr(templates, "TemplateResponse", keep)
    yield rendered
    english = sorted({fragment for page in rendered for fragment in english_in(page)})
    assert not english, f"a page of the web interface showed the API's English: {english}"


def pytest_terminal_summary(terminalreporter) -> None:
    if not RENDER_TIMES:
        return
    terminalreporter.section("web page render times on the seeded data (target < 300 ms)")
    for label, median, slowest in RENDER_TIMES:
        flag = "" if slowest < RENDER_TARGET_MS else "  <-- over target"
        terminalreporter.write_line(f"{label:<40} median {median:7.1f} ms   slowest {slowest:7.1f} ms{flag}")
