"""The match endpoints through HTTP, for the benchmark (scripts/bench.py calls `measure_http`).

A real server (`koppelkans serve`: uvicorn, one worker) serves the real app from a SQLite
database holding the scale's companies and needs (inserted in bulk, with the ids the bench
engine uses). Its matching index is the bench engine's own index, saved in the data folder it
serves from: the server loads it at start-up, finds every document unchanged and encodes
nothing, so it answers with the same vectors as the in-process measurements (free text aside,
which the server's real encoders encode).

With `--workers 1,2` the server runs with each number of uvicorn workers in turn, on the same
data, and the result holds each one's numbers and the scaling factor of the requests per second.
The 50-client mixed load of `make stress` (registrations, edits, reads, listings, searches and
matches: scripts/stress.py) runs against the one-worker server as well, with the scale's data.

The load comes from a separate process at a fixed concurrency: `wrk` with a Lua script that
rotates over need (or company) ids with a staff bearer token, or, where `wrk` is not installed,
a threaded httpx client (`python scripts/bench_http.py --load …`), which costs the server some
CPU on a small machine. Reported per endpoint: requests/s, p50/p99 latency, non-2xx responses
and socket errors; for the server: time to ready and RSS, and after a restart (its saved index
holds the precomputed candidates) the time to ready and to every need precomputed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import stress  # noqa: E402  (the server harness of the load test)

READY_TIMEOUT_S = 600
CONCURRENCY = 16
WARM_UP_S = 3

WRK_SCRIPT = """
local paths = {%(paths)s}
local headers = {["Authorization"] = "Bearer %(token)s"}
local threads = {}
local next_path = 0
non_2xx = 0  -- a global: done() reads it from each thread

function setup(thread)
  table.insert(threads, thread)
end

function request()
  next_path = next_path %% #paths + 1
  return wrk.format("GET", paths[next_path], headers)
end

function response(status, response_headers, body)
  if status < 200 or status > 299 then non_2xx = non_2xx + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non_2xx") end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %%d, "seconds": %%.6f, "p50_ms": %%.3f, "p99_ms": %%.3f, "mean_ms": %%.3f, ' ..
    '"non_2xx": %%d, "socket_errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, bad, errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def insert_corpus(database_url: str, company_records: list[dict], need_records: list[dict]) -> None:
    """Companies and needs straight into their tables (ids 1…n, as in the bench engine), fast."""
    from sqlalchemy import insert

    from app.core.db import make_engine
    from app.models import Company, Need
    from app.names import name_key

    now = datetime.now(UTC)
    companies = [
        {"id": number, "name": r["name"], "name_key": name_key(r["name"]), "kvk_number": r["kvk_number"],
         "municipality": r["municipality"],
         "description": r["description"], "contact_name": f"Contact {number}", "contact_email": r["contact_email"],
         "sectors": r["sectors"], "nld_areas": r["nld_areas"], "capabilities": [],
         "defence_experience": r["defence_experience"], "consent_matching": True, "consent_defence_contact": False,
         "status": "active", "source": "self", "created_at": now, "updated_at": now}
        for number, r in enumerate(company_records, start=1)
    ]
    needs = [
        {"id": number, "title": r["title"], "description": r["description"], "kind": r["kind"],
         "sectors": r["sectors"], "nld_areas": r["nld_areas"], "eligible_regions": [], "status": "open",
         "visibility": "public", "created_at": now, "updated_at": now}
        for number, r in enumerate(need_records, start=1)
    ]
    engine = make_engine(database_url)
    with engine.begin() as connection:  # Core inserts: no session, so no change-log rows either
        for table, rows in ((Company, companies), (Need, needs)):
            for start in range(0, len(rows), 2000):
                connection.execute(insert(table), rows[start : start + 2000])
    engine.dispose()


def start_server(env: dict[str, str], log_path: Path, workers: int = 1) -> tuple[stress.Server, float]:
    """`koppelkans serve` on a free loopback port; returns it once /readyz says ready."""
    import httpx

    port = stress.free_port()
    started = time.perf_counter()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
    server = stress.Server(process, f"http://127.0.0.1:{port}", log_path)
    while time.perf_counter() - started < READY_TIMEOUT_S:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200:
                return server, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"the server was not ready within {READY_TIMEOUT_S} s:\n{server.log()[-3000:]}")


def wait_for_precompute(server: stress.Server, workers: int = 1, timeout_s: float = 900) -> float:
    """Seconds until /readyz says every need's companies are precomputed (the server's
    background thread after start-up), so that the need endpoint is measured as it then serves.
    With several workers each answer comes from one of them: it must say so several times in a row."""
    import httpx

    in_a_row = 1 if workers == 1 else 4 * workers
    started, complete = time.perf_counter(), 0
    while time.perf_counter() - started < timeout_s:
        progress = httpx.get(f"{server.url}/readyz", timeout=5).json().get("needs_precomputed", "0 of 1")
        done, _, total = progress.split()
        complete = complete + 1 if done == total else 0
        if complete >= in_a_row:
            break
        time.sleep(0.5 if complete == 0 else 0.05)
    return time.perf_counter() - started


def serving_pids(pid: int) -> list[int]:
    """The process and its children: uvicorn's supervisor and its workers."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if parent == pid:
            children.append(int(stat.parent.name))
    return [pid, *children]


def memory_mb(pid: int) -> dict[str, float]:
    """RSS and peak RSS, summed over the process and its workers."""
    fields = {"VmRSS": 0.0, "VmHWM": 0.0}
    for serving in serving_pids(pid):
        for line in Path(f"/proc/{serving}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in fields:
                fields[key] += int(value.split()[0]) / 1024
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"]}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its workers so far (timings on a shared machine
    vary; this less so)."""
    total = 0
    for serving in serving_pids(pid):
        fields = Path(f"/proc/{serving}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, paths: list[str], token: str, seconds: float, concurrency: int, folder: Path) -> dict:
    script = folder / "rotate.lua"
    script.write_text(WRK_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in paths), "token": token})
    done = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script), url],
        check=True, capture_output=True, text=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def run_python_client(url: str, paths: list[str], token: str, seconds: float, concurrency: int, folder: Path) -> dict:
    paths_file = folder / "paths.json"
    paths_file.write_text(json.dumps(paths))
    done = subprocess.run(
        [sys.executable, __file__, "--load", url, "--paths", str(paths_file), "--token", token,
         "--seconds", str(seconds), "--concurrency", str(concurrency)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def load(url: str, paths: list[str], token: str, seconds: float, concurrency: int, folder: Path) -> dict:
    runner = run_wrk if shutil.which("wrk") else run_python_client
    result = runner(url, paths, token, seconds, concurrency, folder)
    result["rps"] = result["requests"] / result["seconds"]
    result["load_generator"] = "wrk" if runner is run_wrk else "python httpx"
    return result


def measure_http(data_dir: Path, company_records: list[dict], need_records: list[dict], args) -> dict:
    """Both match endpoints under load, per number of workers (`args.workers`), then a restart
    and the mixed load (`args.mixed_requests` requests; 0: none). `data_dir/matching/index`
    holds the bench engine's saved index."""
    env = stress.server_env(data_dir, None, matching=True)
    env["KOPPELKANS_MULTILINGUAL_ENCODER"] = "true"
    stress.migrate(env)
    insert_corpus(f"sqlite:///{data_dir / 'koppelkans.db'}", company_records, need_records)
    token = stress.create_staff_token(env, role="adviser")
    rng = np.random.default_rng(5)
    paths = {
        "need_matches": [f"/api/v1/needs/{int(i) + 1}/matches" for i in rng.permutation(len(need_records))],
        "company_matches": [f"/api/v1/companies/{int(i) + 1}/matches"
                            for i in rng.choice(len(company_records), min(len(company_records), 5000), replace=False)],
    }
    result: dict = {"concurrency": CONCURRENCY, "seconds": args.http_seconds, "by_workers": {}}
    for workers in args.workers:
        print(f"    {workers} worker(s)", flush=True)
        server, ready_s = start_server(env, data_dir / "server.log", workers)
        try:
            measured = {"server_ready_s": round(ready_s, 1),
                        "server_precompute_s": round(wait_for_precompute(server, workers), 1)}
            measured.update(measure_endpoints(server, paths, token, args.http_seconds, data_dir))
            memory = memory_mb(server.process.pid)
            measured["server_rss_mb"], measured["server_peak_rss_mb"] = round(memory["rss"]), round(memory["peak"])
            log = server.log()
            measured["server_log_errors"] = log.count("Traceback") + log.count(" 500 ")
        finally:
            server.stop()  # a graceful stop saves the index, with the precomputed candidates
        result["by_workers"][str(workers)] = measured
    # The first number of workers's numbers are the endpoints' rows (one worker by default).
    result.update(result["by_workers"][str(args.workers[0])])
    result["workers"] = args.workers[0]
    if len(args.workers) > 1:
        fewest, most = (result["by_workers"][str(n)] for n in (min(args.workers), max(args.workers)))
        result["scaling"] = {key: most[f"{key}_rps"] / max(1e-9, fewest[f"{key}_rps"]) for key in paths}
    # A restart: the saved candidates are kept again, so the precompute has nothing to search.
    # The mixed load comes last: its registrations change the data.
    server, ready_s = start_server(env, data_dir / "server.log")
    try:
        result["server_restart_ready_s"] = round(ready_s, 1)
        result["server_restart_precompute_s"] = round(wait_for_precompute(server), 1)
        if args.mixed_requests:
            print(f"    the mixed load ({MIXED_CLIENTS} clients, one worker)", flush=True)
            result["mixed_load"] = mixed_load(server, token, args.mixed_requests)
    finally:
        server.stop()
    result["errors"] = sum(result[f"{k}_{e}"] for k in paths for e in ("non_2xx", "socket_errors"))
    return result


def measure_endpoints(server: stress.Server, paths: dict[str, list[str]], token: str, seconds: float,
                      folder: Path) -> dict:
    """Each match endpoint under wrk's load, with the server's CPU per request."""
    result: dict = {}
    for key, chosen in paths.items():
        load(server.url, chosen[-200:], token, WARM_UP_S, CONCURRENCY, folder)  # warm up
        cpu_before = cpu_seconds(server.process.pid)
        measured = load(server.url, chosen, token, seconds, CONCURRENCY, folder)
        cpu_ms = (cpu_seconds(server.process.pid) - cpu_before) * 1000
        result[f"{key}_rps"] = measured["rps"]
        result[f"{key}_server_cpu_ms_per_request"] = cpu_ms / max(1, measured["requests"])
        result[f"{key}_latency"] = {"p50": measured["p50_ms"], "p99": measured["p99_ms"], "mean": measured["mean_ms"]}
        result[f"{key}_non_2xx"] = measured["non_2xx"]
        result[f"{key}_socket_errors"] = measured["socket_errors"]
        result["load_generator"] = measured["load_generator"]
    return result


MIXED_CLIENTS = 50


def mixed_load(server: stress.Server, token: str, requests: int) -> dict:
    """`make stress`'s load (scripts/stress.py: registrations, edits, reads, listings, searches and
    matches from 50 clients) against the scale's server; every acknowledged write read back."""
    import asyncio

    done = asyncio.run(stress.run_load(server.url, token, clients=MIXED_CLIENTS, requests=requests,
                                       time_limit=900, matching=True))
    every = np.array([x for values in done.latencies.values() for x in values] or [float("nan")]) * 1000
    writes = sum(len(done.latencies.get(kind, [])) for kind in ("register", "update"))
    return {"clients": MIXED_CLIENTS, "requests": done.requests, "seconds": done.elapsed,
            "rps": done.requests / max(1e-9, done.elapsed), "write_share": writes / max(1, done.requests),
            "p50": float(np.percentile(every, 50)), "p99": float(np.percentile(every, 99)),
            "by_kind": {kind: {"n": len(values), "p50": float(np.percentile(values, 50)) * 1000,
                               "p99": float(np.percentile(values, 99)) * 1000}
                        for kind, values in done.latencies.items() if values},
            "server_errors": len(done.server_errors), "transport_errors": len(done.transport_errors),
            "lost_writes": len(done.lost_writes),
            "errors": len(done.server_errors) + len(done.transport_errors) + len(done.lost_writes)}


# --- the fallback load generator (its own process) -------------------------------------------


def python_client(url: str, paths: list[str], token: str, seconds: float, concurrency: int) -> dict:
    import httpx

    latencies: list[float] = []
    counts = {"non_2xx": 0, "socket_errors": 0}
    lock, position = threading.Lock(), iter(range(10**12))
    deadline = time.perf_counter() + seconds

    def client() -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            while time.perf_counter() < deadline:
                with lock:
                    path = paths[next(position) % len(paths)]
                started = time.perf_counter()
                try:
                    status = http.get(path).status_code
                except httpx.TransportError:
                    status = None
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if status is None:
                        counts["socket_errors"] += 1
                    elif not 200 <= status < 300:
                        counts["non_2xx"] += 1

    began = time.perf_counter()
    workers = [threading.Thread(target=client) for _ in range(concurrency)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    values = np.array(latencies or [float("nan")])
    return {"requests": len(latencies), "seconds": time.perf_counter() - began,
            "p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99)),
            "mean_ms": float(values.mean()), **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description="The fallback load generator of the HTTP benchmark")
    parser.add_argument("--load", required=True, help="the server's base URL")
    parser.add_argument("--paths", type=Path, required=True, help="a JSON list of paths to rotate over")
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    args = parser.parse_args()
    paths = json.loads(args.paths.read_text())
    print(json.dumps(python_client(args.load, paths, args.token, args.seconds, args.concurrency)))


if __name__ == "__main__":
    main()
