"""Concurrency: 50 clients at once against the real server; no 5xx, no lost write.

A small run here (``KOPPELKANS_STRESS_REQUESTS``, default 300); ``make stress`` runs larger ones.
"""

import asyncio
import os

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

REQUESTS = int(os.environ.get("KOPPELKANS_STRESS_REQUESTS", "300"))


def test_fifty_concurrent_clients_get_no_server_error_and_lose_no_write(stress):
    """Registrations, updates, reads, listings, a company's matches and free-text searches, mixed;
    the server runs the real bundled models, so every write also updates the matching index."""
    with stress.running_server(os.environ.get("KOPPELKANS_DATABASE_URL"), matching=True) as (server, token, _env):
        result = asyncio.run(
            stress.run_load(server.url, token, clients=50, requests=REQUESTS, time_limit=240, matching=True)
        )
        log = server.log()
    print("\n" + result.summary())
    assert result.requests >= REQUESTS
    assert result.owned, "no registration was acknowledged"
    assert not result.server_errors, f"{result.server_errors[:5]}\n{log[-2000:]}"
    assert not result.transport_errors, result.transport_errors[:5]
    assert not result.lost_writes, result.lost_writes[:5]
    assert "database is locked" not in log
    assert result.statuses["matches 200"] and result.statuses["search 200"], "the mix did not reach matching"
