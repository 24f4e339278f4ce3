"""Field-level visibility: contact details and consents reach only those entitled to them.

anonymous: never; the company itself: its own; adviser, admin: always; scout, regioteam: contact
only where the company consented to contact by Defence parties, consents never. Checked on every
endpoint that returns a company; new ones (search, matches, lists, exports) belong in
COMPANY_ENDPOINTS, and ``assert_no_personal_data`` checks any answer, JSON or text.
"""

import pytest
from sqlmodel import select

from app.models import AuditEvent
from tests.factories import recorded
from tests.security.conftest import World
from tests.security.privacy import assert_no_personal_data

SEES_CONTACT = {
    "anonymous": set(),
    "own_company": {"own"},
    "other_company": {"other"},
    "adviser": {"own", "other", "consenting"},
    "admin": {"own", "other", "consenting"},
    "scout": {"consenting"},
    "regioteam": {"consenting"},
}
SEES_CONSENTS = {**SEES_CONTACT, "scout": set(), "regioteam": set()}


def _companies_in(world: World, client, caller: str, endpoint: str) -> dict[str, dict]:
    """The companies of the world as ``endpoint`` shows them to ``caller``, by world key."""
    by_id = {company["id"]: key for key, company in world.companies.items()}
    headers = world.headers(caller)
    if endpoint == "GET /companies":
        response = client.get("/api/v1/companies", headers=headers, params={"limit": 200})
        items = response.json()["data"] if response.status_code == 200 else []
    else:  # one company at a time: GET, and PATCH (which answers with the changed profile)
        items = []
        for company in world.companies.values():
            if endpoint == "GET /companies/{id}":
                response = client.get(f"/api/v1/companies/{company['id']}", headers=headers)
            else:
                response = client.patch(
                    f"/api/v1/companies/{company['id']}", json={"employees": 7}, headers=headers
                )
            if response.status_code == 200:
                items.append(response.json())
            else:
                assert_no_personal_data(response.json(), world.forbidden_for(caller))
    return {by_id[item["id"]]: item for item in items if item["id"] in by_id}


COMPANY_ENDPOINTS = ["GET /companies", "GET /companies/{id}", "PATCH /companies/{id}"]


@pytest.mark.parametrize("endpoint", COMPANY_ENDPOINTS)
@pytest.mark.parametrize("caller", list(SEES_CONTACT))
def test_contact_details_and_consents_only_for_the_entitled(client, world, caller, endpoint):
    shown = _companies_in(world, client, caller, endpoint)
    for key, item in shown.items():
        expected_contact = world.companies[key]["contact"] if key in SEES_CONTACT[caller] else None
        assert item["contact"] == expected_contact, f"{caller} via {endpoint}: contact of {key}"
        assert (item["consents"] is not None) == (key in SEES_CONSENTS[caller]), (
            f"{caller}: consents of {key}"
        )
    assert_no_personal_data(list(shown.values()), world.forbidden_for(caller), personal_keys_allowed=True)


def test_staff_see_every_company_in_the_list_so_the_checks_above_are_not_vacuous(client, world):
    for role in ("adviser", "scout", "regioteam", "admin"):
        assert set(_companies_in(world, client, role, "GET /companies")) == {"own", "other", "consenting"}


def test_the_registration_answer_shows_the_registrant_its_own_data_and_nothing_else(client, world):
    from tests.factories import company_payload

    answer = client.post(
        "/api/v1/companies", json=company_payload(contact_email="nieuw@bedrijf.example"),
        headers=world.headers("adviser"),
    ).json()
    assert answer["contact"]["email"] == "nieuw@bedrijf.example" and answer["edit_token"]
    assert_no_personal_data(answer, world.forbidden_for("adviser") + [world.companies["own"]["edit_token"]],
                            personal_keys_allowed=True)
    anonymous = client.post("/api/v1/companies", json=company_payload(kvk_number=world.companies["own"]["kvk_number"]))
    assert set(anonymous.json()) == {"message"}  # nothing of the company that holds the number


def test_every_release_of_contact_details_to_staff_is_audited(client, world, session):
    client.get(f"/api/v1/companies/{world.companies['consenting']['id']}", headers=world.headers("scout"))
    client.get(
        f"/api/v1/companies/{world.companies['own']['id']}", headers=world.headers("scout")
    )  # no contact
    client.get(f"/api/v1/companies/{world.companies['own']['id']}", headers=world.headers("own_company"))
    recorded(client)  # committed shortly after each answer
    reads = session.exec(select(AuditEvent).where(AuditEvent.action == "read_contact",
                                                  AuditEvent.subject_type == "company")).all()
    assert [(event.subject_id, event.actor.endswith("(scout)")) for event in reads] == [
        (world.companies["consenting"]["id"], True)
    ]
    for event in session.exec(select(AuditEvent)).all():  # the log holds ids, never the data itself
        assert_no_personal_data(
            event.detail + event.actor, [v for k in world.companies for v in world.personal_values(k)]
        )


def test_the_leak_check_itself_catches_leaks():
    with pytest.raises(AssertionError):
        assert_no_personal_data({"data": [{"note": "mail ANNA@x.example"}]}, ["anna@x.example"])
    with pytest.raises(AssertionError):
        assert_no_personal_data({"contact": {"email": "a@b.c"}})
    with pytest.raises(AssertionError):
        assert_no_personal_data({"x": {"edit_token_hash": "abc"}}, personal_keys_allowed=True)
    with pytest.raises(AssertionError):
        assert_no_personal_data("naam;email\nAnna;anna@x.example", ["anna@x.example"])  # e.g. a CSV export
    assert_no_personal_data({"contact": None, "consents": None, "name": "Bedrijf"}, ["anna@x.example"])
