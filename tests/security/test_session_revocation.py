"""Finding 3: sessions and tokens can be ended. A user's session version is raised by logging out
everywhere (API and web), a new password, disabling the user, or `koppelkans users revoke NAME`;
every cookie and bearer token issued before then stops working, at once."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app as cli
from tests.factories import bearer, make_user
from tests.web.conftest import PASSWORD, log_in

USERNAME = "sessie-adviseur"


@pytest.fixture
def adviser(session):
    user, api_token = make_user(session, role="adviser", username=USERNAME, password=PASSWORD)
    return user, api_token


def _login_token(client: TestClient) -> str:
    response = client.post("/api/v1/auth/token", data={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _saved_cookie(client: TestClient) -> str:
    assert log_in(client, USERNAME).status_code == 303
    return client.cookies["kk_session"]


def _works(client: TestClient, *, token: str | None = None, cookie: str | None = None) -> bool:
    if token is not None:
        return client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    client.cookies.clear()
    client.cookies.set("kk_session", cookie or "", path="/ui")
    return client.get("/ui/zoeken", follow_redirects=False).status_code == 200


def _cli(*args: str, password: str | None = None) -> None:
    result = CliRunner().invoke(cli, list(args), input=f"{password}\n{password}\n" if password else None)
    assert result.exit_code == 0, result.output


ENDINGS: dict[str, Callable] = {
    "API logout everywhere": lambda client, token: client.post("/api/v1/auth/logout-everywhere", headers=bearer(token)),
    "new password": lambda client, token: _cli("users", "set-password", USERNAME, password="een nieuw wachtwoord!"),
    "revoke": lambda client, token: _cli("users", "revoke", USERNAME),
    "disable": lambda client, token: _cli("users", "disable", USERNAME),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_every_cookie_and_token_issued_before_stops_working(client, adviser, ending):
    _user, api_token = adviser
    login_token = _login_token(client)
    cookie = _saved_cookie(client)
    assert _works(client, token=api_token) and _works(client, token=login_token) and _works(client, cookie=cookie)
    ENDINGS[ending](client, login_token)
    assert not _works(client, token=api_token)
    assert not _works(client, token=login_token)
    assert not _works(client, cookie=cookie)


def test_logging_in_again_afterwards_works(client, adviser):
    old = _login_token(client)
    _cli("users", "revoke", USERNAME)
    assert not _works(client, token=old)
    assert _works(client, token=_login_token(client))
    assert _works(client, cookie=_saved_cookie(client))


def test_enabling_a_disabled_user_does_not_bring_its_old_tokens_back(client, adviser):
    old = _login_token(client)
    _cli("users", "disable", USERNAME)
    assert client.post("/api/v1/auth/token", data={"username": USERNAME, "password": PASSWORD}).status_code == 401
    _cli("users", "enable", USERNAME)
    assert not _works(client, token=old)
    assert _works(client, token=_login_token(client))


def test_logging_out_everywhere_in_the_web_interface_ends_api_tokens_too(client, adviser):
    from tests.web.conftest import csrf_from

    _user, api_token = adviser
    cookie = _saved_cookie(client)
    page = client.get("/ui/zoeken")
    assert "Overal uitloggen" in page.text
    response = client.post("/ui/uitloggen-overal", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert not _works(client, token=api_token)
    assert not _works(client, cookie=cookie)


def test_logging_out_in_the_browser_ends_that_cookie_even_where_a_copy_was_kept(client, adviser):
    """A copy of the cookie (a shared computer's browser profile, a stolen cookie) stops working
    when its person logs out there; the person's other logins stay."""
    from tests.web.conftest import csrf_from

    _user, api_token = adviser
    other_browser = _saved_cookie(client)
    cookie = _saved_cookie(client)
    page = client.get("/ui/zoeken")
    response = client.post("/ui/uitloggen", data={"csrf_token": csrf_from(page.text)}, follow_redirects=False)
    assert response.status_code == 303
    assert not _works(client, cookie=cookie)
    assert _works(client, cookie=other_browser) and _works(client, token=api_token)


def test_other_users_keep_their_sessions(client, adviser, session):
    _other, other_token = make_user(session, role="scout")
    _cli("users", "revoke", USERNAME)
    assert _works(client, token=other_token)


def test_revoking_an_unknown_user_says_so():
    result = CliRunner().invoke(cli, ["users", "revoke", "niemand"])
    assert result.exit_code == 1 and "no user named 'niemand'" in result.output


def test_logging_out_ends_this_token_only(client, adviser):
    _user, api_token = adviser
    leaving = _login_token(client)
    staying = _login_token(client)
    assert _works(client, token=leaving)  # and now looked up lately: kept a few seconds

    response = client.post("/api/v1/auth/logout", headers=bearer(leaving))

    assert response.status_code == 204
    assert not _works(client, token=leaving)
    assert _works(client, token=staying) and _works(client, token=api_token)
    again = client.post("/api/v1/auth/logout", headers=bearer(leaving))
    assert again.status_code == 401
