"""Finding 10: needs belong to an organisation, and "not relevant" is an organisation's own judgement.

Only the members of a need's organisation and admins edit or delete it (another organisation's
staff-only need included); "not relevant" hides a match from the feedback giver's organisation,
and only an admin hides it from everyone."""

import pytest
from sqlmodel import Session

from app.models import Organisation
from app.services import users as user_service
from tests.factories import bearer, company_payload, need_payload

NIGHT_VISION = "Nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen en infanterie."


@pytest.fixture
def people(session: Session) -> dict[str, str]:
    """Bearer tokens: a scout and a Regioteam member of organisation A, a scout of B, an admin."""
    for slug in ("org-a", "org-b"):
        session.add(Organisation(slug=slug, name=f"Organisatie {slug[-1].upper()}"))
    session.commit()
    tokens = {}
    for name, role, organisation in (("scout_a", "scout", "org-a"), ("regio_a", "regioteam", "org-a"),
                                     ("scout_b", "scout", "org-b"), ("admin", "admin", None)):
        user = user_service.create_user(session=session, username=name, role=role, organisation_slug=organisation)
        tokens[name] = user_service.issue_token(session=session, user=user)[0]
    session.commit()
    return tokens


def test_only_the_organisation_s_members_and_admins_change_its_needs(client, people):
    need = client.post("/api/v1/needs", json=need_payload(visibility="staff"), headers=bearer(people["scout_a"])).json()
    assert need["owner"]["slug"] == "org-a"
    url = f"/api/v1/needs/{need['id']}"
    assert client.patch(url, json={"budget_note": "x"}, headers=bearer(people["scout_b"])).status_code == 403
    assert client.delete(url, headers=bearer(people["scout_b"])).status_code == 403
    assert client.get(url, headers=bearer(people["scout_b"])).status_code == 200  # staff still read it
    for member in ("regio_a", "admin"):
        changed = client.patch(url, json={"budget_note": f"tot 50.000 euro ({member})"}, headers=bearer(people[member]))
        assert changed.status_code == 200
    assert client.delete(url, headers=bearer(people["scout_b"])).status_code == 403
    assert client.delete(url, headers=bearer(people["regio_a"])).status_code == 204


def test_a_need_cannot_be_created_for_or_moved_to_another_organisation(client, people, session):
    org_b = session.exec(__import__("sqlmodel").select(Organisation).where(Organisation.slug == "org-b")).one()
    refused = client.post("/api/v1/needs", json=need_payload(owner_organisation_id=org_b.id),
                          headers=bearer(people["scout_a"]))
    assert refused.status_code == 403
    need = client.post("/api/v1/needs", json=need_payload(), headers=bearer(people["scout_a"])).json()
    moved = client.patch(f"/api/v1/needs/{need['id']}", json={"owner_organisation_id": org_b.id},
                         headers=bearer(people["scout_a"]))
    assert moved.status_code == 403
    by_admin = client.post("/api/v1/needs", json=need_payload(owner_organisation_id=org_b.id),
                           headers=bearer(people["admin"]))
    assert by_admin.status_code == 201 and by_admin.json()["owner"]["slug"] == "org-b"


def _company_names(client, need_id: int, token: str) -> list[str]:
    response = client.get(f"/api/v1/needs/{need_id}/matches", headers=bearer(token))
    assert response.status_code == 200, response.text
    return [item["company"]["name"] for item in response.json()["items"]]


def test_not_relevant_hides_a_match_for_the_giver_s_organisation_only(client, people):
    company = client.post("/api/v1/companies", json=company_payload(name="Noordlicht Optiek", description=NIGHT_VISION),
                          headers=bearer(people["admin"])).json()
    need = client.post("/api/v1/needs", json=need_payload(title="Nachtzicht", description=NIGHT_VISION),
                       headers=bearer(people["admin"])).json()
    feedback_url = f"/api/v1/matches/{company['id']}/{need['id']}/feedback"
    assert "Noordlicht Optiek" in _company_names(client, need["id"], people["scout_b"])
    given = client.post(feedback_url, json={"relevant": False, "reason": "levert alleen civiel"},
                        headers=bearer(people["scout_a"]))
    assert given.status_code == 200 and given.json()["relevant"] is None  # not for everyone
    assert "Noordlicht Optiek" not in _company_names(client, need["id"], people["scout_a"])
    assert "Noordlicht Optiek" not in _company_names(client, need["id"], people["regio_a"])
    assert "Noordlicht Optiek" in _company_names(client, need["id"], people["scout_b"])
    # Only an admin hides it from everyone.
    everyone = {"relevant": False, "reason": "bedrijf is gestopt", "scope": "everyone"}
    assert client.post(feedback_url, json=everyone, headers=bearer(people["scout_b"])).status_code == 403
    assert client.post(feedback_url, json=everyone, headers=bearer(people["admin"])).json()["relevant"] is False
    assert "Noordlicht Optiek" not in _company_names(client, need["id"], people["scout_b"])
    # The organisation may change its mind; the admin's judgement for everyone still holds.
    client.post(feedback_url, json={"relevant": True, "reason": "toch interessant"}, headers=bearer(people["scout_a"]))
    assert "Noordlicht Optiek" not in _company_names(client, need["id"], people["scout_a"])
