"""A question becomes a case on the desk's inbox; an adviser works it as a trajectory: assigns it,
articulates the question, answers it, links it to a new profile made with the company's consent,
records referrals, programme applications and the outcome."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from app.models import AuditEvent
from tests.factories import bearer, make_user, register_company
from tests.loket_fixtures import question, seeded_client


@pytest.fixture
def loket(tmp_path) -> Iterator[TestClient]:
    yield from seeded_client(tmp_path / "matching")


def asked_case(client: TestClient, token: str, **overrides: object) -> dict:
    answer = client.post("/api/v1/questions", json=question(**overrides)).json()
    inbox = client.get("/api/v1/cases", headers=bearer(token)).json()["data"]
    return next(case for case in inbox if case["reference"] == answer["reference"])


def test_a_question_becomes_a_case_that_an_adviser_answers_and_links_to_a_new_profile(loket, session):
    adviser, token = make_user(session, role="adviser", username="els")
    headers = bearer(token)
    case = asked_case(loket, token, kvk_number="12345678", municipality="Coevorden",
                      text="Wij zijn een start-up in dronesensoren en zoeken hulp om aan Defensie te leveren.")
    url = f"/api/v1/cases/{case['id']}"

    assigned = loket.patch(url, headers=headers, json={"assigned_user_id": adviser.id}).json()
    assert assigned["status"] == "in_progress" and assigned["assigned_user"]["username"] == "els"
    assert assigned["trajectory_started_at"] is not None
    articulation = "Sensorbedrijf zoekt een route naar defensie-aanbestedingen voor dronedetectie."
    articulated = loket.patch(url, headers=headers, json={"articulated_question": articulation}).json()
    assert articulated["articulated_question"].startswith("Sensorbedrijf")
    answered = loket.patch(url, headers=headers, json={
        "answer": "Wij brengen u in contact met MINDbase Noord en het MKB defensiedesk."}).json()
    assert answered["status"] == "answered" and answered["answered_at"] is not None

    made = loket.post(f"{url}/profile", headers=headers, json={
        "name": "Dronesens BV", "sectors": ["sensortechnologie"], "nld_areas": ["sensoren"], "consent": True})
    assert made.status_code == 201, made.text
    company = made.json()["company"]
    assert company["kvk_number"] == "12345678" and company["municipality"] == "Coevorden"
    assert company["contact"]["email"] == "vraag@bedrijf.example.org"
    assert company["description"].startswith("Sensorbedrijf zoekt")  # the articulated question
    assert company["source"] == "adviser" and company["edit_token"]
    linked = made.json()["case"]
    assert linked["company"] == {"id": company["id"], "name": "Dronesens BV", "municipality": "Coevorden",
                                 "defence_experience": "none"}
    # The new profile is in the matching at once; looking at its matches puts none on the
    # trajectory, working one (triage) does.
    seen = loket.get(f"/api/v1/companies/{company['id']}/matches", headers=headers)
    assert seen.status_code == 200 and seen.json()["items"]
    assert loket.get(url, headers=headers).json()["matches"] == []
    need_id = seen.json()["items"][0]["need"]["id"]
    triaged = loket.patch(f"/api/v1/matches/{company['id']}/{need_id}", headers=headers, json={"status": "triaged"})
    assert triaged.status_code == 200, triaged.text
    detail = loket.get(url, headers=headers).json()
    assert [(match["need_id"], match["status"]) for match in detail["matches"]] == [(need_id, "triaged")]
    kinds = [event["kind"] for event in detail["events"]]
    assert kinds == ["asked", "assigned", "articulated", "answered", "linked"]
    assert detail["events"][-1]["actor"] == f"user:{adviser.id} (adviser)"


def test_referrals_programmes_and_outcome_are_kept_on_the_trajectory(loket, session):
    _, token = make_user(session, role="adviser")
    headers = bearer(token)
    case = asked_case(loket, token)
    url = f"/api/v1/cases/{case['id']}"
    referred = loket.post(f"{url}/referrals", headers=headers, json={"organisation": "founded", "note": "intake"})
    assert referred.status_code == 200
    assert referred.json()["referrals"][0]["organisation"]["slug"] == "founded"
    vouchers = loket.get("/api/v1/needs", params={"kind": "programme", "q": "MKB Advies Vouchers"}).json()["data"][0]
    applied = loket.post(f"{url}/programmes", headers=headers, json={"need_id": vouchers["id"]}).json()
    assert applied["programmes"][0]["status"] == "applied" and applied["programmes"][0]["decided_at"] is None
    granted = loket.post(f"{url}/programmes", headers=headers, json={"need_id": vouchers["id"], "status": "granted"})
    programme = granted.json()["programmes"]
    assert len(programme) == 1 and programme[0]["status"] == "granted" and programme[0]["decided_at"]
    closed = loket.patch(url, headers=headers, json={"outcome": "programme", "outcome_note": "voucher toegekend",
                                                     "status": "closed"}).json()
    assert closed["status"] == "closed" and closed["outcome"] == "programme"


def test_wrong_steps_are_refused_with_what_to_fix(loket, session):
    scout, _ = make_user(session, role="scout")
    _, token = make_user(session, role="adviser")
    headers = bearer(token)
    case = asked_case(loket, token)
    url = f"/api/v1/cases/{case['id']}"
    refused = loket.patch(url, headers=headers, json={"assigned_user_id": scout.id})
    assert refused.status_code == 422 and "not an active adviser or admin" in refused.json()["detail"]
    assert "send an answer" in loket.patch(url, headers=headers, json={"status": "answered"}).json()["detail"]
    assert loket.patch(url, headers=headers, json={"status": "in_progress"}).status_code == 200
    back = loket.patch(url, headers=headers, json={"status": "new", "answer": "Nog niet verstuurd."})
    assert back.status_code == 422 and "cannot go back to new" in back.json()["detail"]
    assert loket.get(url, headers=headers).json()["answer"] == ""  # nothing of a refused change is kept
    unknown = loket.post(f"{url}/referrals", headers=headers, json={"organisation": "nergens"})
    assert unknown.status_code == 422 and "GET /api/v1/organisations" in unknown.json()["detail"]
    not_programme = loket.post(f"{url}/programmes", headers=headers, json={"need_id": 1})
    assert not_programme.status_code == 422 and "is not a programme" in not_programme.json()["detail"]
    no_kvk = loket.post(f"{url}/profile", headers=headers, json={"name": "Zonder KvK", "consent": True})
    assert no_kvk.status_code == 422 and "kvk_number is needed" in no_kvk.json()["detail"]
    no_consent = loket.post(f"{url}/profile", headers=headers, json={"name": "X BV", "kvk_number": "87654321",
                                                                    "consent": False})
    assert no_consent.status_code == 422
    taken = register_company(loket)
    duplicate = loket.post(f"{url}/profile", headers=headers, json={"name": "Dubbel BV", "consent": True,
                                                                   "kvk_number": taken["kvk_number"]})
    assert duplicate.status_code == 409
    assert loket.get("/api/v1/cases/999999", headers=headers).status_code == 404


def test_linking_to_an_existing_profile_and_erasing_a_case(loket, session):
    _, token = make_user(session, role="admin")
    headers = bearer(token)
    case = asked_case(loket, token)
    company = register_company(loket)
    linked = loket.post(f"/api/v1/cases/{case['id']}/link", headers=headers, json={"company_id": company["id"]})
    assert linked.json()["company"]["id"] == company["id"]
    assert loket.post(f"/api/v1/cases/{case['id']}/link", headers=headers,
                      json={"company_id": 999999}).status_code == 404
    assert loket.delete(f"/api/v1/cases/{case['id']}", headers=headers).status_code == 204
    assert loket.get(f"/api/v1/cases/{case['id']}", headers=headers).status_code == 404
    # In the order written: without ORDER BY, PostgreSQL returns rows in whatever order its pages hold them.
    actions = session.exec(select(AuditEvent.action).where(AuditEvent.subject_type == "case")
                           .order_by(col(AuditEvent.id))).all()
    assert actions[0] == "ask" and "read_contact" in actions and actions[-1] == "erase"


def test_reading_a_case_is_audited(loket, session: Session):
    _, token = make_user(session, role="adviser")
    case = asked_case(loket, token)
    loket.get(f"/api/v1/cases/{case['id']}", headers=bearer(token))
    reads = session.exec(select(AuditEvent).where(AuditEvent.subject_type == "case",
                                                  AuditEvent.action == "read_contact")).all()
    assert len(reads) == 2  # the inbox, then the case
    assert all("vraag@" not in event.detail for event in reads)
