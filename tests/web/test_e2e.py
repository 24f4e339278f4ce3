"""The web interface in a real browser (Debian's Chromium with Playwright, tests/web/browser.py): each
journey of a company, an adviser, a scout and the Regioteam, against the real server and a real SMTP
server, on a data directory of its own migrated from nothing."""

import io
import re
import zipfile
from datetime import date

import httpx
import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from app.core.db import get_engine
from app.services import match_lists
from app.web.dashboard import MONTHS
from tests.factories import bearer, company_payload, make_user, need_payload
from tests.web.conftest import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

NIGHT_VISION = "Nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen en infanterie."


def staff(role: str, username: str) -> str:
    """A staff member who logs in with PASSWORD; returns an API token of theirs."""
    with Session(get_engine()) as db:
        return make_user(db, role=role, username=username, password=PASSWORD)[1]


def seed(server: str, token: str) -> dict:
    """Companies and needs through the API, as an adviser."""
    with httpx.Client(base_url=server, headers=bearer(token)) as api:
        optics = api.post("/api/v1/companies", json=company_payload(
            name="Noordlicht Optiek", municipality="Noordenveld", nld_areas=["sensoren"], defence_experience="none",
            description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen."))
        api.post("/api/v1/companies", json=company_payload(
            name="Emmer Optronics", municipality="Emmen", nld_areas=["sensoren"], defence_experience="supplier",
            description="Warmtebeeldcamera's en nachtzicht voor Defensie, al jaren leverancier."))
        need = api.post("/api/v1/needs", json=need_payload(
            title="Nachtzicht voor voertuigen", description=NIGHT_VISION, nld_areas=["sensoren"]))
        api.post("/api/v1/needs", json=need_payload(
            title="Composieten voor drones", description="Lichtgewicht composieten voor drones en voertuigen."))
    assert optics.status_code == 201 and need.status_code == 201, (optics.text, need.text)
    return {"company": optics.json(), "need": need.json()}


def log_in(tab, username: str, then: str | None = None) -> None:
    """Logs in through the form and waits for the page it lands on (``then``: a URL pattern)."""
    tab.goto("/ui/inloggen")
    tab.get_by_label("Gebruikersnaam").fill(username)
    tab.get_by_label("Wachtwoord").fill(PASSWORD)
    tab.get_by_role("button", name="Inloggen").click()
    tab.wait_for_url(then or (lambda url: "/ui/inloggen" not in url))
    assert "Uitloggen" in tab.locator("header").inner_text()


def fill_registration(tab, *, name: str, kvk: str, email: str) -> None:
    tab.goto("/ui/aanmelden")
    tab.get_by_label("Bedrijfsnaam").fill(name)
    tab.get_by_label("KvK-nummer").fill(kvk)
    tab.get_by_label("Gemeente").fill("Emmen")
    tab.get_by_label("Wat doet uw bedrijf?").fill(
        "Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.")
    tab.get_by_label("Sensoren", exact=True).check()
    tab.get_by_label("E-mailadres").fill(email)
    tab.get_by_label("Defensie-partijen (scouts, Regioteam Defensie) mogen onze contactgegevens zien").check()
    tab.get_by_label("Ik geef toestemming om dit profiel op te slaan en te koppelen").check()
    tab.get_by_role("button", name="Aanmelden").click()


def mail_to(smtp, address: str, subject: str, timeout: float = 15.0):
    """The first message the test SMTP server received for ``address`` with ``subject``."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in smtp.messages:
            if message["To"] == address and message["Subject"] == subject:
                return message
        time.sleep(0.1)
    raise AssertionError(f"no mail '{subject}' for {address}: {[m['Subject'] for m in smtp.messages]}")


def test_a_company_registers_loses_its_link_gets_it_by_mail_edits_withdraws_consent_and_erases(
    tab_for, smtp, screenshots
):
    tab = tab_for()
    fill_registration(tab, name="Noordlicht Optiek", kvk="1234", email="info@noordlicht.example.org")
    assert "precies 8 cijfers" in tab.locator("#kvk_number-fout").inner_text()
    assert tab.locator("#kvk_number").get_attribute("aria-invalid") == "true"
    tab.locator("#kvk_number").fill("12345678")
    tab.get_by_role("button", name="Aanmelden").click()
    assert "Aanmelding ontvangen" in tab.locator("h1").inner_text()  # the edit link comes by e-mail
    first = mail_to(smtp, "info@noordlicht.example.org", "Uw aanmelding bij Koppelkans")
    assert "/ui/bedrijf/" in first.get_content()

    lost = tab_for()  # another browser, and the first e-mail is gone
    lost.goto("/")
    lost.get_by_role("link", name="Vraag een nieuwe aan").click()
    lost.get_by_label("KvK-nummer of e-mailadres").fill("12345678")
    lost.get_by_role("button", name="Stuur mij een link").click()
    assert "sturen wij binnen enkele minuten een e-mail" in lost.content()
    message = mail_to(smtp, "info@noordlicht.example.org", "Uw link naar Koppelkans")
    link = re.search(r"http://[^/\s]+(/ui/bedrijf/\d+\?token=\S+)", message.get_content()).group(1)
    lost.goto(link)
    assert lost.locator("h1").inner_text() == "Noordlicht Optiek"
    assert "token=" not in lost.url  # the token left the address bar

    lost.get_by_role("link", name="Profiel wijzigen").click()
    lost.get_by_label("Wat doet uw bedrijf?").fill("Wij maken warmtebeeldcamera's en lasersensoren voor drones.")
    lost.get_by_label("Aantal medewerkers").fill("25")
    lost.get_by_label("Stuur ons wekelijks een e-mail over nieuwe, sterk passende behoeften en calls").check()
    lost.get_by_role("button", name="Opslaan").click()
    assert "Het profiel is opgeslagen." in lost.locator(".notice-success").inner_text()
    assert "sterk passende behoeften: aan" in lost.locator("#weekmail").inner_text()
    assert "lasersensoren voor drones" in lost.locator(".description").inner_text()

    consent = lost.locator("#toestemming")
    assert "toegestaan" in consent.inner_text() and "niet toegestaan" not in consent.inner_text()
    consent.get_by_role("button", name="Toestemming intrekken").click()
    assert "niet toegestaan" in lost.locator("#toestemming").inner_text()
    lost.screenshot(path=str(screenshots / "company-self-service.png"), full_page=True)

    page_address = lost.url
    lost.get_by_role("link", name="Profiel verwijderen").click()
    lost.get_by_role("button", name="Ja, verwijder dit profiel").click()
    assert "Het profiel is verwijderd" in lost.locator("h1").inner_text()
    assert "Uw bewerkingslink werkt niet meer." in lost.locator(".notice-success").inner_text()
    lost.goto(page_address)  # the company's session ended with its profile
    assert "/ui/inloggen" in lost.url and "Noordlicht Optiek" not in lost.content()
    again = tab_for()
    assert again.goto(link).status == 404  # the link from the e-mail opens nothing any more
    assert "Dit bedrijf bestaat niet (meer)" in again.locator("main").inner_text()


def test_an_adviser_registers_for_a_company_stays_logged_in_accepts_adds_a_note_and_introduces(
    tab_for, server, smtp, screenshots
):
    token = staff("adviser", "anne")
    seed(server, token)
    tab = tab_for()
    log_in(tab, "anne", "**/ui/inbox")
    fill_registration(tab, name="Drentse Nachtoptiek", kvk="87650001", email="info@nachtoptiek.example.org")
    assert "Drentse Nachtoptiek is aangemeld" in tab.locator("h1").inner_text()
    assert "Uitloggen (anne)" in tab.locator("header").inner_text()  # still the adviser
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab.get_by_role("button", name="Kopieer link").click()
    # The clipboard is written asynchronously: wait for the status line to say it is done.
    expect(tab.locator("[data-copy-status]")).to_have_text("De link is gekopieerd.")
    copied = tab.evaluate("navigator.clipboard.readText()")
    assert re.search(r"/ui/bedrijf/\d+\?token=kk_edit_", copied) and copied == tab.get_by_label(
        "Bewerkingslink van het bedrijf").input_value()
    tab.get_by_role("button", name="Mail de link naar het bedrijf").click()
    assert "gemaild naar info@nachtoptiek.example.org" in tab.locator(".notice-success").inner_text()
    assert "Uitloggen (anne)" in tab.locator("header").inner_text()
    handover = mail_to(smtp, "info@nachtoptiek.example.org", "Uw bedrijf is aangemeld bij Koppelkans")
    edit_link = re.search(r"http://[^/\s]+(/ui/bedrijf/\d+\?token=\S+)", handover.get_content()).group(1)

    tab.get_by_role("link", name="Mijn koppelingen").click()
    suggestion = tab.locator(".suggestion", has_text="Drentse Nachtoptiek").filter(
        has_text="Nachtzicht voor voertuigen")
    suggestion.get_by_role("button", name="Oppakken").click()
    done = tab.locator(".suggestion-done")
    assert "met u als eigenaar" in done.inner_text()
    assert tab.evaluate("document.activeElement.getAttribute('role')") == "status"  # focus follows the answer
    done.get_by_role("link", name="Naar de koppeling").click()
    assert "Beoordeeld" in tab.locator(".summary-facts").inner_text()

    tab.get_by_label("Notitie", exact=True).fill("Intern: eerst de prijsstelling navragen")
    tab.get_by_role("button", name="Notitie opslaan").click()  # internal is the default
    assert "De interne notitie is opgeslagen." in tab.locator(".notice-success").inner_text()
    tab.get_by_label("Notitie", exact=True).fill("Wij bellen u deze week over een kennismaking.")
    tab.get_by_label("Ook het bedrijf, op zijn bedrijfspagina").check()
    tab.get_by_role("button", name="Notitie opslaan").click()
    for step in ("Introductie voorgesteld", "Toestemming gegeven", "Geïntroduceerd"):
        tab.get_by_label("Naar status").select_option(label=step)
        tab.get_by_role("button", name="Status wijzigen").click()
        assert step in tab.locator(".summary-facts").inner_text()
    timeline = tab.locator(".timeline").inner_text()
    assert "Intern: eerst de prijsstelling navragen" in timeline and "naar ‘Geïntroduceerd’" in timeline
    tab.screenshot(path=str(screenshots / "match-timeline.png"), full_page=True)

    tab.get_by_role("link", name="Dashboard").click()  # this month's column of the trend leads to the match
    this_month = f"{MONTHS[date.today().month - 1]} {date.today().year}"
    tab.get_by_role("link", name=f"{this_month}: 1 introductie").click()
    assert "werden geïntroduceerd" in tab.locator(".active-filters").inner_text()
    assert "Drentse Nachtoptiek" in tab.locator("#kolom-introduced-sectie").inner_text()

    company = tab_for()
    company.goto(edit_link)
    assert company.locator("h1").inner_text() == "Drentse Nachtoptiek"
    assert "Wij bellen u deze week" in company.locator("#kop-berichten + *").inner_text() or \
        "Wij bellen u deze week" in company.content()
    assert "prijsstelling" not in company.content()  # an internal note never reaches the company
    with company.expect_download() as exported:
        company.get_by_role("link", name="Mijn gegevens downloaden").click()
    data = exported.value.path().read_text()
    assert "Wij bellen u deze week" in data and "prijsstelling" not in data and "(adviser)" not in data


def test_a_scout_scouts_a_need(tab_for, server, screenshots):
    seeded = seed(server, staff("adviser", "anne"))
    staff("scout", "sven")
    tab = tab_for()
    log_in(tab, "sven", "**/ui/inbox")
    tab.get_by_role("link", name="Behoeften").first.click()
    tab.get_by_role("link", name="Nachtzicht voor voertuigen").click()
    matches = tab.locator("#koppelingen")
    # The test encoders rate Emmer Optronics a weak match: the scout asks for weak ones too.
    tab.get_by_label("Hoe passend").select_option("alle")
    matches.get_by_role("link", name="Emmer Optronics").wait_for()
    assert "Emmer Optronics" in matches.inner_text()
    tab.get_by_label("Nooit met Defensie gewerkt").check()
    matches.get_by_role("link", name="Emmer Optronics").wait_for(state="detached")
    assert "Noordlicht Optiek" in matches.inner_text()
    assert "nieuw_voor_defensie=true" in tab.url
    assert seeded["company"]["contact"]["email"] not in matches.inner_text()  # no consent to Defence contact
    tab.screenshot(path=str(screenshots / "need-scouting.png"), full_page=True)


def xlsx_strings(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as workbook:
        return workbook.read("xl/sharedStrings.xml").decode()


def test_the_regioteam_opens_the_weekly_list_filters_it_and_downloads_it_in_dutch(
    tab_for, server, screenshots
):
    seed(server, staff("adviser", "anne"))
    staff("regioteam", "rita")
    with httpx.Client(base_url=server) as anonymous:
        assert anonymous.get("/ui/weeklijst", follow_redirects=False).status_code == 303
    build_week_through_an_admin(tab_for)
    tab = tab_for()
    log_in(tab, "rita", "**/ui/weeklijst")  # the Regioteam lands on the weekly list
    week = match_lists.current_week(date.today())
    assert f"Weeklijst {week}" in tab.locator("h1").inner_text()
    assert tab.get_by_role("button", name=re.compile("nu maken")).count() == 0  # only admins build by hand
    tab.get_by_label("Groeperen").select_option(label="Per bedrijf")
    tab.get_by_label("Regio van het bedrijf").select_option("Zuidoost-Drenthe")
    tab.get_by_label("Hoe passend").select_option(label="Alle, ook zwak")
    tab.get_by_role("button", name="Filteren").click()
    groups = tab.locator(".weekly-group")
    assert "Emmer Optronics" in groups.first.inner_text()
    assert "Noordlicht Optiek" not in tab.locator("main").inner_text()
    with tab.expect_download() as csv_download:
        tab.get_by_role("link", name="Download CSV").click()
    csv_text = csv_download.value.path().read_text(encoding="utf-8-sig")
    assert "Emmer Optronics" in csv_text and "Leverancier van Defensie" in csv_text and "Defensiebehoefte" in csv_text
    assert "supplier" not in csv_text and "defence_need" not in csv_text and "Noordlicht" not in csv_text
    with tab.expect_download() as xlsx_download:
        tab.get_by_role("link", name="Download Excel (XLSX)").click()
    strings = xlsx_strings(xlsx_download.value.path().read_bytes())
    assert "Leverancier van Defensie" in strings and "nieuw" in strings and "supplier" not in strings
    tab.screenshot(path=str(screenshots / "weekly-list.png"), full_page=True)


def build_week_through_an_admin(tab_for) -> None:
    staff("admin", "ada")
    tab = tab_for()
    log_in(tab, "ada", "**/ui/inbox")
    tab.goto("/ui/weeklijst")
    tab.get_by_role("button", name=re.compile("nu maken")).click()
    tab.get_by_role("link", name="Download CSV").wait_for()


def test_the_board_keeps_keyboard_focus_on_the_moved_card(tab_for, server):
    token = staff("adviser", "anne")
    seeded = seed(server, token)
    company, need = seeded["company"], seeded["need"]
    with httpx.Client(base_url=server, headers=bearer(token)) as api:
        assert api.patch(f"/api/v1/matches/{company['id']}/{need['id']}", json={"note": "oppakken"}).status_code == 200
    tab = tab_for()
    log_in(tab, "anne", "**/ui/inbox")
    tab.goto("/ui/pipeline")
    card = tab.locator("#kolom-new-sectie .board-card", has_text="Noordlicht Optiek")
    card.locator("summary").focus()
    tab.keyboard.press("Enter")  # opens the move form
    card.get_by_label("Naar status").focus()
    card.get_by_label("Naar status").select_option("triaged")
    card.get_by_label("Notitie").focus()
    tab.keyboard.type("Past goed")
    card.get_by_role("button", name="Verplaatsen").focus()
    tab.keyboard.press("Enter")
    moved = tab.locator("#kolom-triaged-sectie .board-card", has_text="Noordlicht Optiek")
    moved.wait_for()
    # htmx focuses the [autofocus] link when the swap settles, a moment after the card shows.
    tab.wait_for_function("document.activeElement.closest('#kolom-triaged-sectie .board-card') !== null",
                          timeout=5000)
    focused = tab.evaluate("document.activeElement.closest('.board-card')?.innerText || ''")
    assert "Noordlicht Optiek" in focused and tab.evaluate(
        "document.activeElement.closest('section').id") == "kolom-triaged-sectie"
    assert "Verplaatst naar Beoordeeld" in tab.locator("#bord-melding").inner_text()
