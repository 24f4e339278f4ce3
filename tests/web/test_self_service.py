"""A company keeps its own profile in the browser: every field, its consent to Defence contact, its
data as a download, erasure, and a lost edit link sent again to its registered address."""

import json
import re

from sqlmodel import select

from app.models import AuditEvent, Company, OutboxMail
from tests.factories import mails_to, register_company
from tests.web.conftest import csrf_from, log_in
from tests.web.test_registration import form_fields


def open_as_company(web, **overrides) -> dict:
    company = register_company(web, **overrides)
    assert web.get(f"/ui/bedrijf/{company['id']}", params={"token": company["edit_token"]}).status_code == 200
    return company


def test_a_company_edits_every_field_of_its_profile(web, session):
    company = open_as_company(web, name="Veenstra Precisie")
    form = web.get(f"/ui/bedrijf/{company['id']}/wijzigen")
    assert form.status_code == 200 and 'value="Veenstra Precisie"' in form.text
    assert 'id="kvk_number" name="kvk_number"' in form.text and " readonly" in form.text  # the desk corrects it
    fields = form_fields(name="Veenstra Precisietechniek BV", kvk_number="12312312", municipality="Assen",
                         description="Wij frezen en draaien titanium onderdelen voor de luchtvaart en defensie.",
                         capabilities="frezen, draaien, titanium", website="https://veenstra.example.org",
                         employees="40", defence_experience="indirect", contact_name="A. Veenstra",
                         contact_email="a.veenstra@veenstra.example.org", contact_phone="+31 592 111222",
                         nld_areas=["slimme-materialen", "sensoren"], sectors=["maakindustrie"],
                         consent_defence_contact="ja")
    saved = web.post(f"/ui/bedrijf/{company['id']}/wijzigen", data={**fields, "csrf_token": csrf_from(form.text)},
                     follow_redirects=False)
    assert saved.status_code == 303
    page = web.get(f"/ui/bedrijf/{company['id']}").text
    assert "Het profiel is opgeslagen." in page and "Veenstra Precisietechniek BV" in page
    session.expire_all()
    stored = session.get(Company, company["id"])
    assert (stored.kvk_number, stored.municipality, stored.employees, stored.defence_experience) == (
        company["kvk_number"], "Assen", 40, "indirect")
    assert stored.capabilities == ["frezen", "draaien", "titanium"] and stored.consent_defence_contact
    assert stored.website == "https://veenstra.example.org" and stored.contact_phone == "+31 592 111222"
    assert set(stored.nld_areas) == {"slimme-materialen", "sensoren"}


def test_a_wrong_edit_shows_dutch_errors_beside_the_fields_and_changes_nothing(web, people, session):
    company = open_as_company(web, name="Veenstra Precisie")
    other = register_company(web)
    form = web.get(f"/ui/bedrijf/{company['id']}/wijzigen")
    fields = form_fields(name="X", contact_email="geen-adres")
    refused = web.post(f"/ui/bedrijf/{company['id']}/wijzigen", data={**fields, "csrf_token": csrf_from(form.text)})
    assert refused.status_code == 422
    assert "Vul de bedrijfsnaam in" in refused.text and "Vul een geldig e-mailadres in" in refused.text
    web.cookies.clear()
    assert log_in(web, people["adviser"]).status_code == 303  # the desk may correct a KvK number
    form = web.get(f"/ui/bedrijf/{company['id']}/wijzigen")
    assert " readonly" not in form.text.split('id="kvk_number"')[1].split(">")[0]
    taken = web.post(f"/ui/bedrijf/{company['id']}/wijzigen",
                     data={**form_fields(kvk_number=other["kvk_number"]), "csrf_token": csrf_from(form.text)})
    assert taken.status_code == 422 and "Er is al een bedrijf aangemeld met dit KvK-nummer" in taken.text
    session.expire_all()
    assert session.get(Company, company["id"]).name == "Veenstra Precisie"


def test_another_company_cannot_open_the_edit_form(web):
    other = register_company(web)
    open_as_company(web)
    refused = web.get(f"/ui/bedrijf/{other['id']}/wijzigen")
    assert refused.status_code == 403 and "Alleen het bedrijf zelf, een adviseur of een beheerder" in refused.text


def test_consent_to_defence_contact_switches_on_and_off_and_a_scout_sees_the_difference(web, people, session):
    company = open_as_company(web, consent_defence_contact=False)
    page = web.get(f"/ui/bedrijf/{company['id']}").text
    assert "Contact door Defensie-partijen: <strong>niet toegestaan</strong>" in page
    token = csrf_from(page)
    given = web.post(f"/ui/bedrijf/{company['id']}/toestemming", data={"defensie_contact": "ja", "csrf_token": token})
    assert "Defensie-partijen mogen de contactgegevens nu zien" in given.text
    web.cookies.clear()
    assert log_in(web, people["scout"]).status_code == 303
    assert "info@veenstra.example.org" in web.get(f"/ui/bedrijf/{company['id']}").text
    web.cookies.clear()
    open_as_company_again = web.get(f"/ui/bedrijf/{company['id']}", params={"token": company["edit_token"]})
    withdrawn = web.post(f"/ui/bedrijf/{company['id']}/toestemming",
                         data={"defensie_contact": "nee", "csrf_token": csrf_from(open_as_company_again.text)})
    assert "De toestemming is ingetrokken" in withdrawn.text
    web.cookies.clear()
    assert log_in(web, people["scout"]).status_code == 303
    assert "info@veenstra.example.org" not in web.get(f"/ui/bedrijf/{company['id']}").text


def test_a_company_downloads_its_data_in_dutch_and_erases_its_profile(web, session):
    company = open_as_company(web, defence_experience="supplier")
    download = web.get(f"/ui/bedrijf/{company['id']}/export")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    data = json.loads(download.content)
    assert data["profile"]["defence_experience"] == "Leverancier van Defensie"
    assert data["profile"]["status"] == "actief" and "edit_token_hash" not in data["profile"]
    confirm = web.get(f"/ui/bedrijf/{company['id']}/verwijderen")
    assert "kan niet ongedaan worden gemaakt" in confirm.text
    erased = web.post(f"/ui/bedrijf/{company['id']}/verwijderen", data={"csrf_token": csrf_from(confirm.text)})
    assert erased.status_code == 200 and "Het profiel is verwijderd" in erased.text
    session.expire_all()
    assert session.get(Company, company["id"]) is None
    assert web.get(f"/ui/bedrijf/{company['id']}", follow_redirects=False).status_code == 303  # session ended
    assert session.exec(select(AuditEvent).where(AuditEvent.action == "erase")).one().subject_id == company["id"]


def test_a_lost_link_is_mailed_to_the_registered_address(web, session):
    company = register_company(web, contact_email="piet@noordlicht.example.org")
    form = web.get("/ui/link-kwijt")
    unknown = web.post("/ui/link-kwijt", data={"kvk_of_email": "99999999", "csrf_token": csrf_from(form.text)})
    known = web.post("/ui/link-kwijt", data={"kvk_of_email": company["kvk_number"], "csrf_token": csrf_from(form.text)})
    strip = lambda html: html.replace(company["kvk_number"], "").replace("99999999", "")  # noqa: E731
    assert strip(unknown.text) == strip(known.text)  # a stranger learns nothing about who is registered
    [queued] = session.exec(select(OutboxMail).where(OutboxMail.purpose == "edit_link_lost")).all()
    assert queued.company_id == company["id"]
    message = mails_to("piet@noordlicht.example.org", "Uw link naar Koppelkans")[-1]
    link = re.search(r"/ui/bedrijf/\d+\?token=\S+", message.get_content()).group(0)
    by_address = web.post("/ui/link-kwijt", data={"kvk_of_email": "Piet@Noordlicht.example.org",
                                                  "csrf_token": csrf_from(form.text)})
    assert by_address.status_code == 200
    assert len(session.exec(select(OutboxMail).where(OutboxMail.purpose == "edit_link_lost")).all()) == 2
    # Asking changes nothing stored: the company's own edit link still works, and so does the mailed one.
    assert web.get(f"/ui/bedrijf/{company['id']}", params={"token": company["edit_token"]}).status_code == 200
    web.cookies.clear()
    opened = web.get(link)
    assert opened.status_code == 200 and "Mijn bedrijf" in opened.text and "Profiel wijzigen" in opened.text
