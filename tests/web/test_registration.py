"""The public registration form: the API's validation and messages, each error beside its field,
typed values kept, the same answer for a new and a known KvK number (the edit link comes by mail),
the edit link shown once to an adviser, and the API's rate limit."""

import html as html_text
import re

from sqlmodel import select

from app.core.config import get_settings
from app.models import Company
from tests.factories import company_payload, edit_link_from_mail, mails_about, next_kvk
from tests.web.conftest import csrf_from, log_in


def form_fields(**overrides) -> dict:
    fields = {
        "name": "Veenstra Precisietechniek",
        "kvk_number": "87654321",
        "municipality": "Emmen",
        "description": "Verspanend toeleverancier: CNC-frezen en draaien van precisieonderdelen.",
        "capabilities": "CNC-frezen, draaien",
        "website": "",
        "employees": "12",
        "defence_experience": "none",
        "contact_name": "J. Veenstra",
        "contact_email": "info@veenstra.example.org",
        "contact_phone": "",
        "nld_areas": ["slimme-materialen"],
        "sectors": ["maakindustrie"],
        "consent": "ja",
    }
    fields.update(overrides)
    return {key: value for key, value in fields.items() if value is not None}


def submit(client, **overrides):
    token = csrf_from(client.get("/ui/aanmelden").text)
    return client.post(
        "/ui/aanmelden", data={**form_fields(**overrides), "csrf_token": token}, follow_redirects=False
    )


def test_each_error_appears_beside_its_field_in_dutch_and_typed_values_stay(web, session):
    response = submit(
        web, kvk_number="1234", contact_email="geen-adres", consent=None, municipality="Atlantis"
    )
    assert response.status_code == 422
    html = response.text
    for field, message in [
        ("kvk_number", "precies 8 cijfers"),
        ("contact_email", "geldig e-mailadres"),
        ("consent", "Zonder uw toestemming"),
        ("municipality", "Onbekende gemeente"),
    ]:
        error = re.search(rf'<p class="field-error" id="{field}-fout">(.*?)</p>', html, re.S)
        assert error and message in html_text.unescape(error.group(1)), field
        control = re.search(rf'<input id="{field}"[^>]*>', html).group(0)
        assert 'aria-invalid="true"' in control and f"{field}-fout" in control, field
    assert 'value="Veenstra Precisietechniek"' in html and "Verspanend toeleverancier" in html
    assert re.search(r'value="slimme-materialen" checked', html)
    assert "Controleer 4 velden" in html
    assert session.exec(select(Company)).first() is None


def test_a_fixed_form_registers_and_the_edit_link_comes_by_mail(web, session):
    kvk = next_kvk()
    assert submit(web, kvk_number="1234").status_code == 422
    response = submit(web, kvk_number=kvk)
    assert response.status_code == 303 and response.headers["location"] == "/ui/aangemeld"
    shown = web.get("/ui/aangemeld")
    assert "Aanmelding ontvangen" in shown.text and "per e-mail" in shown.text
    assert "kk_edit_" not in shown.text
    company = session.exec(select(Company).where(Company.kvk_number == kvk)).one()
    assert (
        company.source == "self"
        and company.capabilities == ["CNC-frezen", "draaien"]
        and company.employees == 12
    )
    [message] = mails_about(kvk)
    assert message["To"] == "info@veenstra.example.org"
    company_id, token = edit_link_from_mail(kvk)
    opened = web.get(f"/ui/bedrijf/{company_id}?token={token}")
    assert opened.status_code == 200 and "Veenstra Precisietechniek" in opened.text


def test_a_known_kvk_number_gets_the_same_page_and_its_company_a_mail(web, session):
    kvk = next_kvk()
    assert web.post("/api/v1/companies", json=company_payload(kvk_number=kvk)).status_code == 202
    response = submit(web, kvk_number=kvk, contact_email="iemand@anders.example")
    assert response.status_code == 303 and response.headers["location"] == "/ui/aangemeld"
    assert "Aanmelding ontvangen" in web.get("/ui/aangemeld").text
    first, notice = mails_about(kvk)
    assert notice["To"] == first["To"] == "info@veenstra.example.org"
    assert "geprobeerd" in notice.get_content()
    assert len(session.exec(select(Company)).all()) == 1


def test_an_adviser_sees_a_duplicate_kvk_number_beside_the_kvk_field(web, people):
    assert web.post("/api/v1/companies", json=company_payload(kvk_number="87654321")).status_code == 202
    assert log_in(web, people["adviser"]).status_code == 303
    response = submit(web)
    assert response.status_code == 409
    assert re.search(r'id="kvk_number-fout">.*already registered', response.text, re.S)


def test_registration_without_the_csrf_token_is_refused(web, session):
    web.get("/ui/aanmelden")
    response = web.post("/ui/aanmelden", data=form_fields())
    assert response.status_code == 403
    assert session.exec(select(Company)).first() is None


def test_markup_in_the_form_is_shown_as_text(web):
    response = submit(web, name="<script>alert(1)</script>", kvk_number="12")
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_an_adviser_registers_on_the_company_s_behalf(web, people, session):
    assert log_in(web, people["adviser"]).status_code == 303
    assert submit(web).status_code == 303
    assert "Met deze link bekijkt het bedrijf" in web.get("/ui/aangemeld").text
    assert session.exec(select(Company.source)).one() == "adviser"


def test_the_form_shares_the_api_rate_limit(web):
    settings = get_settings().model_copy(update={"registration_rate_limit": 2})
    web.app.dependency_overrides[get_settings] = lambda: settings
    try:
        assert web.post("/api/v1/companies", json=company_payload()).status_code == 202
        assert submit(web).status_code == 303
        refused = submit(web, kvk_number="11223344")
        assert refused.status_code == 429
        assert "Te veel pogingen" in refused.text and refused.headers["retry-after"]
    finally:
        web.app.dependency_overrides.clear()
