"""Two real uvicorn workers on one database, as several workers (or machines) behind a load
balancer run: every need's companies are searched once, by one of them, and the other scores
what it found; a registration through one is matched through the other within seconds, and an
erasure through one is out of the other's answers at once.

Each process has its own engine and index folder; they share only the database: its change log
(`index_change`), the precompute's lease and what it found (app/services/shared_precompute.py).
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import insert

from app.core.db import make_engine
from app.models import Company, Need
from tests.factories import bearer, company_payload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]

NEEDS = [
    "Nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen.",
    "Lichtgewicht composieten frames voor drones en onbemande luchtvaartuigen.",
    "Beschermende kleding en ballistische panelen van aramidevezels voor infanterie.",
    "Actieve gehoorbescherming en communicatieheadsets voor lawaaiige werkplekken.",
    "Waterstofopslag en noodstroom voor kazernes en veldkampen.",
    "Cybersecurity voor industriële besturingssystemen op marinebases.",
]
CAPABILITIES = [
    "precisieverspaning van aluminium en titanium", "spuitgieten van technische kunststoffen",
    "composiet onderdelen voor voertuigen", "lassen en constructiewerk", "printplaatassemblage en elektronica",
    "embedded software voor sensoren", "drones voor inspectie", "radar- en antennetechniek",
    "optische sensoren en camera's", "beschermende kleding en textiel", "batterijpakketten",
    "veldvoeding en catering",
]


def _corpus(database_url: str) -> int:
    """A few needs and companies straight into their tables, before the workers start; returns
    how many needs."""
    companies = [
        {"name": f"Drentse Techniek {number}", "kvk_number": f"{50_000_000 + number:08d}", "municipality": "Emmen",
         "description": f"Wij doen {CAPABILITIES[number % len(CAPABILITIES)]} en "
                        f"{CAPABILITIES[(number * 5 + 3) % len(CAPABILITIES)]}.",
         "contact_email": f"info{number}@example.nl", "sectors": [], "nld_areas": [], "capabilities": [],
         "defence_experience": "none", "consent_matching": True, "consent_defence_contact": False,
         "status": "active", "source": "self"}
        for number in range(36)
    ]
    needs = [{"title": f"Behoefte {number}", "description": text, "kind": "defence_need", "sectors": [],
              "nld_areas": [], "eligible_regions": [], "status": "open", "visibility": "public"}
             for number, text in enumerate(NEEDS)]
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(insert(Company), companies)
        connection.execute(insert(Need), needs)
    engine.dispose()
    return len(needs)


def _start(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _readiness(base: str, process: subprocess.Popen, until, seconds: float = 240) -> dict:
    """/readyz's answer once ``until(answer)`` holds."""
    deadline = time.monotonic() + seconds
    answer: dict = {}
    while time.monotonic() < deadline:
        assert process.poll() is None, f"worker at {base} exited with {process.returncode}"
        try:
            response = httpx.get(f"{base}/readyz", timeout=5)
            answer = response.json()
            if response.status_code == 200 and until(answer):
                return answer
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"worker at {base} not there after {seconds} s: {answer}")


def test_two_workers_search_every_need_once_and_match_each_others_registrations(stress):
    with (
        tempfile.TemporaryDirectory(prefix="koppelkans-workers-") as scratch,
        stress.scratch_database(os.environ.get("KOPPELKANS_DATABASE_URL")) as database_url,
    ):
        database = database_url or f"sqlite:///{scratch}/shared.db"
        env = {**stress.server_env(Path(scratch) / "setup", database, matching=True),
               "KOPPELKANS_DATABASE_URL": database,
               "KOPPELKANS_MULTILINGUAL_ENCODER": "false"}  # one model keeps the starts short
        stress.migrate(env)
        needs = _corpus(database)
        token = stress.create_staff_token(env)
        workers = [_start({**env, "KOPPELKANS_DATA_DIR": str(Path(scratch) / name)}) for name in ("a", "b")]
        try:
            all_kept = f"{needs} of {needs}"
            answers = [_readiness(base, process, lambda answer: answer.get("needs_precomputed") == all_kept)
                       for process, base in workers]

            searched = [answer["precompute"]["searched"] for answer in answers]
            taken = [answer["precompute"]["taken"] for answer in answers]
            assert sum(searched) == needs, f"searched {searched}, taken {taken}: not once per need"
            assert sorted(taken) == [0, needs], f"searched {searched}, taken {taken}"

            (_, first), (_, second) = workers
            need_id = 1  # the night-vision need
            registered = httpx.post(f"{first}/api/v1/companies", headers=bearer(token), timeout=60,
                                    json=company_payload(name="Noordlicht Optiek", description=(
                                        "Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor voertuigen.")))
            assert registered.status_code == 201, registered.text
            assert registered.json()["indexing"] in ("pending", "done")

            deadline = time.monotonic() + 30
            names: list[str] = []
            while time.monotonic() < deadline and names[:1] != ["Noordlicht Optiek"]:
                found = httpx.get(f"{second}/api/v1/needs/{need_id}/matches", headers=bearer(token), timeout=60)
                assert found.status_code == 200, found.text
                names = [item["company"]["name"] for item in found.json()["items"]]
                time.sleep(0.2)
            assert names[:1] == ["Noordlicht Optiek"], f"not matched through the other worker: {names}"

            # An erasure through the second worker is out of the first one's answers at once.
            erased = httpx.delete(f"{second}/api/v1/companies/{registered.json()['id']}", headers=bearer(token),
                                  timeout=60)
            assert erased.status_code == 204, erased.text
            again = httpx.get(f"{first}/api/v1/needs/{need_id}/matches", headers=bearer(token), timeout=60)
            assert "Noordlicht Optiek" not in [item["company"]["name"] for item in again.json()["items"]]
        finally:
            for process, _ in workers:
                process.terminate()
            for process, _ in workers:
                process.wait(timeout=30)
