"""The web interface in a real browser: Debian's Chromium driven by Playwright against the real
server (uvicorn on a free loopback port, in a thread of this process so it can use a small
deterministic matching engine), on its own data directory migrated from scratch."""

import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.services.matching import MatchingState
from tests.factories import bearer, company_payload, edit_link_from_mail, make_user, need_payload
from tests.web.conftest import PASSWORD, make_engine

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
NIGHT_VISION = "Nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen en infanterie."


def chromium_available() -> bool:
    if not CHROMIUM.exists():  # `make test` installs it first; try once more when run on its own
        subprocess.run([str(REPO / "scripts" / "install-browser.sh")], check=False, capture_output=True)
    return CHROMIUM.exists()


@pytest.fixture(scope="module")
def browser():
    if not chromium_available():
        pytest.skip("/usr/bin/chromium is missing and scripts/install-browser.sh could not install it")
    playwright_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def own_data_dir(tmp_path_factory) -> Iterator[Path]:
    """A data directory of its own for the server, migrated from nothing; the suite's is restored after."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    previous = os.environ.get("KOPPELKANS_DATA_DIR")
    os.environ["KOPPELKANS_DATA_DIR"] = str(data_dir)
    get_settings.cache_clear()
    get_engine.cache_clear()
    from app import migrate

    migrate.upgrade()
    yield data_dir
    get_engine().dispose()
    if previous is None:
        os.environ.pop("KOPPELKANS_DATA_DIR", None)
    else:
        os.environ["KOPPELKANS_DATA_DIR"] = previous
    get_settings.cache_clear()
    get_engine.cache_clear()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(own_data_dir, tmp_path) -> Iterator[str]:
    import uvicorn

    from app.main import create_app

    app = create_app(matching_state=MatchingState.ready_with(make_engine(tmp_path / "matching")))
    port = free_port()
    uvicorn_server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, name="e2e-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not uvicorn_server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("KOPPELKANS_SCREENSHOT_DIR", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser, server):
    context = browser.new_context(
        base_url=server, accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    csp_violations: list[str] = []
    tab.on(
        "console",
        lambda message: (
            csp_violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield tab
    context.close()
    assert not csp_violations, f"the page broke its own Content-Security-Policy: {csp_violations}"


def test_company_registers_with_a_bad_field_then_a_fixed_one(page, screenshots):
    page.goto("/ui/aanmelden")
    page.get_by_label("Bedrijfsnaam").fill("Noordlicht Optiek")
    page.get_by_label("KvK-nummer").fill("1234")
    page.get_by_label("Gemeente").fill("Emmen")
    page.get_by_label("Wat doet uw bedrijf?").fill(
        "Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's."
    )
    page.get_by_label("Sensoren").check()
    page.get_by_label("E-mailadres").fill("info@noordlicht.example.org")
    page.get_by_label("Ik geef toestemming om dit profiel op te slaan en te koppelen").check()
    page.get_by_role("button", name="Aanmelden").click()

    kvk = page.locator("#kvk_number")
    error = page.locator("#kvk_number-fout")
    assert "precies 8 cijfers" in error.inner_text()
    assert kvk.get_attribute("aria-invalid") == "true"
    assert "kvk_number-fout" in kvk.get_attribute("aria-describedby")
    assert page.locator(".error-summary").is_visible()
    # what was typed is kept
    assert page.locator("#name").input_value() == "Noordlicht Optiek"
    assert page.get_by_label("Sensoren").is_checked()
    assert page.get_by_label("Ik geef toestemming om dit profiel op te slaan en te koppelen").is_checked()
    page.screenshot(path=str(screenshots / "registration-error.png"), full_page=True)

    kvk.fill("12345678")
    page.get_by_role("button", name="Aanmelden").click()
    assert "Aanmelding ontvangen" in page.locator("h1").inner_text()
    assert "kk_edit_" not in page.content()  # the edit link comes by e-mail only
    company_id, token = edit_link_from_mail("12345678")
    page.goto(f"/ui/bedrijf/{company_id}?token={token}")
    assert page.locator("h1").inner_text() == "Noordlicht Optiek"
    assert "info@noordlicht.example.org" in page.content()  # its own contact details
    assert "token=" not in page.url  # the token left the address bar


def seed_through_the_api(server: str) -> dict:
    with Session(get_engine()) as db:
        make_user(db, role="adviser", username="anne", password=PASSWORD)
        _user, token = make_user(db, role="admin")
    with httpx.Client(base_url=server) as api:
        optics = api.post(
            "/api/v1/companies",
            headers=bearer(token),
            json=company_payload(
                name="Noordlicht Optiek",
                municipality="Noordenveld",
                nld_areas=["sensoren"],
                defence_experience="none",
                description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.",
            ),
        )
        api.post(
            "/api/v1/companies",
            headers=bearer(token),
            json=company_payload(
                name="Emmer Optronics",
                municipality="Emmen",
                nld_areas=["sensoren"],
                defence_experience="supplier",
                description="Warmtebeeldcamera's en nachtzicht voor Defensie, al jaren leverancier.",
            ),
        )
        api.post(
            "/api/v1/companies",
            headers=bearer(token),
            json=company_payload(
                name="Veenstra Composiet",
                municipality="Emmen",
                nld_areas=["slimme-materialen"],
                description="Lichtgewicht composieten frames voor drones en onbemande luchtvaartuigen.",
            ),
        )
        need = api.post(
            "/api/v1/needs",
            headers=bearer(token),
            json=need_payload(
                title="Nachtzicht voor voertuigen", description=NIGHT_VISION, nld_areas=["sensoren"]
            ),
        )
        api.post(
            "/api/v1/needs",
            headers=bearer(token),
            json=need_payload(
                title="Composieten voor drones",
                description="Lichtgewicht composieten voor drones en voertuigen.",
            ),
        )
    assert optics.status_code == 201 and need.status_code == 201
    return {"company": optics.json(), "need": need.json()}


def test_adviser_searches_opens_a_company_moves_its_match_and_downloads_the_weekly_csv(
    page, server, screenshots
):
    seeded = seed_through_the_api(server)

    page.goto("/ui/zoeken")  # staff pages send anonymous visitors to the login page and back
    assert "/ui/inloggen" in page.url
    page.get_by_label("Gebruikersnaam").fill("anne")
    page.get_by_label("Wachtwoord").fill(PASSWORD)
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url("**/ui/zoeken")

    page.get_by_label("Zoekterm of beschrijving").fill("warmtebeeldcamera nachtzicht")
    page.get_by_role("button", name="Zoeken").click()  # htmx swaps the results in
    results = page.locator("#resultaten")
    results.get_by_role("link", name="Noordlicht Optiek").wait_for()
    assert "Nachtzicht voor voertuigen" in results.inner_text()
    assert "q=warmtebeeldcamera" in page.url
    page.screenshot(path=str(screenshots / "search.png"), full_page=True)

    results.get_by_role("link", name="Noordlicht Optiek").click()
    page.wait_for_url(f"**/ui/bedrijf/{seeded['company']['id']}")
    first_match = page.locator(".match").first
    assert "Nachtzicht voor voertuigen" in first_match.inner_text()
    why = first_match.locator(".why").inner_text()
    assert "Uit het bedrijfsprofiel" in why and "Uit de behoefte" in why
    assert "Gedeelde termen" in why and "Gedeelde NLD-gebieden" in why and "Aandeel per signaal" in why
    assert first_match.locator("mark").count() > 0
    assert "Pipeline: Nieuw" in first_match.inner_text()
    page.screenshot(path=str(screenshots / "company-page.png"), full_page=True)

    # scouting on the need page: htmx replaces the list when the toggle changes
    page.goto(f"/ui/behoefte/{seeded['need']['id']}")
    matches = page.locator("#koppelingen")
    assert "Emmer Optronics" in matches.inner_text()
    page.get_by_label("Nooit met Defensie gewerkt").check()
    matches.get_by_role("link", name="Emmer Optronics").wait_for(state="detached")
    assert "Noordlicht Optiek" in matches.inner_text()
    assert "nieuw_voor_defensie=true" in page.url  # the filtered view has its own address
    page.screenshot(path=str(screenshots / "need-page-scouting.png"), full_page=True)

    # the pipeline: move the match from "Nieuw" to "Beoordeeld" with a note
    page.goto("/ui/pipeline")
    new_column = page.locator("section.board-column", has=page.locator("#kolom-new"))
    card = new_column.locator(".board-card", has_text="Noordlicht Optiek").filter(
        has_text="Nachtzicht voor voertuigen"
    )
    card.get_by_text("Status wijzigen").click()
    card.get_by_label("Naar status").select_option("triaged")
    card.get_by_label("Notitie").fill("Sterke kandidaat, bellen na de beurs")
    card.get_by_role("button", name="Verplaatsen").click()
    triaged = page.locator("section.board-column", has=page.locator("#kolom-triaged"))
    triaged.locator(".board-card", has_text="Noordlicht Optiek").wait_for()
    page.screenshot(path=str(screenshots / "pipeline.png"), full_page=True)

    # the weekly list: build this week's and download the CSV
    page.goto("/ui/weeklijst")
    page.get_by_role("button", name="nu opbouwen").click()
    page.get_by_role("link", name="Download CSV").wait_for()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download CSV").click()
    download = download_info.value
    target = screenshots / download.suggested_filename
    download.save_as(str(target))
    page.screenshot(path=str(screenshots / "weekly-list.png"), full_page=True)
    content = target.read_bytes()
    assert content.startswith("\ufeff".encode()) and b";" in content.splitlines()[0]
    assert b"Noordlicht Optiek" in content
    page.goto("/ui/dashboard")
    assert page.locator("svg.chart").count() == 3
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
