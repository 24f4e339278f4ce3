"""Crash safety: a registration that was answered 201 survives the server being killed with SIGKILL.

The registrations are an adviser's (201 with the edit token; an anonymous one is answered 202 and
its edit link goes by e-mail).

The real server runs as its own process on a loopback port with its own data folder (or its own
scratch PostgreSQL database). Four clients register companies in a stream over HTTP; the process is
killed mid-stream, while requests are in flight, then started again on the same data.
"""

import os
import threading
import time

import httpx
import pytest
from sqlalchemy import text

from app.core.db import make_engine

# SQLite only: there the application process itself writes the database file, so killing it is the
# risk under test. With PostgreSQL the kill stops a client; committed data is the database server's.
pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only, pytest.mark.timeout(300)]

KILL_AFTER = int(os.environ.get("KOPPELKANS_CRASH_REGISTRATIONS", "40"))  # acknowledged registrations
WRITERS = 4


def _database_url(env: dict[str, str]) -> str:
    return env.get("KOPPELKANS_DATABASE_URL") or f"sqlite:///{env['KOPPELKANS_DATA_DIR']}/koppelkans.db"


def test_every_acknowledged_registration_survives_sigkill(stress, tmp_path):
    with stress.running_server(os.environ.get("KOPPELKANS_DATABASE_URL")) as (server, token, env):
        assert KILL_AFTER + 2 * WRITERS < 100, "the findability check below reads at most 100 results"
        acknowledged: list[tuple[dict, dict]] = []  # (payload sent, 201 answer)
        in_doubt: list[dict] = []  # sent, but the connection died before an answer
        lock = threading.Lock()
        killed = threading.Event()

        def writer(no: int) -> None:
            adviser = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server.url, timeout=30, headers=adviser) as http:
                while not killed.is_set():
                    payload = stress.registration(no)
                    try:
                        response = http.post("/api/v1/companies", json=payload)
                    except httpx.TransportError:
                        with lock:
                            in_doubt.append(payload)
                        return
                    assert response.status_code == 201, response.text
                    with lock:
                        acknowledged.append((payload, response.json()))

        threads = [threading.Thread(target=writer, args=(no,)) for no in range(WRITERS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()  # SIGKILL, mid-stream: the writers have requests in flight
        killed.set()
        for thread in threads:
            thread.join(timeout=60)
        assert len(acknowledged) >= KILL_AFTER, "the stream did not get going before the deadline"

        # The restart runs with matching on (the real bundled models): it rebuilds the index from the
        # database, so every acknowledged registration must be findable through matching too.
        restarted = stress.start_server({**env, "KOPPELKANS_MATCHING_ENABLED": "true"}, tmp_path / "restarted.log")
        try:
            with httpx.Client(base_url=restarted.url, timeout=60) as http:
                _wait_until_ready(http)
                for payload, answer in acknowledged:
                    response = http.get(
                        f"/api/v1/companies/{answer['id']}", headers={"X-Edit-Token": answer["edit_token"]}
                    )
                    assert response.status_code == 200, f"registration {answer['id']} got 201 but is gone"
                    stored = response.json()
                    assert (stored["name"], stored["kvk_number"], stored["contact"]["email"]) == (
                        payload["name"],
                        payload["kvk_number"],
                        payload["contact_email"],
                    )
                # Every company has the same description, so a search for it returns all indexed
                # companies (up to the limit): the index must hold exactly the database's companies.
                found = http.post(
                    "/api/v1/search",
                    json={"text": acknowledged[0][0]["description"], "target": "companies", "limit": 100,
                          "min_fit": "weak"},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert found.status_code == 200, found.text
                indexed = {item["company"]["id"] for item in found.json()["items"]}
                missing = {answer["id"] for _, answer in acknowledged} - indexed
                assert not missing, f"acknowledged but not findable through matching: {sorted(missing)}"
                assert indexed == _company_ids(_database_url(env)), "the index and the database disagree"
                # The restarted server takes new writes (no lock or half-written state left behind).
                registered = http.post("/api/v1/companies", json=stress.registration(99),
                                       headers={"Authorization": f"Bearer {token}"})
                assert registered.status_code == 201
        finally:
            restarted.stop()

        _assert_database_consistent(_database_url(env), acknowledged, in_doubt)
        print(
            f"\ncrash safety: {len(acknowledged)} acknowledged before SIGKILL, all present after restart; "
            f"{len(in_doubt)} in flight"
        )


def _wait_until_ready(http: httpx.Client, seconds: float = 240) -> None:
    """Until /readyz says ready: the models load and the index is rebuilt in the background."""
    deadline = time.monotonic() + seconds
    while True:
        answer = http.get("/readyz")
        if answer.status_code == 200:
            return
        assert time.monotonic() < deadline, f"not ready after {seconds} s: {answer.text}"
        time.sleep(1)


def _company_ids(url: str) -> set[int]:
    engine = make_engine(url)
    try:
        with engine.connect() as db:
            return {row[0] for row in db.execute(text("SELECT id FROM company")).all()}
    finally:
        engine.dispose()


def _assert_database_consistent(url: str, acknowledged: list, in_doubt: list[dict]) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as db:
            if engine.dialect.name == "sqlite":
                assert db.execute(text("PRAGMA integrity_check")).scalar() == "ok"
                assert db.execute(text("PRAGMA foreign_key_check")).all() == []
            rows = {
                kvk: (name, email)
                for kvk, name, email in db.execute(
                    text("SELECT kvk_number, name, contact_email FROM company")
                ).all()
            }
            # A registration and its audit line are one transaction: both or neither.
            unaudited = db.execute(
                text(
                    "SELECT id FROM company WHERE id NOT IN (SELECT subject_id FROM auditevent "
                    "WHERE action = 'register' AND subject_type = 'company')"
                )
            ).all()
            orphans = db.execute(
                text(
                    "SELECT subject_id FROM auditevent WHERE action = 'register' "
                    "AND subject_type = 'company' AND subject_id NOT IN (SELECT id FROM company)"
                )
            ).all()
    finally:
        engine.dispose()
    assert not unaudited, f"companies without their registration audit line: {unaudited}"
    assert not orphans, f"registration audit lines without their company: {orphans}"
    for payload, _answer in acknowledged:
        assert rows.get(payload["kvk_number"]) == (payload["name"], payload["contact_email"])
    for payload in in_doubt:  # an unanswered registration is stored completely or not at all
        assert rows.get(payload["kvk_number"]) in (None, (payload["name"], payload["contact_email"]))
