"""The web pages through FastAPI's TestClient: who may see what, escaping, CSRF and the fallbacks."""

import re

from fastapi.testclient import TestClient

from tests.factories import bearer, make_user, need_payload, register_company
from tests.web.conftest import csrf_from, log_in

NIGHT_VISION = "Nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen en infanterie."


def register_api(client: TestClient, **overrides) -> dict:
    return register_company(client, **overrides)


def add_need(client: TestClient, session, **overrides) -> dict:
    _user, token = make_user(session, role="adviser")
    response = client.post("/api/v1/needs", json=need_payload(**overrides), headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


# --- logging in --------------------------------------------------------------------------------


def test_staff_pages_redirect_anonymous_visitors_to_the_login_page(web):
    for path in ("/ui/zoeken?q=drones", "/ui/bedrijf/1", "/ui/bedrijven", "/ui/inbox"):
        response = web.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/ui/inloggen?next=/ui/")


def test_htmx_requests_get_a_redirect_header_instead_of_a_login_fragment(web):
    response = web.get("/ui/zoeken?q=drones", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.headers["HX-Redirect"].startswith("/ui/inloggen")


def test_login_sets_a_signed_httponly_lax_cookie_and_logout_ends_it(web, people):
    response = log_in(web, people["adviser"])
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/zoeken"
    cookie = response.headers["set-cookie"]
    assert "kk_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain http here; https gets Secure
    page = web.get("/ui/zoeken")
    assert page.status_code == 200 and "Uitloggen (web-adviser)" in page.text
    out = web.post("/ui/uitloggen", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert web.get("/ui/zoeken", follow_redirects=False).status_code == 303


def test_cookie_is_secure_over_https(people, tmp_path):
    from app.main import create_app

    with TestClient(create_app(), base_url="https://testserver") as client:
        response = log_in(client, people["adviser"])
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_shows_an_error_linked_to_the_fields(web, people):
    response = log_in(web, people["adviser"], "wrong")
    assert response.status_code == 401
    assert "Onbekende gebruikersnaam of verkeerd wachtwoord" in response.text
    assert 'aria-describedby="login-fout"' in response.text
    assert web.get("/ui/zoeken", follow_redirects=False).status_code == 303


def test_a_forged_cookie_is_ignored(web, people):
    web.cookies.set("kk_session", "eyJ1aWQiOjF9.forged.signature", domain="testserver.local", path="/ui")
    assert web.get("/ui/zoeken", follow_redirects=False).status_code == 303


def test_login_refuses_a_post_without_the_csrf_token(web, people):
    web.get("/ui/inloggen")
    response = web.post(
        "/ui/inloggen", data={"username": people["adviser"], "password": "x"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "Dit formulier is verlopen" in response.text and "Laad de pagina opnieuw" in response.text


def test_logout_refuses_a_post_with_a_wrong_token(adviser_web):
    response = adviser_web.post("/ui/uitloggen", data={"csrf_token": "not-the-token"}, follow_redirects=False)
    assert response.status_code == 403
    assert adviser_web.get("/ui/zoeken").status_code == 200  # still logged in


def test_next_never_leaves_the_site(web, people):
    page = web.get("/ui/inloggen?next=//evil.example/x")
    assert "evil.example" not in page.text
    response = web.post(
        "/ui/inloggen",
        data={
            "username": people["adviser"],
            "password": "correct horse battery staple",
            "csrf_token": csrf_from(page.text),
            "next": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/ui/"


# --- every page: headers and markup --------------------------------------------------------------


def test_pages_are_dutch_accessible_and_load_only_local_assets(web):
    page = web.get("/ui/aanmelden")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="nl">' in html
    assert 'href="#inhoud"' in html and 'id="inhoud"' in html
    assert "/ui/static/htmx.min.js" in html and "/ui/static/koppelkans.css" in html
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)  # no CDN, no other host
    assert " style=" not in html and "<style" not in html and "<script>" not in html
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert web.get("/ui/static/htmx.min.js").status_code == 200
    assert web.get("/ui/static/koppelkans.css").status_code == 200


def test_every_labelled_input_has_its_label(web):
    html = web.get("/ui/aanmelden").text
    ids = set(re.findall(r'<(?:input|textarea|select)[^>]*\sid="([^"]+)"', html))
    labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', html))
    assert ids - {"bewerkingslink"} <= labelled


# --- search ------------------------------------------------------------------------------------


def test_search_finds_companies_and_needs_with_explanations(adviser_web, session):
    register_api(
        adviser_web,
        name="Noordlicht Optiek",
        municipality="Noordenveld",
        nld_areas=["sensoren"],
        description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.",
    )
    add_need(
        adviser_web,
        session,
        title="Nachtzicht voor voertuigen",
        description=NIGHT_VISION,
        nld_areas=["sensoren"],
    )
    # The test encoders rate these pairs weak: the page lists them when asked for every match.
    page = adviser_web.get("/ui/zoeken", params={"q": "warmtebeeldcamera nachtzicht", "passend": "alle"})
    assert page.status_code == 200
    assert "Noordlicht Optiek" in page.text and "Nachtzicht voor voertuigen" in page.text
    assert "<mark>" in page.text
    assert "nog niet beschikbaar" not in page.text
    fragment = adviser_web.get("/ui/zoeken", params={"q": "nachtzicht", "passend": "alle"},
                               headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Noordlicht Optiek" in fragment.text


def test_search_falls_back_to_text_with_a_visible_note_when_matching_is_off(web_plain, people, session):
    assert log_in(web_plain, people["adviser"]).status_code == 303
    register_api(
        web_plain, name="Noordlicht Optiek", description="Nachtzichtapparatuur voor voertuigen en meer."
    )
    page = web_plain.get("/ui/zoeken", params={"q": "nachtzicht"})
    assert "Zoeken op betekenis is nog niet beschikbaar" in page.text
    assert "Noordlicht Optiek" in page.text


# --- the company page --------------------------------------------------------------------------


def test_company_page_shows_profile_matches_and_explanations(adviser_web, session):
    company = register_api(
        adviser_web,
        name="Noordlicht Optiek",
        municipality="Noordenveld",
        nld_areas=["sensoren"],
        description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.",
    )
    need = add_need(
        adviser_web,
        session,
        title="Nachtzicht voor voertuigen",
        description=NIGHT_VISION,
        nld_areas=["sensoren"],
    )
    page = adviser_web.get(f"/ui/bedrijf/{company['id']}", params={"passend": "alle"})
    assert page.status_code == 200
    html = page.text
    assert "Noordlicht Optiek" in html and "Noordenveld" in html
    assert f'href="/ui/behoefte/{need["id"]}"' in html
    assert "Waarom deze koppeling" in html and "Uit de behoefte" in html and "Uit het bedrijfsprofiel" in html
    assert "Gedeelde NLD-gebieden" in html and "Sensoren" in html
    assert "<details" in html and "Details: aandeel per signaal" in html and "%" in html
    assert "Beide gaan over" in html  # the one-sentence summary
    assert "info@veenstra.example.org" in html  # advisers see contact details


def test_scout_sees_no_contact_details_without_consent(web, people, session):
    company = register_api(web, consent_defence_contact=False)
    assert log_in(web, people["scout"]).status_code == 303
    html = web.get(f"/ui/bedrijf/{company['id']}", params={"passend": "alle"}).text
    assert "info@veenstra.example.org" not in html and "+31 591 123456" not in html
    assert "alleen zichtbaar na toestemming" in html


def test_scout_sees_contact_details_after_consent(web, people):
    company = register_api(web, consent_defence_contact=True)
    assert log_in(web, people["scout"]).status_code == 303
    assert "info@veenstra.example.org" in web.get(f"/ui/bedrijf/{company['id']}").text


def test_company_description_is_escaped(adviser_web):
    company = register_api(
        adviser_web,
        name="<script>alert('naam')</script> BV",
        description="Wij maken <script>alert('x')</script> sensoren & <b>drones</b>.",
    )
    html = adviser_web.get(f"/ui/bedrijf/{company['id']}").text
    assert "<script>alert" not in html and "<b>drones</b>" not in html
    assert "&lt;script&gt;alert(" in html and "&amp;" in html


def test_company_opens_its_own_page_with_its_edit_link_and_no_other(web):
    own = register_api(web, name="Eigen Bedrijf")
    other = register_api(web, name="Ander Bedrijf")
    response = web.get(
        f"/ui/bedrijf/{own['id']}", params={"token": own["edit_token"]}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == f"/ui/bedrijf/{own['id']}"
    page = web.get(f"/ui/bedrijf/{own['id']}")
    assert (
        page.status_code == 200 and "Eigen Bedrijf" in page.text and "info@veenstra.example.org" in page.text
    )
    assert web.get(f"/ui/bedrijf/{other['id']}").status_code == 403
    assert web.get("/ui/zoeken", follow_redirects=False).status_code == 303  # a company is not staff
    wrong = web.get(f"/ui/bedrijf/{other['id']}", params={"token": own["edit_token"]}, follow_redirects=False)
    assert wrong.status_code == 403


def test_unknown_company_is_a_404_page(adviser_web):
    page = adviser_web.get("/ui/bedrijf/999999")
    assert page.status_code == 404 and "Niet gevonden" in page.text


# --- the need page -----------------------------------------------------------------------------


def test_need_page_ranks_companies_and_filters_for_scouting(adviser_web, session):
    register_api(
        adviser_web,
        name="Noordlicht Optiek",
        municipality="Noordenveld",
        defence_experience="none",
        nld_areas=["sensoren"],
        description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's.",
    )
    register_api(
        adviser_web,
        name="Emmer Optronics",
        municipality="Emmen",
        defence_experience="supplier",
        nld_areas=["sensoren"],
        description="Warmtebeeldcamera's en nachtzicht voor Defensie, al jaren.",
    )
    need = add_need(
        adviser_web, session, title="Nachtzicht", description=NIGHT_VISION, nld_areas=["sensoren"]
    )
    page = adviser_web.get(f"/ui/behoefte/{need['id']}", params={"passend": "alle"})
    assert page.status_code == 200
    assert "Noordlicht Optiek" in page.text and "Emmer Optronics" in page.text
    assert 'name="nieuw_voor_defensie"' in page.text
    scouting = adviser_web.get(
        f"/ui/behoefte/{need['id']}", params={"nieuw_voor_defensie": "true", "passend": "alle"},
        headers={"HX-Request": "true"}
    )
    assert "<html" not in scouting.text
    assert "Noordlicht Optiek" in scouting.text and "Emmer Optronics" not in scouting.text
    by_region = adviser_web.get(
        f"/ui/behoefte/{need['id']}", params={"regio": "Zuidoost-Drenthe", "passend": "alle"},
        headers={"HX-Request": "true"}
    )
    assert "Emmer Optronics" in by_region.text and "Noordlicht Optiek" not in by_region.text


def test_need_page_rejects_an_unknown_nld_area_with_a_page(adviser_web, session):
    need = add_need(adviser_web, session)
    page = adviser_web.get(f"/ui/behoefte/{need['id']}", params={"nld": "toverkunst"})
    assert page.status_code == 422 and "<html" in page.text


def test_need_page_without_matching_lists_filtered_companies_with_a_note(web_plain, people, session):
    assert log_in(web_plain, people["adviser"]).status_code == 303
    register_api(web_plain, name="Emmer Composiet", municipality="Emmen")
    need = add_need(web_plain, session)
    page = web_plain.get(f"/ui/behoefte/{need['id']}")
    assert "Rangschikken op inhoud is nog niet beschikbaar" in page.text and "Emmer Composiet" in page.text


def test_a_company_consents_to_an_introduction_which_releases_its_contact_to_a_scout(web, people, session):
    company = register_api(
        web,
        name="Noordlicht Optiek",
        consent_defence_contact=False,
        nld_areas=["sensoren"],
        description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.",
    )
    need = add_need(web, session, title="Nachtzicht", description=NIGHT_VISION, nld_areas=["sensoren"])
    web.get(f"/ui/bedrijf/{company['id']}", params={"token": company["edit_token"]})
    own = web.get(f"/ui/bedrijf/{company['id']}", params={"passend": "alle"})
    assert "Ja, stel ons voor" in own.text
    forged = web.post(f"/ui/bedrijf/{company['id']}/introductie/{need['id']}", data={"csrf_token": "x"})
    assert forged.status_code == 403
    response = web.post(
        f"/ui/bedrijf/{company['id']}/introductie/{need['id']}",
        data={"csrf_token": csrf_from(own.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "U gaf toestemming" in web.get(f"/ui/bedrijf/{company['id']}", params={"passend": "alle"}).text

    web.cookies.clear()
    assert log_in(web, people["scout"]).status_code == 303
    need_page = web.get(f"/ui/behoefte/{need['id']}", params={"passend": "alle"})
    assert "Noordlicht Optiek" in need_page.text
    assert "info@veenstra.example.org" in need_page.text  # released for this need
    assert (
        "info@veenstra.example.org" not in web.get(f"/ui/bedrijf/{company['id']}").text
    )  # no global consent
    assert (
        web.post(
            f"/ui/bedrijf/{company['id']}/introductie/{need['id']}/intrekken",
            data={"csrf_token": csrf_from(need_page.text)},
        ).status_code
        == 403
    )  # staff cannot consent or withdraw for a company


def test_scout_sees_no_contact_details_on_the_need_page_without_consent(web, people, session):
    register_api(web, name="Noordlicht Optiek", consent_defence_contact=False, description=NIGHT_VISION)
    need = add_need(web, session, title="Nachtzicht", description=NIGHT_VISION)
    assert log_in(web, people["scout"]).status_code == 303
    page = web.get(f"/ui/behoefte/{need['id']}")
    assert "Noordlicht Optiek" in page.text
    assert "info@veenstra.example.org" not in page.text and "J. Veenstra" not in page.text


def test_a_history_restore_gets_the_whole_page_not_a_fragment(adviser_web):
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert "<html" in adviser_web.get("/ui/zoeken", params={"q": "drones"}, headers=headers).text
