"""The loket's pages: the question form and its route, the desk's inbox and case page, the
consortium suggestions on a call's page and the KPI page with its downloads."""

import csv
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.main import create_app
from app.models import Need
from app.services.matching import MatchingState
from tests.loket_fixtures import seeded_engine
from tests.web.conftest import csrf_from, log_in

FORM = {"text": "Wij maken composieten frames voor drones en willen die aan Defensie leveren.",
        "municipality": "Emmen", "phase": "growth", "contact_email": "info@drones.example.org", "consent": "ja"}


@pytest.fixture
def site(tmp_path) -> Iterator[TestClient]:
    state = MatchingState.ready_with(seeded_engine(tmp_path / "matching", demo=True))
    with TestClient(create_app(matching_state=state), base_url="http://testserver") as client:
        yield client


def ask(client: TestClient, **fields: str):
    page = client.get("/ui/loket")
    return client.post("/ui/loket", data={**FORM, **fields, "csrf_token": csrf_from(page.text)},
                       follow_redirects=False)


def test_a_question_asked_in_the_form_shows_its_route(site):
    form = site.get("/ui/loket")
    assert form.status_code == 200 and 'action="/ui/loket"' in form.text and "Start-up" in form.text
    asked = ask(site)
    assert asked.status_code == 303 and asked.headers["location"] == "/ui/loket/antwoord"
    route = site.get("/ui/loket/antwoord").text
    assert "MKB defensiedesk" in route and "eerste aanspreekpunt" in route
    assert "Regelingen die passen bij uw fase (groeifase)" in route and "Founded in the North" in route
    assert "Behoeften en open calls die aansluiten" in route and "past " in route
    assert re.search(r"LK-[A-Z2-9]{4}-[A-Z2-9]{4}", route)
    with TestClient(site.app, base_url="http://testserver") as stranger:  # another browser sees nothing of it
        assert "geen vraag gesteld" in stranger.get("/ui/loket/antwoord").text


def test_the_form_says_in_dutch_what_to_fix(site):
    refused = ask(site, text="kort", municipality="Atlantis", phase="", contact_email="geen-adres", consent="",
                  kvk_number="12")
    assert refused.status_code == 422
    for message in ("10 tot 5.000 tekens", "Onbekende gemeente", "Kies de fase", "precies 8 cijfers",
                    "geldig e-mailadres", "Zonder uw toestemming"):
        assert message in refused.text
    assert "Atlantis" in refused.text  # what was typed comes back
    assert "String should" not in refused.text and "value is not" not in refused.text


def test_the_desk_works_the_case_in_its_inbox(site, people, session):
    ask(site)
    assert log_in(site, people["adviser"]).status_code == 303
    inbox = site.get("/ui/casussen")
    assert inbox.status_code == 200 and "Wij maken composieten frames" in inbox.text
    case_url = re.search(r'href="(/ui/casus/\d+)"', inbox.text).group(1)
    page = site.get(case_url)
    assert "info@drones.example.org" in page.text and "De route die de vrager kreeg" in page.text
    adviser_id = re.search(r'<option value="(\d+)">', page.text.split('id="adviseur"')[1]).group(1)
    token = csrf_from(page.text)
    assigned = site.post(f"{case_url}/toewijzen", data={"adviseur": adviser_id, "csrf_token": token})
    assert "De adviseur is opgeslagen." in assigned.text
    assert "De adviseur is opgeslagen." not in site.get(case_url).text  # said once
    no_consent = site.post(f"{case_url}/profiel", data={"naam": "Emmer Drones BV", "kvk": "44556677",
                                                        "csrf_token": token})
    assert "vink de toestemming van het bedrijf aan" in no_consent.text
    made = site.post(f"{case_url}/profiel", data={"naam": "Emmer Drones BV", "kvk": "44556677", "toestemming": "ja",
                                                  "csrf_token": token})
    assert "Het profiel van Emmer Drones BV is aangemaakt en gekoppeld" in made.text
    assert "IBDO-traject sinds" in made.text and "Emmer Drones BV</a>" in made.text


def test_the_inbox_is_for_the_desk_only(site, people):
    assert site.get("/ui/casussen", follow_redirects=False).status_code == 303  # to the login page
    log_in(site, people["scout"])
    refused = site.get("/ui/casussen")
    assert refused.status_code == 403 and "adviseurs en beheerders" in refused.text


def test_a_calls_page_suggests_consortia_and_marks_a_closed_call(site, people, session):
    call = session.exec(select(Need.id).where(Need.slug == "edf-2024-ls-ra-challenge-sens-radno")).one()
    log_in(site, people["adviser"])
    page = site.get(f"/ui/behoefte/{call}")
    assert "Consortia voorstellen" in page.text and "gesloten" in page.text
    refused = site.get(f"/ui/behoefte/{call}/consortia", headers={"HX-Request": "true"})
    assert "Toch tonen" in refused.text and "Voorstel 1" not in refused.text
    shown = site.get(f"/ui/behoefte/{call}/consortia", params={"gesloten": "true", "grootte": 3, "passend": "alle"},
                     headers={"HX-Request": "true"})
    assert "Voorstel 1:" in shown.text and "gedekt door" in shown.text and "dekt niemand in dit voorstel" in shown.text
    assert "Het beste bedrijf alleen" in shown.text


def test_the_kpi_page_and_its_downloads(site, people):
    log_in(site, people["regioteam"])
    page = site.get("/ui/kpi")
    assert page.status_code == 200 and "Jaarlijks 550 IBDO-trajecten met ondernemers" in page.text
    year = re.search(r'href="/ui/kpi/(\d{4})\.csv"', page.text).group(1)
    exported = site.get(f"/ui/kpi/{year}.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Maand" and len(rows) == 14
    assert site.get(f"/ui/kpi/{year}.pdf").status_code == 404


def test_a_stale_profile_is_marked_to_staff(site, people, session):
    from datetime import timedelta

    from app.models import Company, utcnow
    from tests.factories import register_company

    company = register_company(site, name="Stil Staal BV")
    row = session.get(Company, company["id"])
    row.updated_at = utcnow() - timedelta(days=400)
    session.add(row)
    session.commit()
    log_in(site, people["adviser"])
    assert "verouderd" in site.get(f"/ui/bedrijf/{company['id']}").text
    fresh = register_company(site, name="Vers Staal BV")
    assert "verouderd" not in site.get(f"/ui/bedrijf/{fresh['id']}").text
