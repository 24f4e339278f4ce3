"""The pipeline board, the weekly list with its downloads, and the dashboard."""

from datetime import date

from sqlmodel import select

from app.models import Match, MatchEvent
from app.services import match_lists
from tests.web.conftest import csrf_from, log_in
from tests.web.test_pages import NIGHT_VISION, add_need, register_api


def seed_match(client, session):
    company = register_api(
        client,
        name="Noordlicht Optiek",
        municipality="Emmen",
        nld_areas=["sensoren"],
        description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.",
    )
    need = add_need(
        client, session, title="Nachtzicht voor voertuigen", description=NIGHT_VISION, nld_areas=["sensoren"]
    )
    return company, need


def test_looking_at_a_need_opens_no_pipeline_record(adviser_web, session):
    company, need = seed_match(adviser_web, session)
    need_page = adviser_web.get(f"/ui/behoefte/{need['id']}", params={"passend": "alle"})
    assert "Noordlicht Optiek" in need_page.text and "Pipeline:" not in need_page.text
    adviser_web.get(f"/ui/bedrijf/{company['id']}", params={"passend": "alle"})
    board = adviser_web.get("/ui/pipeline")
    assert board.status_code == 200 and "Noordlicht Optiek" not in board.text
    assert 'id="kolom-new"' in board.text and 'id="kolom-won"' in board.text
    assert session.exec(select(Match)).first() is None


def test_moving_a_match_records_an_event_and_moves_the_card(adviser_web, session):
    company, need = seed_match(adviser_web, session)
    adviser_web.get(f"/ui/behoefte/{need['id']}")
    board = adviser_web.get("/ui/pipeline")
    response = adviser_web.post(
        f"/ui/pipeline/{company['id']}/{need['id']}",
        data={"status": "triaged", "note": "Past goed <b>echt</b>", "csrf_token": csrf_from(board.text)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="bord"' in response.text
    triaged_column = response.text.split('id="kolom-triaged"')[1].split("</section>")[0]
    assert "Noordlicht Optiek" in triaged_column
    session.expire_all()
    match = session.exec(select(Match).where(Match.company_id == company["id"])).one()
    assert match.status == "triaged"
    event = session.exec(select(MatchEvent).where(MatchEvent.match_id == match.id)).one()
    assert event.to_status == "triaged" and event.note == "Past goed <b>echt</b>" and "adviser" in event.actor


def test_an_illegal_move_is_refused_with_the_allowed_ones(adviser_web, session):
    company, need = seed_match(adviser_web, session)
    adviser_web.get(f"/ui/behoefte/{need['id']}")
    token = csrf_from(adviser_web.get("/ui/pipeline").text)
    response = adviser_web.post(
        f"/ui/pipeline/{company['id']}/{need['id']}",
        data={"status": "won", "csrf_token": token},
        headers={"HX-Request": "true"},
    )
    assert "Niet verplaatst" in response.text
    assert "kan niet naar ‘Gewonnen’. Kies een van deze: Beoordeeld, Introductie voorgesteld" in response.text
    plain = adviser_web.post(
        f"/ui/pipeline/{company['id']}/{need['id']}", data={"status": "lost", "csrf_token": token}
    )
    assert plain.status_code == 422 and "Schrijf bij ‘Verloren’ in de notitie waarom" in plain.text
    assert "allowed" not in plain.text and "PipelineStatus" not in plain.text


def test_moving_without_the_csrf_token_is_refused(adviser_web, session):
    company, need = seed_match(adviser_web, session)
    adviser_web.get(f"/ui/behoefte/{need['id']}")
    response = adviser_web.post(f"/ui/pipeline/{company['id']}/{need['id']}", data={"status": "triaged"})
    assert response.status_code == 403
    session.expire_all()
    assert session.exec(select(Match)).first() is None


def test_weekly_list_page_shows_the_list_and_downloads_csv_and_xlsx(web, people, session):
    company, need = seed_match(web, session)
    assert log_in(web, people["regioteam"]).status_code == 303
    empty = web.get("/ui/weeklijst")
    assert empty.status_code == 200 and "Er is nog geen weeklijst" in empty.text
    assert "cron" not in empty.text and "nu maken" not in empty.text  # building by hand is for admins
    refused = web.post("/ui/weeklijst", data={"csrf_token": csrf_from(empty.text)})
    assert refused.status_code == 403 and "Alleen een beheerder" in refused.text
    web.cookies.clear()
    assert log_in(web, people["admin"]).status_code == 303
    page = web.get("/ui/weeklijst")
    built = web.post("/ui/weeklijst", data={"csrf_token": csrf_from(page.text)}, follow_redirects=True)
    week = match_lists.current_week(date.today())
    assert built.status_code == 200 and f"Weeklijst {week}" in built.text
    assert f"/ui/weeklijst/{week}.csv" in built.text
    assert "Noordlicht Optiek" in web.get("/ui/weeklijst", params={"passend": "alle"}).text
    csv = web.get(f"/ui/weeklijst/{week}.csv", params={"passend": "alle"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert (
        csv.content.startswith("\ufeff".encode())
        and b"behoefte;" in csv.content
        and b"Noordlicht Optiek" in csv.content
    )
    text = csv.content.decode("utf-8-sig")
    assert "Defensiebehoefte" in text and "nieuw" in text and "defence_need" not in text
    assert "attachment" in csv.headers["content-disposition"]
    xlsx = web.get(f"/ui/weeklijst/{week}.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_scouts_do_not_get_the_weekly_list(web, people):
    assert log_in(web, people["scout"]).status_code == 303
    assert web.get("/ui/weeklijst").status_code == 403
    assert web.get("/ui/weeklijst/2026-W01.csv").status_code == 403
    assert "Weeklijst" not in web.get("/ui/pipeline").text


def test_anonymous_visitors_are_sent_to_log_in_for_board_list_and_dashboard(web):
    for path in ("/ui/pipeline", "/ui/weeklijst", "/ui/weeklijst/2026-W01.csv", "/ui/dashboard"):
        assert web.get(path, follow_redirects=False).headers["location"].startswith("/ui/inloggen"), path


def test_dashboard_counts_worked_matches_with_bars_that_link_to_the_board(adviser_web, session):
    company, need = seed_match(adviser_web, session)
    page = adviser_web.get(f"/ui/behoefte/{need['id']}")
    assert "koppelingen" in adviser_web.get("/ui/dashboard").text and ">0<" in adviser_web.get("/ui/dashboard").text
    adviser_web.post(f"/ui/pipeline/{company['id']}/{need['id']}",
                     data={"status": "triaged", "csrf_token": csrf_from(page.text)})
    page = adviser_web.get("/ui/dashboard")
    assert page.status_code == 200
    assert "<strong>1</strong> koppeling," in page.text
    assert 'href="/ui/pipeline?nld=sensoren">Sensoren</a>' in page.text
    assert 'href="/ui/pipeline?regio=Zuidoost-Drenthe">Zuidoost-Drenthe</a>' in page.text
    assert 'href="/ui/pipeline?status=triaged">Beoordeeld</a>' in page.text
    assert 'class="trend"' in page.text and " style=" not in page.text
    board = adviser_web.get("/ui/pipeline", params={"nld": "sensoren"})
    assert "Noordlicht Optiek" in board.text
    assert "Noordlicht Optiek" not in adviser_web.get("/ui/pipeline", params={"nld": "ruimtetechnologie"}).text


def test_the_board_filters_on_the_month_a_match_was_introduced_and_refuses_a_month_that_does_not_exist(
    adviser_web, session
):
    company = register_api(adviser_web, name="Noordlicht Optiek", consent_defence_contact=True)
    need = add_need(adviser_web, session, title="Nachtzicht voor voertuigen", description=NIGHT_VISION)
    this_month = date.today().strftime("%Y-%m")
    assert "Noordlicht Optiek" not in adviser_web.get("/ui/pipeline", params={"maand": this_month}).text
    page = adviser_web.get(f"/ui/koppeling/{company['id']}/{need['id']}")
    for step in ("intro_proposed", "consented", "introduced"):
        moved = adviser_web.post(f"/ui/koppeling/{company['id']}/{need['id']}/status",
                                 data={"status": step, "csrf_token": csrf_from(page.text)})
        assert moved.status_code == 200, moved.text[:300]
    assert f'href="/ui/pipeline?maand={this_month}"' in adviser_web.get("/ui/dashboard").text
    board = adviser_web.get("/ui/pipeline", params={"maand": this_month})
    assert "Noordlicht Optiek" in board.text and "werden geïntroduceerd" in board.text
    assert "Noordlicht Optiek" not in adviser_web.get("/ui/pipeline", params={"maand": "2020-01"}).text
    refused = adviser_web.get("/ui/pipeline", params={"maand": "2026-13"})
    assert refused.status_code == 422 and "Deze maand bestaat niet" in refused.text
    assert adviser_web.get("/ui/pipeline", params={"maand": "november"}).status_code == 422
