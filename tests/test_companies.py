"""Companies: self-registration, the edit token, validation, access and erasure."""

import pytest
from sqlmodel import col, select

from app.models import AuditEvent, Company
from tests.factories import bearer, company_payload, recorded
from tests.factories import register_company as register


def test_self_registration_round_trip_with_edit_token(client):
    created = register(client, name="Dopple Demo", municipality="assen")
    assert created["edit_token"].startswith("kk_edit_")
    assert created["municipality"] == "Assen"  # normalised to the official spelling
    assert "Noord-Drenthe" in created["regions"] and "Drenthe" in created["regions"]
    assert created["source"] == "self"
    assert created["contact"]["email"] == "info@veenstra.example.org"

    headers = {"X-Edit-Token": created["edit_token"]}
    read = client.get(f"/api/v1/companies/{created['id']}", headers=headers)
    assert read.status_code == 200
    assert read.json()["name"] == "Dopple Demo"
    assert "edit_token" not in read.json()  # shown once only

    changed = client.patch(
        f"/api/v1/companies/{created['id']}", headers=headers,
        json={"description": "Actieve gehoorbescherming voor militairen en industrie.",
              "consent_defence_contact": True},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["description"].startswith("Actieve gehoorbescherming")
    assert changed.json()["consents"] == {"matching": True, "defence_contact": True, "weekly_match_mail": False}


def test_duplicate_kvk_number_is_refused_with_409_for_staff(client, staff_tokens):
    first = register(client)
    response = client.post("/api/v1/companies", json=company_payload(kvk_number=first["kvk_number"]),
                           headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == 409
    assert first["kvk_number"] in response.json()["detail"]


@pytest.mark.parametrize(
    ("field", "value", "message_part"),
    [
        ("kvk_number", "1234567", "8 digits"),
        ("kvk_number", "1234567a", "8 digits"),
        ("consent", False, "consent must be true"),
        ("description", "", "at least 10 characters"),
        ("description", "kort", "at least 10 characters"),
        ("description", "x" * 10_001, "at most 10000 characters"),
        ("municipality", "Atlantis", "unknown municipality"),
        ("contact_email", "not-an-email", "email"),
        ("sectors", ["ruimteschepen"], "unknown sector"),
        ("nld_areas", ["telepathie"], "intelligente-systemen"),
        ("contact_phone", "call me", "phone number"),
    ],
)
def test_invalid_field_gives_422_naming_the_field(client, field, value, message_part):
    response = client.post("/api/v1/companies", json=company_payload(**{field: value}))
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(field in error["loc"] and message_part in error["msg"] for error in errors), errors


@pytest.mark.parametrize("missing", ["name", "kvk_number", "municipality", "description", "contact_email", "consent"])
def test_required_fields(client, missing):
    payload = company_payload()
    del payload[missing]
    response = client.post("/api/v1/companies", json=payload)
    assert response.status_code == 422
    assert any(missing in error["loc"] for error in response.json()["detail"])


def test_invalid_registration_writes_nothing(client, session):
    client.post("/api/v1/companies", json=company_payload(municipality="Atlantis"))
    assert session.exec(select(Company)).all() == []


def test_unknown_fields_are_refused(client):
    response = client.post("/api/v1/companies", json=company_payload(status="active"))
    assert response.status_code == 422


def test_company_cannot_read_or_change_another_company(client):
    mine = register(client)
    theirs = register(client, name="Ander Bedrijf")
    headers = {"X-Edit-Token": mine["edit_token"]}
    url = f"/api/v1/companies/{theirs['id']}"
    assert client.get(url, headers=headers).status_code == 403
    assert client.patch(url, headers=headers, json={"name": "Overgenomen"}).status_code == 403
    assert client.delete(url, headers=headers).status_code == 403
    assert client.get(url, headers={"X-Edit-Token": "kk_edit_guess"}).status_code == 403


def test_company_cannot_change_its_own_status(client):
    mine = register(client)
    response = client.patch(
        f"/api/v1/companies/{mine['id']}", headers={"X-Edit-Token": mine["edit_token"]}, json={"status": "archived"}
    )
    assert response.status_code == 403


def test_required_fields_cannot_be_emptied(client):
    mine = register(client)
    response = client.patch(
        f"/api/v1/companies/{mine['id']}", headers={"X-Edit-Token": mine["edit_token"]}, json={"contact_email": None}
    )
    assert response.status_code == 422
    assert "contact_email" in response.json()["detail"]


def test_anonymous_callers_get_401_on_company_endpoints(client):
    created = register(client)
    url = f"/api/v1/companies/{created['id']}"
    assert client.get("/api/v1/companies").status_code == 401
    assert client.get(url).status_code == 401
    assert client.patch(url, json={"name": "X Y"}).status_code == 401
    assert client.delete(url).status_code == 401
    assert client.get(url, headers=bearer("kk_api_wrong")).status_code == 401


def test_missing_company_is_404(client, staff_tokens):
    response = client.get("/api/v1/companies/999999", headers=bearer(staff_tokens["admin"]))
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]


def test_erase_leaves_no_personal_data_behind(client, session):
    created = register(client, contact_name="Anna de Vries", contact_email="anna@devries.example.org")
    response = client.delete(f"/api/v1/companies/{created['id']}", headers={"X-Edit-Token": created["edit_token"]})
    assert response.status_code == 204
    assert session.get(Company, created["id"]) is None
    events = session.exec(select(AuditEvent).order_by(col(AuditEvent.id))).all()
    assert [e.action for e in events if e.subject_id == created["id"]][-1] == "erase"
    for event in events:  # the audit trail keeps ids and actions, not the erased person
        assert "Anna" not in event.detail and "devries" not in event.detail and "Veenstra" not in event.detail
    own = {"X-Edit-Token": created["edit_token"]}
    assert client.get(f"/api/v1/companies/{created['id']}", headers=own).status_code == 404


def test_adviser_registers_on_behalf_and_scout_may_not(client, staff_tokens):
    by_adviser = client.post("/api/v1/companies", json=company_payload(), headers=bearer(staff_tokens["adviser"]))
    assert by_adviser.status_code == 201
    assert by_adviser.json()["source"] == "adviser"
    by_scout = client.post("/api/v1/companies", json=company_payload(), headers=bearer(staff_tokens["scout"]))
    assert by_scout.status_code == 403


def test_contact_details_only_for_entitled_staff(client, staff_tokens, session):
    quiet = register(client, name="Stil Bedrijf", consent_defence_contact=False)
    open_ = register(client, name="Open Bedrijf", consent_defence_contact=True)
    for role, sees_quiet in [("admin", True), ("adviser", True), ("scout", False), ("regioteam", False)]:
        quiet_view = client.get(f"/api/v1/companies/{quiet['id']}", headers=bearer(staff_tokens[role])).json()
        open_view = client.get(f"/api/v1/companies/{open_['id']}", headers=bearer(staff_tokens[role])).json()
        assert (quiet_view["contact"] is not None) == sees_quiet, role
        assert open_view["contact"]["email"] == "info@veenstra.example.org", role
        assert (quiet_view["consents"] is not None) == (role in ("admin", "adviser")), role
    recorded(client)
    reads = session.exec(select(AuditEvent).where(AuditEvent.action == "read_contact")).all()
    assert {e.subject_id for e in reads} == {quiet["id"], open_["id"]}


def test_list_filters(client, staff_tokens):
    register(client, name="Emmen Composiet", municipality="Emmen", nld_areas=["slimme-materialen"],
             sectors=["groene-chemie"])
    register(client, name="Assen Sensor", municipality="Assen", nld_areas=["sensoren"], sectors=["sensortechnologie"],
             defence_experience="supplier")
    register(client, name="Groningen AI", municipality="Groningen", nld_areas=["intelligente-systemen"],
             description="Kunstmatige intelligentie voor predictive maintenance van machines.")
    headers = bearer(staff_tokens["adviser"])

    def names(**params):
        response = client.get("/api/v1/companies", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return sorted(c["name"] for c in response.json()["data"])

    assert names(region="Zuidoost-Drenthe") == ["Emmen Composiet"]
    assert names(region="Drenthe") == ["Assen Sensor", "Emmen Composiet"]
    assert names(region="Noord-Nederland") == ["Assen Sensor", "Emmen Composiet", "Groningen AI"]
    assert names(nld_area="sensoren") == ["Assen Sensor"]
    assert names(sector="groene-chemie") == ["Emmen Composiet"]
    assert names(defence_experience="supplier") == ["Assen Sensor"]
    assert names(q="predictive") == ["Groningen AI"]
    assert names(municipality="emmen") == ["Emmen Composiet"]
    page = client.get("/api/v1/companies", params={"limit": 2, "offset": 2}, headers=headers).json()
    assert page["count"] == 3 and len(page["data"]) == 1
    assert client.get("/api/v1/companies", params={"region": "Atlantis"}, headers=headers).status_code == 422
    assert client.get("/api/v1/companies", params={"limit": 5000}, headers=headers).status_code == 422


@pytest.mark.parametrize("scanning_filter", [{"q": "radar"}, {"nld_area": "sensoren"}, {"sector": "veiligheid"}])
def test_a_costly_count_is_reused_a_few_seconds_while_writes_come_in_and_never_the_rows(
        client, staff_tokens, monkeypatch, scanning_filter):
    """A filter no index serves (text, NLD area, sector) reads every company for its count."""
    from app.services import list_counts

    headers = bearer(staff_tokens["adviser"])

    def listed() -> tuple[int, list[str]]:
        body = client.get("/api/v1/companies", params=scanning_filter, headers=headers).json()
        return body["count"], sorted(c["name"] for c in body["data"])

    def register_radar(name: str, description: str) -> None:
        register(client, name=name, description=description, nld_areas=["sensoren"], sectors=["veiligheid"])

    register(client, name="Kaas Noord", description="Wij maken kaas.", nld_areas=[], sectors=[])
    register_radar("Radar Noord", "Wij bouwen radar voor kleine drones.")
    assert listed() == (1, ["Radar Noord"])  # cheap at this size: made anew each time
    register_radar("Radar Zuid", "Radar en EO/IR-sensoren.")
    assert listed() == (2, ["Radar Noord", "Radar Zuid"])

    monkeypatch.setattr(list_counts, "scanned", list_counts.CountKeeper())  # none kept for other tests
    monkeypatch.setattr(list_counts, "COSTLY_SECONDS", 0.0)  # as at 100,000 companies
    assert listed()[0] == 2
    register_radar("Radar West", "Onderhoud van radar.")
    assert listed() == (2, ["Radar Noord", "Radar West", "Radar Zuid"])  # the count lags, the rows do not
    monkeypatch.setattr(list_counts, "LAG_SECONDS", 0.0)
    assert listed()[0] == 3


def test_company_exports_everything_held_about_it_and_the_export_is_audited(client, staff_tokens, session):
    created = register(client, contact_name="Anna de Vries", contact_email="anna@devries.example.org")
    headers = {"X-Edit-Token": created["edit_token"]}
    client.get(f"/api/v1/companies/{created['id']}", headers=bearer(staff_tokens["adviser"]))  # a contact read
    client.patch(f"/api/v1/companies/{created['id']}", headers=headers, json={"employees": 14})
    response = client.get(f"/api/v1/companies/{created['id']}/export", headers=headers)
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    exported = response.json()
    assert exported["profile"]["contact_email"] == "anna@devries.example.org"
    assert exported["profile"]["employees"] == 14
    assert "edit_token_hash" not in exported["profile"] and created["edit_token"] not in response.text
    actions = [entry["action"] for entry in exported["audit_log"]]
    assert actions[0] == "register" and "read_contact" in actions and actions[-1] == "export"
    scout = bearer(staff_tokens["scout"])
    assert client.get(f"/api/v1/companies/{created['id']}/export", headers=scout).status_code == 403
    assert client.get(f"/api/v1/companies/{created['id']}/export").status_code == 401
