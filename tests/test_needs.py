"""Needs: staff write, public read, staff-only visibility."""

from tests.factories import bearer, need_payload


def test_staff_creates_and_anyone_reads_public_needs(client, staff_tokens):
    created = client.post("/api/v1/needs", json=need_payload(), headers=bearer(staff_tokens["regioteam"]))
    assert created.status_code == 201, created.text
    need = created.json()
    assert client.get(f"/api/v1/needs/{need['id']}").json()["title"] == need["title"]
    listing = client.get("/api/v1/needs").json()
    assert [n["id"] for n in listing["data"]] == [need["id"]]


def test_staff_only_needs_are_invisible_to_others(client, staff_tokens):
    hidden = client.post("/api/v1/needs", json=need_payload(visibility="staff"),
                         headers=bearer(staff_tokens["adviser"])).json()
    assert client.get(f"/api/v1/needs/{hidden['id']}").status_code == 404
    assert client.get("/api/v1/needs").json()["count"] == 0
    assert client.get(f"/api/v1/needs/{hidden['id']}", headers=bearer(staff_tokens["scout"])).status_code == 200
    assert client.get("/api/v1/needs", headers=bearer(staff_tokens["scout"])).json()["count"] == 1


def test_anonymous_cannot_write_needs(client, staff_tokens):
    assert client.post("/api/v1/needs", json=need_payload()).status_code == 401
    need = client.post("/api/v1/needs", json=need_payload(), headers=bearer(staff_tokens["admin"])).json()
    assert client.patch(f"/api/v1/needs/{need['id']}", json={"status": "closed"}).status_code == 401
    assert client.delete(f"/api/v1/needs/{need['id']}").status_code == 401


def test_update_filter_and_delete(client, staff_tokens):
    headers = bearer(staff_tokens["adviser"])
    drone = client.post("/api/v1/needs", json=need_payload(), headers=headers).json()
    client.post("/api/v1/needs", json=need_payload(title="MKB Advies Voucher", kind="programme", nld_areas=[],
                                                   description="Laagdrempelig kennis inzetten bij het mkb."),
                headers=headers)
    closed = client.patch(f"/api/v1/needs/{drone['id']}", json={"status": "closed", "deadline": "2027-03-01"},
                          headers=headers)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert closed.json()["deadline"] == "2027-03-01"
    titles = lambda **p: [n["title"] for n in client.get("/api/v1/needs", params=p).json()["data"]]  # noqa: E731
    assert titles(kind="programme") == ["MKB Advies Voucher"]
    assert titles(status="closed") == ["Lichtgewicht composieten voor drones"]
    assert titles(nld_area="slimme-materialen") == ["Lichtgewicht composieten voor drones"]
    assert titles(q="voucher") == ["MKB Advies Voucher"]
    assert client.delete(f"/api/v1/needs/{drone['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/needs/{drone['id']}").status_code == 404


def test_invalid_need_input(client, staff_tokens):
    headers = bearer(staff_tokens["adviser"])
    bad_kind = client.post("/api/v1/needs", json=need_payload(kind="wish"), headers=headers)
    assert bad_kind.status_code == 422
    too_long = client.post("/api/v1/needs", json=need_payload(description="x" * 50_001), headers=headers)
    assert too_long.status_code == 422
    no_owner = client.post("/api/v1/needs", json=need_payload(owner_organisation_id=4242), headers=headers)
    assert no_owner.status_code == 422 and "4242" in no_owner.json()["detail"]
    bad_region = client.post("/api/v1/needs", json=need_payload(eligible_regions=["Mars"]), headers=headers)
    assert bad_region.status_code == 422
