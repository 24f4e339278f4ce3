"""Finding 1: a NUL byte (or any control character but tab and newline) in any text is refused with a
422 that names the field, on SQLite and PostgreSQL alike, in the API and the web forms; nothing is
half-written. CR LF (what a browser's textarea sends) counts as a newline."""

import pytest
from sqlmodel import select

from app.models import Company
from tests.factories import bearer, company_payload, need_payload
from tests.web.conftest import csrf_from

BAD = ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\r"]


def _names_the_field(response, field: str) -> None:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    text = detail if isinstance(detail, str) else " ".join(f"{item['loc']} {item['msg']}" for item in detail)
    assert field in text and "control character" in text, text


@pytest.mark.parametrize("character", BAD)
def test_registration_refuses_a_control_character_naming_the_field(client, session, character):
    response = client.post("/api/v1/companies", json=company_payload(name=f"Veen{character}stra BV"))
    _names_the_field(response, "name")
    assert session.exec(select(Company)).all() == []  # nothing half-written


@pytest.mark.parametrize("field", ["description", "contact_name", "website", "capabilities"])
def test_every_text_field_of_a_registration_is_checked(client, field):
    values = {"description": "Frezen en draaien\u0000 van precisieonderdelen.", "contact_name": "Piet\u0000",
              "website": "https://x.example/\u0000", "capabilities": ["frezen", "draai\u0000en"]}
    response = client.post("/api/v1/companies", json=company_payload(**{field: values[field]}))
    _names_the_field(response, field)


def test_tab_newline_and_crlf_are_text(client, staff_tokens):
    description = "Regel een\tmet tab.\r\nRegel twee: precisiewerk in aluminium."
    response = client.post("/api/v1/companies", json=company_payload(description=description),
                           headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "Regel een\tmet tab.\nRegel twee: precisiewerk in aluminium."


def test_an_anonymous_search_with_nul_is_refused(client):
    response = client.get("/api/v1/needs", params={"q": "drone\u0000"})
    _names_the_field(response, "q")


def test_login_with_nul_in_the_username_is_refused(client):
    response = client.post("/api/v1/auth/token", data={"username": "admin\u0000", "password": "x"})
    _names_the_field(response, "username")


def test_company_patch_and_need_post_refuse_nul(client, staff_tokens):
    adviser = bearer(staff_tokens["adviser"])
    company = client.post("/api/v1/companies", json=company_payload(), headers=adviser).json()
    response = client.patch(f"/api/v1/companies/{company['id']}", json={"description": "Nieuw\u0000 werk in staal."},
                            headers=adviser)
    _names_the_field(response, "description")
    response = client.post("/api/v1/needs", json=need_payload(title="Drones\u0000"), headers=adviser)
    _names_the_field(response, "title")


def test_pipeline_notes_and_search_bodies_refuse_nul(client, staff_tokens):
    admin = bearer(staff_tokens["admin"])
    response = client.post("/api/v1/search", json={"text": "drone\u0000", "target": "needs"}, headers=admin)
    _names_the_field(response, "text")
    response = client.patch("/api/v1/matches/1/1", json={"note": "bel\u0000 ze"}, headers=admin)
    _names_the_field(response, "note")


def test_path_parameters_are_checked_too(client, staff_tokens):
    response = client.get("/api/v1/match-lists/2026-W48%00", headers=bearer(staff_tokens["admin"]))
    _names_the_field(response, "week")


def test_the_web_registration_form_names_the_field_in_dutch(client, session):
    token = csrf_from(client.get("/ui/aanmelden").text)
    form = {**{k: v for k, v in company_payload().items() if isinstance(v, str)}, "consent": "ja",
            "csrf_token": token, "name": "Veen\u0000stra"}
    response = client.post("/ui/aanmelden", data=form)
    assert response.status_code == 422
    assert "bedrijfsnaam" in response.text and "stuurteken" in response.text
    assert session.exec(select(Company)).all() == []


def test_the_web_login_form_refuses_nul(client):
    token = csrf_from(client.get("/ui/inloggen").text)
    response = client.post("/ui/inloggen", data={"username": "ad\u0000min", "password": "x", "csrf_token": token})
    assert response.status_code == 422
    assert "username" in response.text and "stuurteken" in response.text


def test_the_web_question_form_says_which_field_holds_the_character(client):
    token = csrf_from(client.get("/ui/loket").text)
    response = client.post("/ui/loket", data={
        "text": "Wij maken\u0000 frames voor drones voor Defensie.", "municipality": "Emmen", "phase": "growth",
        "contact_email": "info@drones.example.org", "consent": "ja", "csrf_token": token})
    assert response.status_code == 422
    assert "stuurteken" in response.text and "‘uw vraag’" in response.text


def test_a_case_step_in_the_web_interface_says_which_field_holds_the_character(client, session):
    from app.models import LoketCase
    from tests.web.conftest import People, log_in

    asked = client.post("/api/v1/questions", json={
        "text": "Wij zoeken hulp om sensoren aan Defensie te leveren.", "municipality": "Assen",
        "phase": "growth", "contact_email": "dora@vraag-bedrijf.example", "consent": True})
    assert asked.status_code == 201, asked.text
    assert log_in(client, People(session)["adviser"]).status_code == 303
    case_url = f"/ui/casus/{session.exec(select(LoketCase)).one().id}"
    token = csrf_from(client.get(case_url).text)
    answered = client.post(f"{case_url}/antwoord", data={"antwoord": "Bel\u001b ons maandag.", "csrf_token": token})
    assert "stuurteken" in answered.text and "‘antwoord’" in answered.text
