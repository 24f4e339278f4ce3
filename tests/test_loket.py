"""The loket: a question gets its route at once (who helps, programmes for the phase, needs that
fit), is validated, rate-limited, and kept as a case only the desk reads."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import get_settings
from app.services.loket_rules import RulesError, get_rules, parse_rules, problems_in
from tests.factories import bearer
from tests.loket_fixtures import SEED_DIR, question, seeded_client


@pytest.fixture
def loket(tmp_path) -> Iterator[TestClient]:
    yield from seeded_client(tmp_path / "matching")


def ask(client: TestClient, **overrides: object) -> dict:
    response = client.post("/api/v1/questions", json=question(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def helper_slugs(answer: dict) -> list[str]:
    return [helper["organisation"]["slug"] for helper in answer["helpers"]]


def programme_titles(answer: dict) -> list[str]:
    return [programme["title"] for programme in answer["programmes"]]


def test_a_groningen_company_is_routed_to_grobusiness(loket):
    answer = ask(loket, municipality="Groningen", phase="growth",
                 text="Wij willen onze productie van composieten onderdelen voor drones opschalen en exporteren.")
    assert helper_slugs(answer)[0] == "grobusiness"
    assert "ibdo" not in helper_slugs(answer)  # IBDO is for the Drentse MKB
    first = answer["helpers"][0]
    assert "Groningen" in first["why"] and "Ynbusiness en Grobusiness" in first["why"]
    assert first["source"] == "004:285; 002:850-852"
    assert "Grobusiness" in answer["summary"] and answer["reference"] in answer["summary"]
    titles = programme_titles(answer)
    assert any("Founded" in title for title in titles)  # "doorgroei naar scale-ups"
    assert any("MIT" in title for title in titles)
    assert not any("MKB Advies Vouchers" in title for title in titles)  # a Drenthe-only programme
    assert answer["needs"], "open needs that fit the question"
    assert {need["fit"] for need in answer["needs"]} <= {"fair", "strong"}
    assert all(need["quote"] for need in answer["needs"])


def test_a_drenthe_start_up_is_routed_to_founded_and_ibdo(loket):
    answer = ask(loket, municipality="Emmen", phase="start-up",
                 text="Wij zijn een start-up die sensoren ontwikkelt voor detectietechnologie en monitoring.")
    assert helper_slugs(answer)[:2] == ["founded", "ibdo"]
    assert "start-up" in answer["helpers"][0]["why"]
    titles = programme_titles(answer)
    assert "Founded in the North - startup- en scale-up-ecosysteem" in titles
    assert "MKB Advies Vouchers" in titles
    assert answer["phase_label"] == "startfase"
    assert all(programme["why"] and programme["source"] for programme in answer["programmes"])
    assert answer["needs"]


def test_a_drenthe_companys_defence_question_goes_to_the_mkb_defensiedesk(loket):
    answer = ask(loket, municipality="Assen", phase="established",
                 text="Kunnen wij onze actieve gehoorbescherming leveren aan Defensie en militairen?")
    assert helper_slugs(answer)[0] == "mkb-defensiedesk"
    assert "mindbase-noord" in helper_slugs(answer)
    why = answer["helpers"][0]["why"]
    assert "defensie" in why and "‘Defensie’" in why and "bedrijven ondersteund bij pakken van kansen" in why
    titles = programme_titles(answer)
    assert "Productiviteitbooster en initiatieven voor de maakindustrie met koppelkansen defensie" in titles
    assert "MKB defensiedesk - ondersteuning bij kansen op het gebied van defensie" in titles
    assert answer["needs"]


def test_an_english_question_is_answered_in_dutch(loket):
    answer = ask(loket, municipality="Meppel", phase="idea",
                 text="We have an idea for lightweight composite frames for military drones. Who can help us?")
    assert helper_slugs(answer)[0] == "mkb-defensiedesk"
    assert answer["summary"].startswith("Dank voor uw vraag")
    assert answer["phase_label"] == "ideefase"


def test_closed_and_past_deadline_needs_are_not_suggested(loket, staff_tokens):
    text = "Wij bouwen warmtebeeldcamera's voor nachtzicht bij militaire voertuigen."
    headers = bearer(staff_tokens["adviser"])
    needs = (("Verlopen nachtzicht", {"deadline": "2020-01-01"}), ("Gesloten nachtzicht", {"status": "closed"}),
             ("Open nachtzicht", {}))
    for title, extra in needs:
        response = loket.post("/api/v1/needs", headers=headers, json={
            "title": title, "description": text, "kind": "call", **extra})
        assert response.status_code == 201
    titles = [need["title"] for need in ask(loket, text=text, municipality="Assen")["needs"]]
    assert "Open nachtzicht" in titles
    assert "Verlopen nachtzicht" not in titles and "Gesloten nachtzicht" not in titles


def test_outside_the_north_the_answer_says_no_desk_is_known(loket):
    answer = ask(loket, municipality="Utrecht", phase="growth", text="Wij zoeken financiering voor een nieuwe machine.")
    assert answer["helpers"] == []
    assert "noemen geen ondernemersloket voor uw regio" in answer["no_helper_note"]


def test_invalid_questions_are_refused_with_what_to_fix(loket, staff_tokens):
    response = loket.post("/api/v1/questions", json=question(
        text="kort", municipality="Atlantis", phase="scale-up", contact_email="geen-adres", consent=False,
        kvk_number="123"))
    assert response.status_code == 422
    messages = {item["loc"][-1]: item["msg"] for item in response.json()["detail"]}
    assert set(messages) == {"text", "municipality", "phase", "contact_email", "consent", "kvk_number"}
    assert "unknown municipality 'Atlantis'" in messages["municipality"]
    assert "'idea', 'start-up', 'growth' or 'established'" in messages["phase"]
    assert "consent must be true" in messages["consent"]
    assert "8 digits" in messages["kvk_number"]
    assert loket.post("/api/v1/questions", json=question(company="x")).status_code == 422
    assert loket.get("/api/v1/cases", headers=bearer(staff_tokens["adviser"])).json()["count"] == 0


def test_the_question_is_a_case_only_the_desk_reads(loket, staff_tokens):
    answer = ask(loket, contact_email="anna@bedrijf.example.org")
    assert loket.get("/api/v1/cases").status_code == 401
    assert loket.get("/api/v1/cases", headers=bearer(staff_tokens["scout"])).status_code == 403
    inbox = loket.get("/api/v1/cases", headers=bearer(staff_tokens["adviser"])).json()
    assert inbox["count"] == 1
    case = inbox["data"][0]
    assert case["reference"] == answer["reference"] and case["status"] == "new"
    assert case["contact_email"] == "anna@bedrijf.example.org"
    detail = loket.get(f"/api/v1/cases/{case['id']}", headers=bearer(staff_tokens["admin"])).json()
    assert detail["route"] == answer  # the desk reads the route the asker was given
    assert "anna@" not in str(answer)  # and the asker's answer does not echo the address


def test_questions_are_rate_limited_per_address(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPELKANS_REGISTRATION_RATE_LIMIT", "2")
    get_settings.cache_clear()
    try:
        for client in seeded_client(tmp_path / "matching"):
            statuses = [client.post("/api/v1/questions", json=question()).status_code for _ in range(3)]
            assert statuses == [201, 201, 429]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_seed_check_names_a_rule_that_refers_to_nothing():
    rules = get_rules()
    organisations = {desk.organisation for desk in rules.desks} | set(rules.defence_organisations)
    programmes = {rule.need for rule in rules.programme_rules()}
    assert problems_in(rules, organisations=organisations, programmes=programmes) == []
    problems = problems_in(rules, organisations=organisations - {"grobusiness"}, programmes=programmes)
    assert problems == ["loket.yaml, desk 2 (grobusiness): unknown organisation 'grobusiness'"]


def test_rules_lacking_a_phase_are_refused():
    text = (SEED_DIR / "loket.yaml").read_text(encoding="utf-8").replace("  growth:\n", "  groei:\n", 1)
    with pytest.raises(RulesError, match="phases"):
        parse_rules(text)
