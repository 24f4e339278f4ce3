"""Security headers on every answer (successes, errors, 404s, the docs page) and the secret check."""

import pytest

from app.core.config import PLACEHOLDER_SECRET, Settings
from tests.factories import bearer

EXPECTED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _assert_headers(response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (
            f"{response.request.url}: {name}={response.headers.get(name)}"
        )
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, csp


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        ("GET", "/healthz", {}, 200),
        ("GET", "/openapi.json", {}, 200),
        ("GET", "/static/swagger/swagger-ui.css", {}, 200),
        ("GET", "/api/v1/taxonomy", {}, 200),
        ("GET", "/no/such/page", {}, 404),
        ("GET", "/api/v1/companies/999999", {"auth": True}, 404),
        ("GET", "/api/v1/companies", {}, 401),
        ("GET", "/api/v1/companies", {"headers": {"Authorization": "Bearer wrong"}}, 401),
        ("POST", "/api/v1/companies", {"json": {"name": "x"}}, 422),
        (
            "POST",
            "/api/v1/companies",
            {"content": b"\xff\xfe", "headers": {"content-type": "application/json"}},
            422,
        ),
        ("POST", "/api/v1/companies", {"content": b"x" * 1_000_001}, 413),
        ("PUT", "/api/v1/companies", {}, 405),
    ],
)
def test_every_kind_of_answer_carries_the_security_headers(
    client, staff_tokens, method, path, kwargs, status
):
    if kwargs.pop("auth", False):
        kwargs["headers"] = bearer(staff_tokens["admin"])
    response = client.request(method, path, **kwargs)
    assert response.status_code == status, response.text[:200]
    _assert_headers(response)


def test_rate_limited_answers_carry_the_security_headers(client, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setenv("KOPPELKANS_LOGIN_RATE_LIMIT", "1")
    get_settings.cache_clear()
    try:
        client.post("/api/v1/auth/token", data={"username": "a", "password": "b"})
        limited = client.post("/api/v1/auth/token", data={"username": "a", "password": "b"})
        assert limited.status_code == 429
        _assert_headers(limited)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_the_docs_page_gets_its_own_policy_and_still_denies_framing(client):
    response = client.get("/docs")
    assert response.status_code == 200
    for name, value in EXPECTED.items():
        assert response.headers[name] == value
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "https:" not in csp  # no CDN: scripts come from this server


def test_api_answers_are_json_not_sniffable_html(client):
    response = client.get("/api/v1/companies/1", headers={"X-Edit-Token": "<script>alert(1)</script>"})
    assert response.headers["content-type"].startswith("application/json")
    assert "<script>" not in response.text


@pytest.mark.parametrize("secret", [PLACEHOLDER_SECRET, ""])
def test_production_refuses_the_placeholder_secret(secret):
    with pytest.raises(ValueError, match="KOPPELKANS_SECRET_KEY"):
        Settings(environment="production", secret_key=secret)


def test_production_starts_with_a_real_secret_and_development_with_the_placeholder():
    assert Settings(environment="production", secret_key="x" * 48).secret_key == "x" * 48
    assert Settings(environment="development").secret_key == PLACEHOLDER_SECRET


def test_the_app_refuses_to_start_in_production_with_the_placeholder(monkeypatch):
    from fastapi.testclient import TestClient

    from app.core.config import get_settings
    from app.main import create_app

    monkeypatch.setenv("KOPPELKANS_ENVIRONMENT", "production")
    monkeypatch.setenv("KOPPELKANS_SECRET_KEY", PLACEHOLDER_SECRET)
    get_settings.cache_clear()
    try:
        with pytest.raises(ValueError, match="KOPPELKANS_SECRET_KEY"), TestClient(create_app()):
            pass
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
