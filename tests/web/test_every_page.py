"""Every page, as every kind of visitor sees it, on a phone 390 px wide in Chromium: no horizontal
scrolling, no console errors (a CSP violation is one), and no axe-core violations."""

import re

import httpx
import pytest
from sqlmodel import Session, select

from app.core.db import get_engine
from app.models import LoketCase
from tests.factories import bearer, company_payload, need_payload
from tests.web.browser import PHONE, axe_violations, horizontal_overflow
from tests.web.test_e2e import NIGHT_VISION, log_in, staff

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only]

PUBLIC = ["/", "/ui/loket", "/ui/behoeften", "/ui/behoefte/{need}", "/ui/aanmelden", "/ui/inloggen", "/ui/link-kwijt",
          "/ui/aangemeld", "/ui/bestaat-niet"]
COMPANY = ["/", "/ui/bedrijf/{company}", "/ui/bedrijf/{company}/wijzigen", "/ui/bedrijf/{company}/verwijderen",
           "/ui/behoeften", "/ui/behoefte/{need}"]
STAFF = ["/ui/inbox", "/ui/zoeken?q=warmtebeeld+nachtzicht", "/ui/bedrijven", "/ui/bedrijf/{company}",
         "/ui/behoeften?soort=defence_need", "/ui/behoefte/{need}", "/ui/koppeling/{company}/{need}",
         "/ui/pipeline", "/ui/pipeline?status=triaged", "/ui/dashboard", "/ui/kpi", "/ui/loket", "/ui/bestaat-niet"]
DESK = [*STAFF, "/ui/bedrijf/{company}/wijzigen", "/ui/aanmelden", "/ui/weeklijst",
        "/ui/weeklijst?groep=bedrijf&passend=alle", "/ui/casussen", "/ui/casus/{case}"]
PAGES = {
    "anonymous": PUBLIC,
    "company": COMPANY,
    "adviser": DESK,
    "admin": DESK,
    "scout": [*STAFF, "/ui/weeklijst"],  # the weekly list answers scouts with its 403 page
    "regioteam": [*STAFF, "/ui/weeklijst", "/ui/weeklijst?groep=bedrijf&passend=alle"],
}


def seed_a_working_pipeline(server: str) -> dict:
    """Companies, needs (the adviser's own, so their inbox holds suggestions), a few worked matches
    (one of them with a long note) and a question at the loket."""
    token = staff("adviser", "anne")
    with httpx.Client(base_url=server, headers=bearer(token)) as api:
        company = api.post("/api/v1/companies", json=company_payload(
            name="Noordlicht Optiek en Warmtebeeldtechniek Zuidoost-Drenthe", municipality="Emmen",
            nld_areas=["sensoren"], description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's.",
            website="https://www.noordlicht-optiek-en-warmtebeeldtechniek.example.org/producten/nachtzicht")).json()
        others = [api.post("/api/v1/companies", json=company_payload(
            name=f"Optiekbedrijf {n}", municipality="Assen", description=NIGHT_VISION)).json() for n in range(3)]
        need = api.post("/api/v1/needs", json=need_payload(
            title="Nachtzicht en warmtebeeld voor voertuigen van de landmacht", description=NIGHT_VISION,
            nld_areas=["sensoren"])).json()
        for other in others:
            api.patch(f"/api/v1/matches/{other['id']}/{need['id']}", json={"status": "triaged"})
        api.patch(f"/api/v1/matches/{company['id']}/{need['id']}", json={
            "status": "triaged", "note": "Eerst bellen over levertijden; " + "zeer lange notitie " * 20})
        api.post("/api/v1/needs", json=need_payload(title="Warmtebeeld voor drones", description=NIGHT_VISION))
    with httpx.Client(base_url=server) as anonymous:
        asked = anonymous.post("/api/v1/questions", json={
            "text": "Wij maken warmtebeeldcamera's en willen die aan Defensie leveren. Wie helpt ons?",
            "municipality": "Emmen", "phase": "growth", "contact_email": "info@noordlicht.example.org",
            "consent": True})
    assert asked.status_code == 201, asked.text
    with Session(get_engine()) as db:
        case = db.exec(select(LoketCase).where(LoketCase.reference == asked.json()["reference"])).one()
    return {"company": company, "need": need, "token": token, "case": case.id}


def build_this_week(server: str, tab_for) -> None:
    staff("admin", "ada")
    tab = tab_for()
    log_in(tab, "ada", "**/ui/inbox")
    tab.goto("/ui/weeklijst")
    tab.get_by_role("button", name=re.compile("nu maken")).click()
    tab.get_by_role("link", name="Download CSV").wait_for()
    tab.context.close()


def check(tab, path: str) -> list[str]:
    tab.goto(path)
    if "/ui/inloggen" in tab.url and "inloggen" not in path:
        return [f"{path}: sent to the login page"]
    return check_here(tab, path)


@pytest.mark.parametrize("visitor", list(PAGES))
def test_every_page_fits_a_phone_and_passes_axe(visitor, tab_for, server):
    seeded = seed_a_working_pipeline(server)
    build_this_week(server, tab_for)
    ids = {"company": seeded["company"]["id"], "need": seeded["need"]["id"], "case": seeded["case"]}
    tab = tab_for(PHONE)
    if visitor == "company":
        tab.goto(f"/ui/bedrijf/{ids['company']}?token={seeded['company']['edit_token']}")
    elif visitor != "anonymous":
        username = {"adviser": "anne", "admin": "ada"}.get(visitor)
        if username is None:
            username = f"wie-{visitor}"
            staff(visitor, username)
        log_in(tab, username)
    problems = []
    for path in PAGES[visitor]:
        problems += check(tab, path.format(**ids))
    problems += pages_after_a_form(tab, visitor)
    assert not problems, "\n".join(problems)
    if visitor == "adviser":  # the inbox was checked holding suggestions, not only empty
        tab.goto("/ui/inbox")
        assert tab.locator(".suggestion").count() > 0


def pages_after_a_form(tab, visitor: str) -> list[str]:
    """The pages a form leads to: the loket's route (asked on the front page), a refused form with
    its errors, and what an adviser sees after registering a company on its behalf."""
    if visitor == "anonymous":
        tab.goto("/")
        tab.get_by_label("Uw vraag, suggestie of idee").fill(NIGHT_VISION)
        tab.get_by_role("button", name="Vraag stellen").click()
        assert tab.locator(".error-summary").count() == 1
        problems = check_here(tab, "the loket's form with its errors")
        tab.get_by_label("Gemeente van uw bedrijf").fill("Emmen")
        tab.get_by_label("Start-up: mijn bedrijf is net begonnen").check()
        tab.get_by_label("Uw e-mailadres").fill("info@optiek.example.org")
        tab.get_by_label("Ik geef toestemming om mijn vraag en e-mailadres te bewaren").check()
        tab.get_by_role("button", name="Vraag stellen").click()
        assert tab.locator("h1").inner_text() == "Uw route"
        return problems + check_here(tab, "the loket's route")
    if visitor == "adviser":
        tab.goto("/ui/aanmelden")
        tab.get_by_label("Bedrijfsnaam").fill("Drentse Nachtoptiek")
        tab.get_by_label("KvK-nummer").fill("87650009")
        tab.get_by_label("Gemeente").fill("Emmen")
        tab.get_by_label("Wat doet uw bedrijf?").fill(NIGHT_VISION)
        tab.get_by_label("E-mailadres").fill("info@nachtoptiek.example.org")
        tab.get_by_label("Ik geef toestemming om dit profiel op te slaan en te koppelen").check()
        tab.get_by_role("button", name="Aanmelden").click()
        assert "is aangemeld" in tab.locator("h1").inner_text()
        return check_here(tab, "registered on a company's behalf, with its edit link")
    return []


def check_here(tab, what: str) -> list[str]:
    overflow = horizontal_overflow(tab)
    problems = [f"{what}: {overflow} px wider than the phone"] if overflow > 0 else []
    return problems + [f"{what}: axe {violation}" for violation in axe_violations(tab)]
