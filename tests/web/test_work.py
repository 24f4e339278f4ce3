"""Working the matches in the browser's pages: the inbox, a match's page with its timeline, the
lists, and the rule that looking is not working."""

from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.db import get_engine
from app.main import create_app
from app.models import Company, Match, MatchDismissal, MatchEvent, Need, Organisation, User
from app.services import match_lists
from app.services.matching import MatchingState, documents_from_database
from app.services.seeding import load_seed
from tests.factories import bearer, make_user
from tests.web.conftest import csrf_from, log_in, make_engine
from tests.web.test_pages import NIGHT_VISION, add_need, register_api

SEED_DIR = Path(__file__).resolve().parents[2] / "seed"


def night_vision_pair(client, session) -> tuple[dict, dict]:
    company = register_api(client, name="Noordlicht Optiek", municipality="Emmen", nld_areas=["sensoren"],
                           description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor militaire "
                                       "voertuigen en infanterie.")
    need = add_need(client, session, title="Nachtzicht voor voertuigen", description=NIGHT_VISION,
                    nld_areas=["sensoren"])
    return company, need


def test_looking_at_every_page_and_building_a_list_opens_no_match_record(people, tmp_path):
    with Session(get_engine()) as db:
        load_seed(db, SEED_DIR, demo=True)
        engine = make_engine(tmp_path / "matching")
        engine.load_or_build(lambda side: list(documents_from_database(db, side)))
        company_ids = list(db.exec(select(Company.id)).all())
        need_ids = list(db.exec(select(Need.id)).all())
    with TestClient(create_app(matching_state=MatchingState.ready_with(engine))) as client:
        assert log_in(client, people["admin"]).status_code == 303
        for company_id in company_ids:
            assert client.get(f"/ui/bedrijf/{company_id}").status_code == 200
        for need_id in need_ids:
            assert client.get(f"/ui/behoefte/{need_id}").status_code == 200
        assert client.get(f"/ui/koppeling/{company_ids[0]}/{need_ids[0]}").status_code == 200
        assert client.get("/ui/inbox").status_code == 200
        page = client.get("/ui/weeklijst")
        assert client.post("/ui/weeklijst", data={"csrf_token": csrf_from(page.text)}).status_code == 200
        api = bearer(make_user(Session(get_engine()), role="adviser")[1])
        client.get(f"/api/v1/needs/{need_ids[0]}/matches", headers=api)
        client.get(f"/api/v1/companies/{company_ids[0]}/matches", headers=api)
        weekly = client.get("/ui/weeklijst", params={"passend": "alle"})
        assert weekly.status_code == 200 and "regels" in weekly.text
        board = client.get("/ui/pipeline").text
        dashboard = client.get("/ui/dashboard").text
    with Session(get_engine()) as db:
        assert db.exec(select(Match)).first() is None
        assert match_lists.weeks(db)  # the list was built
    assert "(0)" in board and "(1)" not in board
    assert "<strong>0</strong> koppelingen" in dashboard


def test_the_inbox_suggests_for_a_followed_need_and_accepting_makes_me_the_owner(web, people, session):
    company, need = night_vision_pair(web, session)
    assert log_in(web, people["adviser"]).status_code == 303
    page = web.get(f"/ui/behoefte/{need['id']}")
    web.post(f"/ui/behoefte/{need['id']}/volgen", data={"volgen": "ja", "csrf_token": csrf_from(page.text)})
    inbox = web.get("/ui/inbox")
    assert "Nachtzicht voor voertuigen" in inbox.text.split("In behandeling bij mij")[0]
    assert "Noordlicht Optiek" in inbox.text and "Oppakken" in inbox.text
    accepted = web.post(f"/ui/inbox/{company['id']}/{need['id']}/accepteren",
                        data={"csrf_token": csrf_from(inbox.text), "score": "0.8"}, headers={"HX-Request": "true"})
    assert accepted.status_code == 200 and "<html" not in accepted.text and "met u als eigenaar" in accepted.text
    session.expire_all()
    match = session.exec(select(Match)).one()
    adviser_id = session.exec(select(Match.owner_user_id)).one()
    assert match.status == "triaged" and adviser_id is not None and match.last_score == 0.8
    after = web.get("/ui/inbox").text
    suggestions, owned = after.split("In behandeling bij mij")
    assert "Noordlicht Optiek" not in suggestions and "Noordlicht Optiek" in owned  # no longer new, now mine


def test_dismissing_a_suggestion_records_not_relevant_with_the_reason(web, people, session):
    company, need = night_vision_pair(web, session)
    organisation = Organisation(slug="ibdo", name="IBDO")
    session.add(organisation)
    session.flush()
    adviser = session.exec(select(User).where(User.username == people["adviser"])).one()
    adviser.organisation_id = organisation.id
    session.add(adviser)
    session.commit()
    assert log_in(web, people["adviser"]).status_code == 303
    page = web.get(f"/ui/bedrijf/{company['id']}")
    web.post(f"/ui/bedrijf/{company['id']}/volgen", data={"volgen": "ja", "csrf_token": csrf_from(page.text)})
    inbox = web.get("/ui/inbox")
    assert "Nachtzicht voor voertuigen" in inbox.text
    dismissed = web.post(f"/ui/inbox/{company['id']}/{need['id']}/afwijzen",
                         data={"csrf_token": csrf_from(inbox.text), "reden": "Bedrijf levert dit niet"})
    assert "Niet relevant: Bedrijf levert dit niet" in dismissed.text
    session.expire_all()
    dismissal = session.exec(select(MatchDismissal)).one()  # for the adviser's organisation
    assert dismissal.reason == "Bedrijf levert dit niet" and dismissal.organisation_id == organisation.id
    assert "Nachtzicht voor voertuigen" not in web.get("/ui/inbox").text.split("In behandeling bij mij")[0]
    timeline = web.get(f"/ui/koppeling/{company['id']}/{need['id']}").text.split('id="tijdlijn"')[1]
    assert "Beoordeeld als niet relevant" in timeline and "Bedrijf levert dit niet" in timeline


def test_dismissing_without_an_organisation_says_what_to_do_in_dutch(web, people, session):
    company, need = night_vision_pair(web, session)
    assert log_in(web, people["adviser"]).status_code == 303
    page = web.get(f"/ui/bedrijf/{company['id']}")
    refused = web.post(f"/ui/inbox/{company['id']}/{need['id']}/afwijzen",
                       data={"csrf_token": csrf_from(page.text), "reden": "Past niet"}, headers={"HX-Request": "true"})
    assert "Uw account hoort nog bij geen organisatie" in refused.text
    assert session.exec(select(Match)).first() is None  # nothing half-written


def test_a_match_page_sets_the_owner_keeps_notes_and_shows_the_timeline(web, people, session):
    company, need = night_vision_pair(web, session)
    colleague, _ = make_user(session, role="adviser", username="bea", password="x" * 12)
    assert log_in(web, people["adviser"]).status_code == 303
    url = f"/ui/koppeling/{company['id']}/{need['id']}"
    page = web.get(url)
    assert page.status_code == 200 and "Nog niet aan gewerkt" in page.text and "Waarom deze koppeling" in page.text
    assert session.exec(select(Match)).first() is None  # looking opened nothing
    token = csrf_from(page.text)
    web.post(f"{url}/eigenaar", data={"eigenaar": str(colleague.id), "csrf_token": token})
    web.post(f"{url}/notitie", data={"note": "Bellen na de beurs", "csrf_token": token})
    web.post(f"{url}/status", data={"status": "triaged", "note": "", "csrf_token": token})
    refused = web.post(f"{url}/status", data={"status": "lost", "note": "", "csrf_token": token})
    assert refused.status_code == 422 and "Schrijf bij ‘Verloren’ in de notitie waarom" in refused.text
    page = web.get(url).text
    timeline = page.split('id="tijdlijn"')[1]
    assert "Eigenaar: bea" in timeline and "Bellen na de beurs" in timeline
    assert "Status van ‘Nieuw’ naar ‘Beoordeeld’" in timeline and "web-adviser" in timeline
    assert session.exec(select(MatchEvent)).all()
    session.add(organisation := Organisation(slug="ibdo", name="IBDO"))
    session.flush()
    adviser = session.exec(select(User).where(User.username == people["adviser"])).one()
    adviser.organisation_id = organisation.id
    session.add(adviser)
    session.commit()
    assert " checked" not in page.split('name="relevant"')[1].split("</fieldset>")[0]  # nothing judged for them
    unchosen = web.post(f"{url}/feedback", data={"reden": "Past bij de vraag", "csrf_token": token})
    assert unchosen.status_code == 422 and "Kies bij de beoordeling ‘Relevant’ of ‘Niet relevant’." in unchosen.text
    judged = web.post(f"{url}/feedback", data={"relevant": "ja", "reden": "Past bij de vraag", "csrf_token": token})
    assert "Gemarkeerd als relevant." in judged.text and "Beoordeeld als relevant" in judged.text


def test_lists_filter_sort_and_page(web, people, session):
    for number in range(30):
        register_api(web, name=f"Bedrijf {number:02d}", municipality="Emmen" if number % 2 else "Assen")
    add_need(web, session, title="Open call", kind="call")
    add_need(web, session, title="Programma X", kind="programme")
    needs = web.get("/ui/behoeften", params={"soort": "call"})  # anyone may read the needs
    assert needs.status_code == 200 and "Open call" in needs.text and "Programma X" not in needs.text
    assert web.get("/ui/bedrijven", follow_redirects=False).status_code == 303  # companies: staff only
    assert log_in(web, people["adviser"]).status_code == 303
    first = web.get("/ui/bedrijven")
    assert "30 bedrijven gevonden" in first.text and "Pagina 1 van 2" in first.text
    assert "Bedrijf 00" in first.text and "Bedrijf 29" not in first.text
    second = web.get("/ui/bedrijven", params={"pagina": 2})
    assert "Bedrijf 29" in second.text
    newest = web.get("/ui/bedrijven", params={"sorteer": "nieuwste"})
    assert newest.text.index("Bedrijf 29") < newest.text.index("Bedrijf 28")
    south_east = web.get("/ui/bedrijven", params={"regio": "Zuidoost-Drenthe"})
    assert "15 bedrijven gevonden" in south_east.text
    wrong = web.get("/ui/bedrijven", params={"regio": "Atlantis"})
    assert wrong.status_code == 422 and "Deze regio kennen wij niet" in wrong.text


def test_regioteam_lands_on_the_weekly_list_and_advisers_in_their_inbox(web, people):
    assert log_in(web, people["regioteam"]).status_code == 303
    assert web.get("/ui/", follow_redirects=False).headers["location"] == "/ui/weeklijst"
    web.cookies.clear()
    assert log_in(web, people["adviser"]).status_code == 303
    assert web.get("/ui/", follow_redirects=False).headers["location"] == "/ui/inbox"
