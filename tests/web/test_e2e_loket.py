"""The loket in a real browser (Debian's Chromium through Playwright) against the real server on
the seed data: a company asks a question on the front page and reads its route; an adviser opens the case and the
consortium suggestions for an EDF call."""

import threading
import time
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from app.core.db import get_engine
from app.models import Need
from app.services.matching import MatchingState
from tests.factories import make_user
from tests.loket_fixtures import seeded_engine
from tests.web.browser import ConsoleWatch, free_port
from tests.web.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

EDF_CALL = "edf-2024-ls-ra-challenge-sens-radno"
QUESTION = ("Wij ontwikkelen lichtgewicht composieten frames voor drones en willen die aan Defensie leveren. "
            "Wie kan ons helpen?")


@pytest.fixture
def seeded_server(own_data_dir, tmp_path) -> Iterator[str]:  # noqa: F811
    import uvicorn

    from app.main import create_app

    state = MatchingState.ready_with(seeded_engine(tmp_path / "matching", demo=True))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(matching_state=state), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, name="e2e-loket-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def tab(browser, seeded_server):  # noqa: F811
    context = browser.new_context(base_url=seeded_server, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    watch = ConsoleWatch(page)
    yield page
    context.close()
    assert not watch.errors, f"the browser reported errors: {watch.errors}"


def test_a_company_asks_a_question_on_the_front_page_and_reads_its_route(tab, screenshots):  # noqa: F811
    tab.goto("/")
    assert tab.locator("h1").inner_text().startswith("Vind uw kans bij Defensie")
    tab.get_by_label("Uw vraag, suggestie of idee").fill(QUESTION)
    tab.get_by_label("Gemeente van uw bedrijf").fill("Emmen")
    tab.get_by_label("Start-up: mijn bedrijf is net begonnen").check()
    tab.get_by_label("Uw e-mailadres").fill("info@composiet.example.org")
    tab.get_by_role("button", name="Vraag stellen").click()
    assert "Controleer 1 veld" in tab.locator(".error-summary").inner_text()  # no consent yet
    assert tab.get_by_label("Uw vraag, suggestie of idee").input_value() == QUESTION
    tab.get_by_label("Ik geef toestemming om mijn vraag en e-mailadres te bewaren").check()
    tab.get_by_role("button", name="Vraag stellen").click()

    assert tab.locator("h1").inner_text() == "Uw route"
    helpers = tab.locator("#kop-wie + ol .route-item h3").all_inner_texts()
    assert helpers[0].startswith("MKB defensiedesk") and any("Founded" in h for h in helpers)
    assert "Waarom:" in tab.locator("#kop-wie + ol").inner_text()
    assert "Founded in the North" in tab.locator("section", has=tab.locator("#kop-regelingen")).inner_text()
    needs = tab.locator("section", has=tab.locator("#kop-behoeften")).inner_text()
    assert "past sterk" in needs or "past redelijk" in needs
    tab.screenshot(path=str(screenshots / "loket-route.png"), full_page=True)


def test_an_adviser_opens_the_case_and_the_consortia_for_a_call(tab, screenshots):  # noqa: F811
    with Session(get_engine()) as db:
        make_user(db, role="adviser", username="els", password=PASSWORD)
        call = db.exec(select(Need.id).where(Need.slug == EDF_CALL)).one()
    tab.goto("/ui/loket")
    tab.get_by_label("Uw vraag, suggestie of idee").fill(QUESTION)
    tab.get_by_label("Gemeente van uw bedrijf").fill("Assen")
    tab.get_by_label("Groei: mijn bedrijf groeit of wil opschalen").check()
    tab.get_by_label("Uw e-mailadres").fill("info@composiet.example.org")
    tab.get_by_label("Ik geef toestemming om mijn vraag en e-mailadres te bewaren").check()
    tab.get_by_role("button", name="Vraag stellen").click()
    reference = tab.locator(".reference").inner_text()

    tab.goto("/ui/inloggen")
    tab.get_by_label("Gebruikersnaam").fill("els")
    tab.get_by_label("Wachtwoord").fill(PASSWORD)
    tab.get_by_role("button", name="Inloggen").click()
    tab.get_by_role("link", name="Inbox loket").click()
    tab.get_by_role("link", name=reference).click()
    assert tab.locator("h1").inner_text() == f"Casus {reference}"
    assert "info@composiet.example.org" in tab.content()
    tab.get_by_label("Adviseur").select_option(label="els")
    tab.get_by_role("button", name="Toewijzen").click()
    assert "De adviseur is opgeslagen." in tab.locator(".notice").inner_text()
    assert "IBDO-traject sinds" in tab.locator(".meta").first.inner_text()
    tab.screenshot(path=str(screenshots / "loket-case.png"), full_page=True)

    tab.goto(f"/ui/behoefte/{call}")
    assert "gesloten" in tab.locator(".meta").first.inner_text()
    tab.get_by_label("Ook al is de call gesloten").check()
    tab.locator("#consortia-passend").select_option("alle")  # the test encoders rate the demo companies weak
    tab.get_by_role("button", name="Consortia voorstellen").click()
    first = tab.locator(".consortium").first
    first.wait_for()
    assert first.locator("h3").inner_text().startswith("Voorstel 1:")
    assert first.locator(".consortium-member").count() >= 2
    assert "gedekt door" in first.inner_text()
    first.locator("details summary").click()
    assert first.locator("details li").count() >= 1
    tab.screenshot(path=str(screenshots / "loket-consortia.png"), full_page=True)
