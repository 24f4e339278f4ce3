"""Working the matches: pipeline transitions, feedback, consent-gated introductions, scouting,
weekly lists and the dashboard."""

import csv
import io
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.main import create_app
from app.models import AuditEvent, MatchList
from app.services import match_lists
from app.services.matching import MatchingState
from tests.factories import bearer, company_payload, create_need, register_company
from tests.test_matching_api import NIGHT_VISION, make_engine


@pytest.fixture
def state(tmp_path) -> MatchingState:
    return MatchingState.ready_with(make_engine(tmp_path / "matching"))


@pytest.fixture
def mclient(state) -> Iterator[TestClient]:
    with TestClient(create_app(matching_state=state)) as test_client:
        yield test_client


@pytest.fixture
def pair(mclient, staff_tokens):
    company = register_company(mclient, name="Noordlicht Optiek", description=NIGHT_VISION, defence_experience="none")
    need = create_need(mclient, staff_tokens["regioteam"], title="Nachtzicht", description=NIGHT_VISION)
    return company, need


def move(client, token, company, need, **body):
    return client.patch(f"/api/v1/matches/{company['id']}/{need['id']}", json=body, headers=bearer(token))


def test_looking_at_matches_opens_match_records(mclient, staff_tokens, pair):
    company, need = pair
    items = mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(staff_tokens["adviser"])).json()["items"]
    assert items[0]["pipeline_status"] == "new"
    board = mclient.get("/api/v1/matches", headers=bearer(staff_tokens["adviser"])).json()
    assert board["count"] == 1 and board["data"][0]["company"]["id"] == company["id"]
    assert board["data"][0]["allowed_next"] == ["triaged", "intro_proposed", "parked", "lost"]


def test_a_match_walks_from_new_to_won_with_every_event_recorded(mclient, staff_tokens, pair):
    company, need = pair
    adviser = staff_tokens["adviser"]
    mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(adviser))
    assert move(mclient, adviser, company, need, status="triaged", note="Past goed bij de vraag").status_code == 200
    assert move(mclient, adviser, company, need, status="intro_proposed").status_code == 200
    consent = mclient.post(f"/api/v1/companies/{company['id']}/introductions/{need['id']}/consent",
                           headers={"X-Edit-Token": company["edit_token"]})
    assert consent.status_code == 200 and consent.json()["status"] == "consented"
    for step in ("introduced", "meeting", "pilot", "won"):
        response = move(mclient, adviser, company, need, status=step, note=f"naar {step}")
        assert response.status_code == 200, response.text
    detail = mclient.get(f"/api/v1/matches/{company['id']}/{need['id']}", headers=bearer(adviser)).json()
    assert detail["status"] == "won" and detail["allowed_next"] == []
    steps = [(e["from_status"], e["to_status"]) for e in detail["events"] if e["kind"] == "status"]
    assert steps == [("new", "triaged"), ("triaged", "intro_proposed"), ("intro_proposed", "consented"),
                     ("consented", "introduced"), ("introduced", "meeting"), ("meeting", "pilot"), ("pilot", "won")]
    actors = {e["actor"] for e in detail["events"]}
    assert f"company:{company['id']}" in actors and any(a.endswith("(adviser)") for a in actors)
    assert detail["events"][0]["note"] == "Past goed bij de vraag"
    exported = mclient.get(f"/api/v1/companies/{company['id']}/export",
                           headers={"X-Edit-Token": company["edit_token"]}).json()
    assert [m["status"] for m in exported["matches"]] == ["won"]
    assert len(exported["matches"][0]["events"]) == len(detail["events"])
    assert exported["introduction_consents"][0]["need_id"] == need["id"]


def test_illegal_transition_is_refused_naming_the_allowed_ones(mclient, staff_tokens, pair):
    company, need = pair
    response = move(mclient, staff_tokens["adviser"], company, need, status="won")
    assert response.status_code == 422
    assert "triaged, intro_proposed, parked, lost" in response.json()["detail"]
    unknown = move(mclient, staff_tokens["adviser"], company, need, status="gewonnen")
    assert unknown.status_code == 422
    assert "'won'" in json.dumps(unknown.json()["detail"])  # names the allowed values


def test_lost_and_parked_need_a_reason(mclient, staff_tokens, pair):
    company, need = pair
    assert move(mclient, staff_tokens["adviser"], company, need, status="lost").status_code == 422
    parked = move(mclient, staff_tokens["adviser"], company, need, status="parked", note="Pas in 2027 relevant")
    assert parked.json()["closing_reason"] == "Pas in 2027 relevant"


def test_consented_requires_the_company_s_consent(mclient, staff_tokens, pair):
    company, need = pair
    move(mclient, staff_tokens["adviser"], company, need, status="intro_proposed")
    response = move(mclient, staff_tokens["adviser"], company, need, status="consented")
    assert response.status_code == 422 and "not consented" in response.json()["detail"]


def test_scout_sees_contact_details_only_after_consent_and_it_is_audited(mclient, staff_tokens, pair, session):
    company, need = pair
    scout = bearer(staff_tokens["scout"])
    before = mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=scout).json()["items"][0]["company"]
    assert before["contact"] is None and before["description"] == company["description"]
    assert "info@veenstra.example.org" not in mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=scout).text
    other_token = register_company(mclient, name="Ander")["edit_token"]
    refused = mclient.post(f"/api/v1/companies/{company['id']}/introductions/{need['id']}/consent",
                           headers={"X-Edit-Token": other_token})
    assert refused.status_code == 403
    consented = mclient.post(f"/api/v1/companies/{company['id']}/introductions/{need['id']}/consent",
                             headers={"X-Edit-Token": company["edit_token"]})
    assert consented.status_code == 200
    after = mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=scout).json()["items"][0]["company"]
    assert after["contact"]["email"] == "info@veenstra.example.org"
    releases = session.exec(select(AuditEvent).where(AuditEvent.action == "read_contact",
                                                     AuditEvent.subject_id == company["id"])).all()
    assert any(e.actor.endswith("(scout)") and e.detail == f"need {need['id']}" for e in releases)
    # The consent holds for this introduction only, not for the company's profile in general.
    profile = mclient.get(f"/api/v1/companies/{company['id']}", headers=scout).json()
    assert profile["contact"] is None
    withdrawn = mclient.delete(f"/api/v1/companies/{company['id']}/introductions/{need['id']}/consent",
                               headers={"X-Edit-Token": company["edit_token"]})
    assert withdrawn.status_code == 204
    again = mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=scout).json()["items"][0]["company"]
    assert again["contact"] is None


def test_not_relevant_feedback_keeps_a_match_out_of_results_and_lists(mclient, staff_tokens, pair, state, session):
    """An admin's feedback counts for everyone (an organisation's own: tests/security/test_need_ownership.py)."""
    company, need = pair
    admin, adviser = bearer(staff_tokens["admin"]), bearer(staff_tokens["adviser"])
    feedback = mclient.post(f"/api/v1/matches/{company['id']}/{need['id']}/feedback",
                            json={"relevant": False, "reason": "Levert alleen civiel"}, headers=admin)
    assert feedback.status_code == 200 and feedback.json()["relevant"] is False
    assert mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=adviser).json()["items"] == []
    match_list, _ = match_lists.build(session, state.engine, "2026-W48")
    session.commit()
    assert all(line["company_id"] != company["id"] for line in json.loads(match_list.content)["lines"])


def test_scouting_finds_companies_new_to_defence_newest_first_among_equals(mclient, staff_tokens):
    same = "Warmtebeeldcamera's en nachtzichtkijkers voor bewaking van terreinen."
    older = register_company(mclient, name="Oud Optiek", description=same, defence_experience="none")
    newer = register_company(mclient, name="Nieuw Optiek", description=same, defence_experience="none")
    register_company(mclient, name="Leverancier Optiek", description=same, defence_experience="supplier")
    need = create_need(mclient, staff_tokens["adviser"], title="Bewaking", description=same)
    items = mclient.get(f"/api/v1/needs/{need['id']}/scouting", headers=bearer(staff_tokens["scout"])).json()["items"]
    assert [i["company"]["id"] for i in items] == [newer["id"], older["id"]]


def build_week(state, session, week):
    match_list, built = match_lists.build(session, state.engine, week)
    session.commit()
    return match_list, built


def fetch(client, token, week, fmt):
    response = client.get(f"/api/v1/match-lists/{week}", params={"format": fmt}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.content


def test_weekly_list_is_stable_and_compares_with_the_week_before(mclient, staff_tokens, pair, state, session):
    company, need = pair
    first, built = build_week(state, session, "2026-W47")
    assert built
    lines = json.loads(first.content)["lines"]
    assert {line["change"] for line in lines} == {"new"}
    assert {(line["direction"], line["company_id"], line["need_id"]) for line in lines} == {
        ("behoefte→bedrijf", company["id"], need["id"]), ("bedrijf→behoefte", company["id"], need["id"])}
    token = staff_tokens["regioteam"]
    snapshots = {fmt: fetch(mclient, token, "2026-W47", fmt) for fmt in ("json", "csv", "xlsx")}

    # Later changes do not change a stored list; building the same week again changes nothing.
    newcomer = register_company(mclient, name="Nieuwkomer Optiek", description=NIGHT_VISION)
    _, rebuilt = build_week(state, session, "2026-W47")
    assert rebuilt is False
    for fmt, content in snapshots.items():
        assert fetch(mclient, token, "2026-W47", fmt) == content, fmt
        assert fetch(mclient, token, "2026-W47", fmt) == content, fmt

    second, _ = build_week(state, session, "2026-W48")
    changes = {(line["direction"], line["company_id"]): line["change"] for line in json.loads(second.content)["lines"]}
    assert changes[("behoefte→bedrijf", newcomer["id"])] == "new"
    assert changes[("behoefte→bedrijf", company["id"])] in ("unchanged", "changed")

    mclient.delete(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]})
    third, _ = build_week(state, session, "2026-W49")
    gone = [line for line in json.loads(third.content)["lines"] if line["company_id"] == company["id"]]
    assert gone and {line["change"] for line in gone} == {"gone"}


def test_csv_opens_as_columns_and_neutralises_formulas(mclient, staff_tokens, state, session):
    register_company(mclient, name="=HYPERLINK(\"http://x\")", description=NIGHT_VISION)
    create_need(mclient, staff_tokens["adviser"], title="+nachtzicht", description=NIGHT_VISION)
    build_week(state, session, "2026-W47")
    raw = fetch(mclient, staff_tokens["adviser"], "2026-W47", "csv")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    header = rows[0]
    assert header[:4] == ["week", "richting", "wijziging", "behoefte_id"] and len(set(map(len, rows))) == 1
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=HYPERLINK(\"http://x\")" in cells and "'+nachtzicht" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    assert all("," in row[header.index("score")] for row in rows[1:])  # decimal comma for Dutch Excel


def test_lists_are_for_regioteam_and_desk_only(mclient, staff_tokens, state, session):
    build_week(state, session, "2026-W47")
    company = register_company(mclient)
    url = "/api/v1/match-lists/2026-W47"
    assert mclient.get(url).status_code == 401
    assert mclient.get(url, headers={"X-Edit-Token": company["edit_token"]}).status_code == 401
    assert mclient.get(url, headers=bearer(staff_tokens["scout"])).status_code == 403
    for role in ("regioteam", "adviser", "admin"):
        assert mclient.get(url, headers=bearer(staff_tokens[role])).status_code == 200
    assert mclient.get("/api/v1/match-lists/2026-W99", headers=bearer(staff_tokens["admin"])).status_code == 422
    assert mclient.get("/api/v1/match-lists/2020-W01", headers=bearer(staff_tokens["admin"])).status_code == 404
    assert mclient.get("/api/v1/match-lists", headers=bearer(staff_tokens["regioteam"])).json()[0]["week"] == "2026-W47"


def test_erasure_redacts_the_company_from_stored_lists(mclient, staff_tokens, pair, state, session):
    company, _ = pair
    build_week(state, session, "2026-W47")
    mclient.delete(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]})
    session.expire_all()
    content = session.exec(select(MatchList)).one().content
    assert "Noordlicht Optiek" not in content and "[verwijderd bedrijf]" in content


def test_dashboard_counts(mclient, staff_tokens, pair):
    company, need = pair
    adviser = staff_tokens["adviser"]
    mclient.post("/api/v1/companies", json=company_payload(), headers=bearer(adviser))
    mclient.get(f"/api/v1/needs/{need['id']}/matches", headers=bearer(adviser))
    move(mclient, adviser, company, need, status="intro_proposed")
    mclient.post(f"/api/v1/companies/{company['id']}/introductions/{need['id']}/consent",
                 headers={"X-Edit-Token": company["edit_token"]})
    move(mclient, adviser, company, need, status="introduced")
    figures = mclient.get("/api/v1/dashboard", headers=bearer(adviser)).json()
    assert figures["matches_by_status"]["introduced"] == 1
    assert figures["matches_by_nld_area"]["slimme-materialen"] >= 1
    assert figures["matches_by_sub_region"]["Zuidoost-Drenthe"] >= 1  # the factory's companies are in Emmen
    assert sum(figures["introductions_per_month"].values()) == 1
    assert mclient.get("/api/v1/dashboard").status_code == 401
