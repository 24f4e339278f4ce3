"""Load test: concurrent clients against a real Koppelkans server on the loopback interface.

    python scripts/stress.py [--clients 50] [--requests 2000] [--url http://127.0.0.1:8000 --token TOKEN]

Without ``--url`` it starts its own server (``python -m uvicorn app.main:app``) on a free loopback port
with a fresh data folder (or the database in ``KOPPELKANS_DATABASE_URL``), migrates it and creates a
staff user. Each client registers companies (as that staff user), updates and reads the ones it registered, reads others
as staff and lists/searches. Afterwards every acknowledged registration and update is read back.
Prints throughput and latency percentiles; exits 1 on any 5xx, connection error or lost write.
The tests in ``tests/reliability/`` import this module for the server harness and the load run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT_SECONDS = 180  # a start loads the encoders; on a busy 2-core machine that can take a minute


# --- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(data_dir: Path, database_url: str | None, matching: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOPPELKANS_")}
    env.update(
        KOPPELKANS_DATA_DIR=str(data_dir),
        KOPPELKANS_ENVIRONMENT="test",
        KOPPELKANS_MATCHING_ENABLED="true" if matching else "false",
        # The load comes from one address: the per-address limits would throttle it.
        KOPPELKANS_REGISTRATION_RATE_LIMIT="1000000",
        KOPPELKANS_LOGIN_RATE_LIMIT="1000000",
        PYTHONPATH=str(ROOT),
    )
    if database_url:
        env["KOPPELKANS_DATABASE_URL"] = database_url
    return env


def migrate(env: dict[str, str]) -> None:
    """`koppelkans db upgrade` against the server's database, in a child process with its settings."""
    code = "from app import migrate; migrate.upgrade()"
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)


def create_staff_token(env: dict[str, str], role: str = "adviser") -> str:
    code = (
        "import secrets\n"
        "from app.core.db import session_scope\n"
        "from app.services import users\n"
        "with session_scope() as s:\n"
        f"    u = users.create_user(session=s, username='load-' + secrets.token_hex(4), role={role!r})\n"
        "    token, _ = users.issue_token(session=s, user=u)\n"
        "print(token)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )
    return done.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing, as when the machine or the OOM killer stops it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_server(env: dict[str, str], log_path: Path) -> Server:
    port = free_port()
    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"the server did not become ready within {READY_TIMEOUT_SECONDS} s:\n{server.log()}")


@contextmanager
def scratch_database(database_url: str | None):
    """For PostgreSQL, a new empty database beside the given one (dropped afterwards), so a load or crash
    run never shares tables with a test session; for SQLite (None), nothing: the data folder is new."""
    if not database_url:
        yield None
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"koppelkans_scratch_{os.getpid()}_{next(_scratch_numbers)}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


_scratch_numbers = itertools.count()


@contextmanager
def running_server(database_url: str | None = None, matching: bool = False):
    """A migrated server with a staff token on a fresh database: yields (server, token, env).

    With ``matching`` the server loads the real bundled models and is ready once its index is.
    """
    with (
        tempfile.TemporaryDirectory(prefix="koppelkans-stress-") as scratch,
        scratch_database(database_url) as scratch_url,
    ):
        env = server_env(Path(scratch), scratch_url, matching)
        migrate(env)
        token = create_staff_token(env)
        server = start_server(env, Path(scratch) / "server.log")
        try:
            if matching:
                wait_until_ready(server.url)
            yield server, token, env
        finally:
            server.stop()


def wait_until_ready(url: str, seconds: float = 240) -> None:
    """Until /readyz answers 200 (models loaded, index built)."""
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=30) as http:
        while http.get("/readyz").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready after {seconds} s")
            time.sleep(0.5)


# --- the load --------------------------------------------------------------------------------

MUNICIPALITIES = ("Emmen", "Assen", "Hoogeveen", "Meppel", "Coevorden", "Groningen", "Leeuwarden")
_kvk = itertools.count(int(time.time()) % 1_000_000 * 10)


def registration(client_no: int) -> dict:
    kvk = f"{70_000_000 + next(_kvk) % 29_999_999:08d}"
    return {
        "name": f"Loadtest Bedrijf {client_no}-{kvk}",
        "kvk_number": kvk,
        "municipality": random.choice(MUNICIPALITIES),
        "description": "Precisiebewerking, sensoren en lichtgewicht composieten voor zware omstandigheden.",
        "contact_name": f"Contact {kvk}",
        "contact_email": f"info-{kvk}@loadtest.example",
        "sectors": ["maakindustrie"],
        "nld_areas": ["sensoren"],
        "consent": True,
    }


@dataclass
class Owned:
    """A company one client registered. Only that client changes it: its last acknowledged update is known."""

    id: int
    edit_token: str
    name: str
    employees: int | None = None  # the last value whose PATCH got 200


@dataclass
class LoadResult:
    clients: int
    requests: int = 0
    elapsed: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    lost_writes: list[str] = field(default_factory=list)
    owned: list[Owned] = field(default_factory=list)
    updates_acknowledged: int = 0

    def record(self, kind: str, started: float, response: httpx.Response) -> None:
        self.requests += 1
        self.latencies.setdefault(kind, []).append(time.perf_counter() - started)
        self.statuses[f"{kind} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.server_errors.append(f"{kind} {response.status_code}: {response.text[:200]}")

    @property
    def ok(self) -> bool:
        return not (self.server_errors or self.transport_errors or self.lost_writes)

    def summary(self) -> str:
        every = sorted(x for values in self.latencies.values() for x in values)
        lines = [
            f"{self.requests} requests from {self.clients} concurrent clients in {self.elapsed:.1f} s: "
            f"{self.requests / self.elapsed:.0f} requests/s",
            f"latency ms (all): {percentiles(every)}",
        ]
        lines += [
            f"  {kind:<9} n={len(values):<5} {percentiles(sorted(values))}"
            for kind, values in sorted(self.latencies.items())
        ]
        lines.append(
            f"registrations acknowledged: {len(self.owned)}, "
            f"updates acknowledged: {self.updates_acknowledged}"
        )
        lines.append(f"statuses: {dict(sorted(self.statuses.items()))}")
        lines.append(
            f"5xx: {len(self.server_errors)}, connection errors: {len(self.transport_errors)}, "
            f"lost writes: {len(self.lost_writes)}"
        )
        for problem in (self.server_errors + self.transport_errors + self.lost_writes)[:10]:
            lines.append(f"  ! {problem}")
        return "\n".join(lines)


def percentiles(sorted_seconds: list[float]) -> str:
    if not sorted_seconds:
        return "-"

    def at(q: float) -> float:
        return sorted_seconds[min(len(sorted_seconds) - 1, int(q * len(sorted_seconds)))] * 1000

    return f"p50 {at(0.50):.0f}  p95 {at(0.95):.0f}  p99 {at(0.99):.0f}  max {sorted_seconds[-1] * 1000:.0f}"


MATCH_QUERIES = ("nachtzicht en warmtebeeld", "composieten voor drones", "precision machining for aircraft parts",
                 "sensoren voor CBRN-detectie")


async def _client(
    no: int, http: httpx.AsyncClient, staff: dict, budget: itertools.count, total: int, result: LoadResult,
    matching: bool = False,
) -> None:
    mine: list[Owned] = []
    rng = random.Random(no)
    while next(budget) < total:
        roll = rng.random()
        started = time.perf_counter()
        try:
            if roll < 0.30 or not mine:
                payload = registration(no)
                # As an adviser: an anonymous registration is answered 202, its edit link goes by e-mail.
                response = await http.post("/api/v1/companies", json=payload, headers=staff)
                result.record("register", started, response)
                if response.status_code == 201:
                    body = response.json()
                    owned = Owned(body["id"], body["edit_token"], payload["name"])
                    mine.append(owned)
                    result.owned.append(owned)
            elif roll < 0.55:
                owned = rng.choice(mine)
                employees = rng.randint(1, 5000)
                response = await http.patch(
                    f"/api/v1/companies/{owned.id}",
                    json={"employees": employees},
                    headers={"X-Edit-Token": owned.edit_token},
                )
                result.record("update", started, response)
                if response.status_code == 200:
                    owned.employees = employees
                    result.updates_acknowledged += 1
            elif matching and roll < 0.65:
                owned = rng.choice(mine)  # a company asks which needs fit it
                response = await http.get(
                    f"/api/v1/companies/{owned.id}/matches", headers={"X-Edit-Token": owned.edit_token}
                )
                result.record("matches", started, response)
            elif matching and roll < 0.75:
                body = {"text": rng.choice(MATCH_QUERIES), "target": "companies", "limit": 10}
                response = await http.post("/api/v1/search", json=body, headers=staff)
                result.record("search", started, response)
            elif roll < 0.85:
                target = rng.choice(result.owned)  # any client's company, as staff
                response = await http.get(f"/api/v1/companies/{target.id}", headers=staff)
                result.record("read", started, response)
            else:
                params = (
                    {"q": "sensoren", "limit": 20} if roll < 0.95 else {"municipality": "Emmen", "limit": 50}
                )
                response = await http.get("/api/v1/companies", params=params, headers=staff)
                result.record("list", started, response)
        except httpx.TransportError as error:
            result.requests += 1
            result.transport_errors.append(
                f"{type(error).__name__} after {time.perf_counter() - started:.1f} s "
                f"(roll {roll:.2f}): {error}"
            )


async def _verify(http: httpx.AsyncClient, result: LoadResult) -> None:
    """Every acknowledged registration is there, with the last acknowledged update applied."""
    semaphore = asyncio.Semaphore(10)

    async def check(owned: Owned) -> None:
        async with semaphore:
            response = await http.get(
                f"/api/v1/companies/{owned.id}", headers={"X-Edit-Token": owned.edit_token}
            )
        if response.status_code != 200:
            result.lost_writes.append(
                f"company {owned.id}: registered (201) but GET gives {response.status_code}"
            )
            return
        body = response.json()
        if body["name"] != owned.name:
            result.lost_writes.append(f"company {owned.id}: name {body['name']!r} != {owned.name!r}")
        if owned.employees is not None and body["employees"] != owned.employees:
            result.lost_writes.append(
                f"company {owned.id}: employees {body['employees']} != acknowledged {owned.employees}"
            )

    await asyncio.gather(*(check(owned) for owned in result.owned))


async def run_load(
    url: str, staff_token: str, *, clients: int = 50, requests: int = 1000, time_limit: float = 300,
    matching: bool = False,
) -> LoadResult:
    assert url.startswith(("http://127.", "http://localhost")), "the load test runs against loopback only"
    result = LoadResult(clients=clients)
    staff = {"Authorization": f"Bearer {staff_token}"}
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout: reusing one the server is
    # closing at that moment fails on the client side, whatever the server does.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        budget = itertools.count()
        started = time.perf_counter()
        tasks = [_client(no, http, staff, budget, requests, result, matching) for no in range(clients)]
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=time_limit)
        result.elapsed = time.perf_counter() - started
        await _verify(http, result)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--time-limit", type=float, default=600, help="seconds before the run is aborted")
    parser.add_argument("--url", help="a running server on loopback (default: start one)")
    parser.add_argument("--token", help="a staff bearer token for --url")
    parser.add_argument("--no-matching", action="store_true",
                        help="serve without the matching models (registrations, updates, reads and listings only)")
    args = parser.parse_args()
    matching = not args.no_matching
    if args.url:
        if not args.token:
            parser.error("--url needs --token (a staff bearer token)")
        result = asyncio.run(
            run_load(
                args.url, args.token, clients=args.clients, requests=args.requests, time_limit=args.time_limit,
                matching=matching,
            )
        )
    else:
        with running_server(os.environ.get("KOPPELKANS_DATABASE_URL"), matching) as (server, token, _env):
            database = "PostgreSQL" if os.environ.get("KOPPELKANS_DATABASE_URL") else "SQLite"
            print(f"server {server.url} ({database}, 1 worker)")
            result = asyncio.run(
                run_load(
                    server.url,
                    token,
                    clients=args.clients,
                    requests=args.requests,
                    time_limit=args.time_limit,
                    matching=matching,
                )
            )
            if result.server_errors:
                print(server.log()[-3000:])
    print(result.summary())
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
