"""Two real uvicorn workers on one database: a write through one is found by a search through the other.

Each process has its own engine and index folder, as separate uvicorn workers do; they share only
the database, whose change log (`index_change`) tells each worker what to catch up on.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.factories import bearer, company_payload, need_payload

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_only, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, process: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"worker at {base} exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"worker at {base} not ready after {seconds} s")


@pytest.fixture
def two_workers(tmp_path):
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    base_env = {
        **os.environ,
        "KOPPELKANS_DATABASE_URL": database,
        "KOPPELKANS_ENVIRONMENT": "development",
        # One model keeps start-up short; the change log does not depend on the encoders.
        "KOPPELKANS_MULTILINGUAL_ENCODER": "false",
        "KOPPELKANS_MATCHING_ENABLED": "true",
        "PYTHONPATH": str(ROOT),
    }
    cli = [sys.executable, "-m", "app.cli"]
    setup_env = {**base_env, "KOPPELKANS_DATA_DIR": str(tmp_path / "setup")}
    subprocess.run([*cli, "db", "upgrade"], env=setup_env, cwd=ROOT, check=True, capture_output=True)
    created = subprocess.run([*cli, "users", "create", "adviser1", "--role", "adviser"], env=setup_env,
                             cwd=ROOT, check=True, capture_output=True, text=True)
    token = created.stdout.strip().splitlines()[-1]
    processes, bases = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            env = {**base_env, "KOPPELKANS_DATA_DIR": str(tmp_path / name)}
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", str(port)],
                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))
            bases.append(f"http://127.0.0.1:{port}")
        for base, process in zip(bases, processes, strict=True):
            wait_ready(base, process)
        yield bases, token
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def test_a_write_through_one_worker_is_found_through_the_other(two_workers):
    (first, second), token = two_workers
    need = httpx.post(f"{first}/api/v1/needs", headers=bearer(token), timeout=60, json=need_payload(
        title="Nachtzicht",
        description="Nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen."))
    assert need.status_code == 201, need.text
    company = httpx.post(f"{first}/api/v1/companies", headers=bearer(token), timeout=60, json=company_payload(
        name="Noordlicht Optiek", description="Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's."))
    assert company.status_code == 201, company.text

    found = httpx.get(f"{second}/api/v1/needs/{need.json()['id']}/matches", headers=bearer(token), timeout=60)
    assert found.status_code == 200, (found.text, httpx.get(f"{second}/readyz").text)
    assert [item["company"]["name"] for item in found.json()["items"]][:1] == ["Noordlicht Optiek"]

    # An erasure through the second worker disappears from the first one's results.
    erased = httpx.delete(f"{second}/api/v1/companies/{company.json()['id']}", headers=bearer(token),
                          timeout=60)
    assert erased.status_code == 204, erased.text
    again = httpx.get(f"{first}/api/v1/needs/{need.json()['id']}/matches", headers=bearer(token),
                      timeout=60)
    assert again.status_code == 200, again.text
    assert "Noordlicht Optiek" not in [item["company"]["name"] for item in again.json()["items"]]
