"""Finding 4: rate limits cannot be dodged with X-Forwarded-For. The server believes forwarded headers
only from KOPPELKANS_TRUSTED_PROXIES (empty by default), tested through uvicorn's own configuration
as `koppelkans serve` builds it."""

import asyncio

import httpx
import pytest
import uvicorn

from app.core.config import Settings, get_settings

WRONG = {"username": "admin", "password": "geraden"}
LIMIT = 5


def _serve_options(monkeypatch) -> dict:
    """The options `koppelkans serve` hands uvicorn (uvicorn.run caught, so nothing listens)."""
    from typer.testing import CliRunner

    from app.cli import app as cli

    caught: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: caught.update(options))
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    return {name: value for name, value in caught.items() if name not in ("host", "port", "workers")}


def _statuses(trusted_proxies: str, peer: str, monkeypatch, tries: int = 12) -> list[int]:
    """Status of each of `tries` wrong logins from `peer`, each with a new X-Forwarded-For, through
    uvicorn configured as `koppelkans serve` configures it."""
    from app.main import create_app

    monkeypatch.setenv("KOPPELKANS_LOGIN_RATE_LIMIT", str(LIMIT))
    monkeypatch.setenv("KOPPELKANS_TRUSTED_PROXIES", trusted_proxies)
    get_settings.cache_clear()
    config = uvicorn.Config(create_app(), **_serve_options(monkeypatch))
    config.load()

    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=config.loaded_app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return [
                (await http.post("/api/v1/auth/token", data=WRONG,
                                 headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
                for n in range(tries)
            ]

    try:
        return asyncio.run(run())
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_by_default_no_proxy_is_trusted_and_a_forged_header_gets_a_429(monkeypatch):
    statuses = _statuses("", "127.0.0.1", monkeypatch)
    assert statuses[:LIMIT] == [401] * LIMIT
    assert set(statuses[LIMIT:]) == {429}


def test_a_header_from_an_untrusted_address_is_ignored(monkeypatch):
    statuses = _statuses("10.0.0.5", "192.0.2.7", monkeypatch)
    assert set(statuses[LIMIT:]) == {429}


def test_a_trusted_proxy_s_header_names_the_client(monkeypatch):
    """Behind a configured proxy every client is counted by its own address (the proxy's header)."""
    statuses = _statuses("10.0.0.5", "10.0.0.5", monkeypatch)
    assert set(statuses) == {401}


@pytest.mark.parametrize(("setting", "options"), [
    ("", {"proxy_headers": False}),
    (" 127.0.0.1 , 10.0.0.0/8 ", {"proxy_headers": True, "forwarded_allow_ips": "127.0.0.1,10.0.0.0/8"}),
])
def test_the_setting_becomes_uvicorn_s_options(setting, options):
    assert Settings(trusted_proxies=setting).proxy_options == options
