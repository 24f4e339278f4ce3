"""Rate limits on anonymous registration and login: per client address, with Retry-After."""

import pytest
from fastapi.testclient import TestClient

from app.core.config import get_settings
from tests.factories import company_payload


@pytest.fixture
def tight_limits(monkeypatch):
    monkeypatch.setenv("KOPPELKANS_REGISTRATION_RATE_LIMIT", "2")
    monkeypatch.setenv("KOPPELKANS_LOGIN_RATE_LIMIT", "2")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _clients(*addresses: str):
    from app.main import create_app

    app = create_app()  # one app: the counters live on it
    return [TestClient(app, client=(address, 40000)) for address in addresses]


def test_one_address_exhausting_its_registrations_does_not_block_another(tight_limits):
    first, second = _clients("192.0.2.10", "192.0.2.20")
    with first, second:
        assert [first.post("/api/v1/companies", json=company_payload()).status_code for _ in range(3)] == [
            202,
            202,
            429,
        ]
        assert second.post("/api/v1/companies", json=company_payload()).status_code == 202


def test_a_forwarded_for_header_from_the_client_does_not_reset_the_limit(tight_limits):
    (client,) = _clients("192.0.2.30")
    with client:
        for _ in range(2):
            assert client.post("/api/v1/companies", json=company_payload()).status_code == 202
        spoofed = client.post(
            "/api/v1/companies", json=company_payload(), headers={"X-Forwarded-For": "198.51.100.7"}
        )
        assert spoofed.status_code == 429


def test_login_limit_is_per_address_and_says_when_to_retry(tight_limits):
    first, second = _clients("192.0.2.40", "192.0.2.50")
    with first, second:
        form = {"username": "nobody", "password": "wrong"}
        statuses = [first.post("/api/v1/auth/token", data=form) for _ in range(3)]
        assert [r.status_code for r in statuses] == [401, 401, 429]
        assert 1 <= int(statuses[-1].headers["Retry-After"]) <= get_settings().rate_limit_window_seconds
        assert "retry in" in statuses[-1].json()["detail"]
        assert second.post("/api/v1/auth/token", data=form).status_code == 401
