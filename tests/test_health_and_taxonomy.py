"""Health, readiness, the public taxonomy and the documented API."""


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "ok"


def test_taxonomy_lists_the_five_nld_areas_and_drenthe_regions(client):
    taxonomy = client.get("/api/v1/taxonomy").json()
    assert [a["slug"] for a in taxonomy["nld_areas"]] == [
        "intelligente-systemen", "sensoren", "slimme-materialen", "ruimtetechnologie", "quantumtechnologie",
    ]
    by_name = {m["name"]: m for m in taxonomy["municipalities"]}
    assert len(by_name) == 342
    assert set(by_name["Midden-Drenthe"]["regions"]) >= {"Noord-Drenthe", "Zuidwest-Drenthe", "Drenthe"}
    assert by_name["Emmen"]["regions"][0] == "Zuidoost-Drenthe"
    assert "Noord-Nederland" in by_name["Leeuwarden"]["regions"]
    assert "Noord-Nederland" not in by_name["Utrecht"]["regions"]
    assert {k["slug"] for k in taxonomy["need_kinds"]} == {"defence_need", "programme", "call", "challenge", "cluster"}


def test_every_response_carries_security_headers(client):
    response = client.get("/api/v1/taxonomy")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_oversized_body_is_refused_with_413(client):
    response = client.post("/api/v1/companies", content=b"{" + b" " * 1_100_000 + b"}",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_openapi_documents_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ["/api/v1/companies", "/api/v1/companies/{company_id}", "/api/v1/needs", "/api/v1/needs/{need_id}",
                 "/api/v1/taxonomy", "/api/v1/auth/token", "/healthz", "/readyz"]:
        assert path in paths
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn." not in docs.text  # works on a closed network
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200


def test_placeholder_secret_is_refused_in_production(monkeypatch):
    import pytest
    from pydantic import ValidationError

    from app.core.config import Settings

    monkeypatch.setenv("KOPPELKANS_ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="KOPPELKANS_SECRET_KEY"):
        Settings()
    monkeypatch.setenv("KOPPELKANS_SECRET_KEY", "a-real-and-long-random-secret-value")
    assert Settings().environment == "production"
