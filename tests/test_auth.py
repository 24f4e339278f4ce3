"""Login, tokens and roles."""

from tests.factories import bearer, make_user


def test_password_login_gives_a_working_token(client, session):
    make_user(session, role="adviser", username="ibdo-anne", password="geheim-wachtwoord")
    response = client.post("/api/v1/auth/token", data={"username": "ibdo-anne", "password": "geheim-wachtwoord"})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    me = client.get("/api/v1/auth/me", headers=bearer(token))
    assert me.status_code == 200
    assert me.json()["username"] == "ibdo-anne" and me.json()["role"] == "adviser"


def test_wrong_password_and_unknown_user_get_the_same_401(client, session):
    make_user(session, role="adviser", username="ibdo-bert", password="juist")
    wrong = client.post("/api/v1/auth/token", data={"username": "ibdo-bert", "password": "fout"})
    unknown = client.post("/api/v1/auth/token", data={"username": "niemand", "password": "fout"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_tokens_are_stored_hashed(client, session):
    from app.models import ApiToken

    _, token = make_user(session, role="scout")
    stored = session.query(ApiToken).one()
    assert token not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64


def test_login_is_rate_limited_with_retry_after(client, monkeypatch):
    from app.core.config import get_settings

    monkeypatch.setenv("KOPPELKANS_LOGIN_RATE_LIMIT", "3")
    get_settings.cache_clear()
    try:
        statuses = [client.post("/api/v1/auth/token", data={"username": "x", "password": "y"}) for _ in range(4)]
        assert [r.status_code for r in statuses] == [401, 401, 401, 429]
        assert int(statuses[-1].headers["Retry-After"]) >= 1
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_registration_is_rate_limited_for_anonymous_callers_only(client, monkeypatch, staff_tokens):
    from app.core.config import get_settings
    from tests.factories import company_payload

    monkeypatch.setenv("KOPPELKANS_REGISTRATION_RATE_LIMIT", "2")
    get_settings.cache_clear()
    try:
        anonymous = [client.post("/api/v1/companies", json=company_payload()).status_code for _ in range(3)]
        assert anonymous == [202, 202, 429]
        adviser = client.post("/api/v1/companies", json=company_payload(), headers=bearer(staff_tokens["adviser"]))
        assert adviser.status_code == 201
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_me_needs_a_token(client):
    assert client.get("/api/v1/auth/me").status_code == 401
