"""API answers that carry contact details are never kept by a browser or proxy cache: every API
answer says ``Cache-Control: no-store`` (the web pages already do)."""

from tests.factories import bearer, company_payload, need_payload


def test_answers_with_contact_details_are_not_stored(client, staff_tokens):
    adviser = bearer(staff_tokens["adviser"])
    registered = client.post("/api/v1/companies", json=company_payload(consent_defence_contact=True), headers=adviser)
    company = registered.json()
    need = client.post("/api/v1/needs", json=need_payload(), headers=adviser).json()
    own = {"X-Edit-Token": company["edit_token"]}
    answers = {
        "registration": registered,
        "profile": client.get(f"/api/v1/companies/{company['id']}", headers=adviser),
        "own profile": client.get(f"/api/v1/companies/{company['id']}", headers=own),
        "list": client.get("/api/v1/companies", headers=adviser),
        "export": client.get(f"/api/v1/companies/{company['id']}/export", headers=own),
        "change": client.patch(f"/api/v1/companies/{company['id']}", json={"employees": 3}, headers=own),
        "matches": client.get(f"/api/v1/needs/{need['id']}/matches", params={"min_fit": "weak"},
                              headers=bearer(staff_tokens["scout"])),
        "search": client.post("/api/v1/search", json={"text": "precisieonderdelen", "target": "companies"},
                              headers=adviser),
    }
    for name, answer in answers.items():
        assert answer.status_code in (200, 201), (name, answer.text)
        assert answer.headers.get("cache-control") == "no-store", name
    assert "contact" in answers["matches"].text and company["contact"]["email"] in answers["matches"].text


def test_errors_are_not_stored_either(client):
    assert client.get("/api/v1/companies").headers["cache-control"] == "no-store"  # 401
