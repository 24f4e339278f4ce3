"""Findings 6 and 7: withdrawing consent moves a consented match back, and staff notes stay with staff.

- Withdrawing consent moves a `consented` match back to `intro_proposed` with an event, and the
  match cannot reach `consented` or `introduced` again until the company consents again (its
  general consent to Defence contact does not override the withdrawal).
- Notes are internal unless shared; the company's export and its consent answer carry shared
  notes only, and never the ids of staff."""

import json

import pytest

from tests.factories import bearer, company_payload, create_need

INTERNAL = "Niet prioriteren: eerst de grotere leveranciers"
SHARED = "We nemen volgende week contact met u op"


@pytest.fixture
def pair(client, staff_tokens):
    registered = client.post("/api/v1/companies", json=company_payload(name="Noordlicht Optiek"),
                             headers=bearer(staff_tokens["adviser"]))
    assert registered.status_code == 201, registered.text
    need = create_need(client, staff_tokens["admin"], title="Nachtzicht")
    return registered.json(), need


def move(client, token, company, need, **body):
    return client.patch(f"/api/v1/matches/{company['id']}/{need['id']}", json=body, headers=bearer(token))


def consent_url(company, need) -> str:
    return f"/api/v1/companies/{company['id']}/introductions/{need['id']}/consent"


def own(company) -> dict:
    return {"X-Edit-Token": company["edit_token"]}


def test_withdrawing_consent_moves_the_match_back_with_an_event(client, staff_tokens, pair):
    company, need = pair
    adviser = staff_tokens["adviser"]
    assert move(client, adviser, company, need, status="intro_proposed").status_code == 200
    assert client.post(consent_url(company, need), headers=own(company)).json()["status"] == "consented"
    assert client.delete(consent_url(company, need), headers=own(company)).status_code == 204
    match = client.get(f"/api/v1/matches/{company['id']}/{need['id']}", headers=bearer(adviser)).json()
    assert match["status"] == "intro_proposed"
    back = [e for e in match["events"] if e["kind"] == "status" and e["to_status"] == "intro_proposed"]
    assert back[-1]["from_status"] == "consented" and back[-1]["actor"] == f"company:{company['id']}"
    refused = move(client, adviser, company, need, status="consented")
    assert refused.status_code == 422 and "withdrew" in refused.json()["detail"]
    assert move(client, adviser, company, need, status="introduced").status_code == 422
    # Consenting again lets the introduction go ahead.
    assert client.post(consent_url(company, need), headers=own(company)).json()["status"] == "consented"
    assert move(client, adviser, company, need, status="introduced").status_code == 200


def test_a_withdrawal_for_one_need_overrides_the_general_consent_there(client, staff_tokens, pair):
    company, need = pair
    adviser = staff_tokens["adviser"]
    client.patch(f"/api/v1/companies/{company['id']}", json={"consent_defence_contact": True}, headers=own(company))
    assert move(client, adviser, company, need, status="intro_proposed").status_code == 200
    assert client.delete(consent_url(company, need), headers=own(company)).status_code == 204
    assert move(client, adviser, company, need, status="consented").status_code == 422


def test_introduced_needs_consent_that_still_holds(client, staff_tokens, pair, session):
    """A match left in `consented` whose consent is gone (withdrawn meanwhile) cannot be introduced."""
    from app.models import Match

    company, need = pair
    adviser = staff_tokens["adviser"]
    assert move(client, adviser, company, need, status="intro_proposed").status_code == 200
    assert client.post(consent_url(company, need), headers=own(company)).status_code == 200
    match = session.query(Match).one()
    match.consent_withdrawn = True
    session.add(match)
    session.commit()
    assert move(client, adviser, company, need, status="introduced").status_code == 422


def test_internal_notes_and_staff_ids_never_reach_the_company(client, staff_tokens, pair, session):
    company, need = pair
    adviser = staff_tokens["adviser"]
    adviser_id = client.get("/api/v1/auth/me", headers=bearer(adviser)).json()["id"]
    assert move(client, adviser, company, need, note=INTERNAL).status_code == 200
    assert move(client, adviser, company, need, status="intro_proposed", note=SHARED,
                note_visibility="shared").status_code == 200
    assert client.post(f"/api/v1/matches/{company['id']}/{need['id']}/feedback", headers=bearer(staff_tokens["admin"]),
                       json={"relevant": True, "reason": "intern: sterke kandidaat"}).status_code == 200
    move(client, adviser, company, need, owner_user_id=adviser_id)

    consent = client.post(consent_url(company, need), headers=own(company))
    exported = client.get(f"/api/v1/companies/{company['id']}/export", headers=own(company))
    by_desk = client.get(f"/api/v1/companies/{company['id']}/export", headers=bearer(adviser))
    for answer in (consent, exported, by_desk):
        assert answer.status_code == 200
        text = answer.text
        assert INTERNAL not in text and "sterke kandidaat" not in text
        assert f"user:{adviser_id}" not in text and "(adviser)" not in text
        assert SHARED in text
    [match] = exported.json()["matches"]
    assert match["owner_user_id"] is None and match["feedback_reason"] is None
    assert consent.json()["owner_user_id"] is None
    # Staff still read everything.
    staff_view = client.get(f"/api/v1/matches/{company['id']}/{need['id']}", headers=bearer(adviser)).json()
    notes = {e["note"]: e["visibility"] for e in staff_view["events"]}
    assert notes[INTERNAL] == "internal" and notes[SHARED] == "shared"
    assert json.dumps(staff_view).count(f"user:{adviser_id}") >= 2


def test_notes_are_internal_by_default(client, staff_tokens, pair):
    company, need = pair
    changed = move(client, staff_tokens["scout"], company, need, note="eerste blik")
    assert changed.json()["events"][-1]["visibility"] == "internal"
