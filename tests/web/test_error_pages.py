"""Every error a person can meet in the web interface is a page in the house style with a Dutch
sentence that says what to do; the API keeps its JSON."""

from fastapi.testclient import TestClient

from app.main import create_app
from tests.web.conftest import csrf_from, log_in
from tests.web.english import english_in
from tests.web.test_pages import register_api
from tests.web.test_work import night_vision_pair


def assert_dutch_page(response, status: int, *phrases: str) -> None:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<html lang="nl">' in html and f"Foutcode {status}" in html, html[:500]
    assert not english_in(html), english_in(html)
    for phrase in phrases:
        assert phrase in html, phrase


def test_unknown_addresses_get_a_dutch_404_page_and_the_api_keeps_json(web):
    assert_dutch_page(web.get("/ui/bestaat-niet"), 404, "Deze pagina bestaat niet", 'href="/"')
    assert_dutch_page(web.get("/bestaat-niet"), 404, "Niet gevonden")
    assert_dutch_page(web.post("/"), 405, "Ga terug naar de start")
    api = web.get("/api/v1/bestaat-niet")
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}


def test_the_front_page_explains_what_a_company_gets_and_what_happens_with_its_data(web):
    page = web.get("/")
    assert page.status_code == 200 and '<html lang="nl">' in page.text
    assert "Wat levert het u op?" in page.text and "Wat gebeurt er met uw gegevens?" in page.text
    assert 'href="/ui/aanmelden"' in page.text and 'href="/ui/link-kwijt"' in page.text


def test_service_errors_are_dutch_sentences_that_say_what_to_do(web, people, session):
    company, need = night_vision_pair(web, session)
    assert_dutch_page(web.get(f"/ui/bedrijf/{company['id']}", params={"token": "kk_edit_fout"}), 403,
                      "Vraag een nieuwe link aan via")
    assert log_in(web, people["scout"]).status_code == 303
    assert_dutch_page(web.get("/ui/bedrijf/99999"), 404, "Dit bedrijf bestaat niet (meer)")
    assert_dutch_page(web.get("/ui/behoefte/99999"), 404, "Deze behoefte bestaat niet")
    assert_dutch_page(web.get("/ui/weeklijst"), 403, "De weeklijst is voor het Regioteam")
    assert_dutch_page(web.get(f"/ui/behoefte/{need['id']}", params={"nld": "toverkunst"}), 422,
                      "Dit NLD-gebied kennen wij niet")
    assert_dutch_page(web.get("/ui/pipeline", params={"organisatie": "abc"}), 422,
                      "Het adres bevat een ongeldige waarde bij ‘organisatie’")
    page = web.get("/ui/pipeline")
    assert_dutch_page(web.post(f"/ui/pipeline/{company['id']}/{need['id']}", data={"status": "consented",
                                                                                   "csrf_token": "verlopen"}),
                      403, "Dit formulier is verlopen")
    refused = web.post(f"/ui/pipeline/{company['id']}/{need['id']}",
                       data={"status": "consented", "csrf_token": csrf_from(page.text)})
    assert refused.status_code == 422 and "Kies een van deze" in refused.text and not english_in(refused.text)
    web.cookies.clear()
    assert log_in(web, people["regioteam"]).status_code == 303
    assert_dutch_page(web.get("/ui/weeklijst/2026-W99.csv"), 422, "Deze week bestaat niet")
    assert_dutch_page(web.get("/ui/weeklijst/2020-W01.csv"), 404, "Voor week 2020-W01 is nog geen weeklijst")
    assert_dutch_page(web.get("/ui/weeklijst/2020-W01.pdf"), 422, "Kies een download als CSV")


def test_consent_needed_for_an_introduction_is_explained_in_dutch(web, people, session):
    company, need = night_vision_pair(web, session)
    assert log_in(web, people["adviser"]).status_code == 303
    url = f"/ui/koppeling/{company['id']}/{need['id']}"
    token = csrf_from(web.get(url).text)
    web.post(f"{url}/status", data={"status": "intro_proposed", "csrf_token": token})
    refused = web.post(f"{url}/status", data={"status": "consented", "csrf_token": token})
    assert refused.status_code == 422 and "Het bedrijf gaf nog geen toestemming" in refused.text
    assert not english_in(refused.text)


def test_a_crash_is_a_dutch_500_page_with_the_security_headers(people):
    app = create_app()

    @app.get("/ui/stuk", include_in_schema=False)
    def broken() -> None:
        raise RuntimeError("database exploded at /var/lib/x")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/ui/stuk")
        api = client.get("/api/v1/health-of-nothing")
    assert_dutch_page(response, 500, "Er ging bij ons iets mis", "Probeer het over een paar minuten opnieuw")
    assert "exploded" not in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert api.status_code == 404


def test_a_duplicate_registration_and_an_unknown_region_are_dutch(web, people):
    company = register_api(web)
    assert log_in(web, people["adviser"]).status_code == 303
    page = web.get("/ui/aanmelden")
    from tests.web.test_registration import form_fields

    taken = web.post("/ui/aanmelden", data={**form_fields(kvk_number=company["kvk_number"]),
                                            "csrf_token": csrf_from(page.text)})
    assert taken.status_code == 409 and "Er is al een bedrijf aangemeld met dit KvK-nummer" in taken.text
    assert not english_in(taken.text)
    assert_dutch_page(web.get("/ui/pipeline", params={"regio": "Atlantis"}), 422, "Deze regio kennen wij niet")
