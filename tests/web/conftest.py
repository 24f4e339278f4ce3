"""Fixtures for the web interface: an app with a small deterministic matching engine, people with
passwords, and a helper that logs a TestClient in through the login form (CSRF token included)."""

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.main import create_app
from app.matching.encoders import HashingEncoder
from app.matching.engine import MatchEngine
from app.services.matching import MatchingState
from app.web.templating import templates
from tests.factories import make_user
from tests.test_mail import Recorder
from tests.web import browser as browser_tools
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


# --- the browser tests -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """One Chromium for the browser tests of a file. Per file, not per run: Playwright's API runs
    an event loop in the test thread while it is open, and a later file in the same process
    (`make test` runs files in several) may start one of its own (asyncio.run)."""
    if not browser_tools.chromium_available():
        pytest.skip("/usr/bin/chromium is missing and scripts/install-browser.sh could not install it")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(browser_tools.CHROMIUM), args=browser_tools.CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def smtp() -> Iterator[Recorder]:
    """A real SMTP server (aiosmtpd) on a loopback port: the mail the browser tests' server sends."""
    from aiosmtpd.controller import Controller

    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=browser_tools.free_port())
    controller.start()
    recorder.port = controller.port  # type: ignore[attr-defined]
    yield recorder
    controller.stop()


@pytest.fixture(scope="module")
def own_data_dir(tmp_path_factory, smtp) -> Iterator[Path]:
    """A data directory of its own for the server, migrated from nothing, with mail going to the
    test SMTP server; the suite's settings are restored after."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    saved = {name: os.environ.get(name) for name in ("KOPPELKANS_DATA_DIR", "KOPPELKANS_SMTP_URL")}
    os.environ["KOPPELKANS_DATA_DIR"] = str(data_dir)
    os.environ["KOPPELKANS_SMTP_URL"] = f"smtp://127.0.0.1:{smtp.port}"
    get_settings.cache_clear()
    get_engine.cache_clear()
    from app import migrate

    migrate.upgrade()
    yield data_dir
    get_engine().dispose()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture
def server(own_data_dir, tmp_path) -> Iterator[str]:
    app = create_app(matching_state=MatchingState.ready_with(make_engine(tmp_path / "matching")))
    with browser_tools.running(app) as url:
        yield url


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("KOPPELKANS_SCREENSHOT_DIR", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def tab_for(browser, server):
    """Opens browser tabs (each its own cookies) on the server; every tab must end without console
    errors (a CSP violation is one)."""
    opened: list[tuple[object, browser_tools.ConsoleWatch]] = []

    def open_tab(viewport: dict | None = None):
        context = browser.new_context(base_url=server, accept_downloads=True,
                                      viewport=viewport or browser_tools.DESKTOP)
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        opened.append((context, browser_tools.ConsoleWatch(tab)))
        return tab

    yield open_tab
    errors = [error for _context, watch in opened for error in watch.errors]
    for context, _watch in opened:
        context.close()
    assert not errors, f"the browser reported errors: {errors}"


@pytest.fixture
def page(tab_for):
    return tab_for()
