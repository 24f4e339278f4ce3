"""The match endpoints through HTTP, for the benchmark (scripts/bench.py calls `measure_http`).

A real server (`koppelkans serve`: uvicorn, one worker) serves the real app from a SQLite
database holding the scale's companies and needs (inserted in bulk, with the ids the bench
engine uses). Its matching index is the bench engine's own index, saved in the data folder it
serves from: the server loads it at start-up, finds every document unchanged and encodes
nothing, so it answers with the same vectors as the in-process measurements (free text aside,
which the server's real encoders encode).

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

    now = datetime.now(UTC)
    companies = [
        {"id": number, "name": r["name"], "kvk_number": r["kvk_number"], "municipality": r["municipality"],
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


def start_server(env: dict[str, str], log_path: Path) -> tuple[stress.Server, float]:
    """`koppelkans serve` (one worker) on a free loopback port; returns it once /readyz says ready."""
    import httpx

    port = stress.free_port()
    started = time.perf_counter()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
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


def wait_for_precompute(server: stress.Server, timeout_s: float = 900) -> float:
    """Seconds until /readyz says every need's companies are precomputed (the server's
    background thread after start-up), so that the need endpoint is measured as it then serves."""
    import httpx

    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        progress = httpx.get(f"{server.url}/readyz", timeout=5).json().get("needs_precomputed", "0 of 1")
        done, _, total = progress.split()
        if done == total:
            break
        time.sleep(0.5)
    return time.perf_counter() - started


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return {"rss": fields.get("VmRSS", float("nan")), "peak": fields.get("VmHWM", float("nan"))}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (timings on a shared machine vary; this less so)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    """Both match endpoints under load. `data_dir/matching/index` holds the bench engine's saved index."""
    env = stress.server_env(data_dir, None, matching=True)
    env["KOPPELKANS_MULTILINGUAL_ENCODER"] = "true"
    stress.migrate(env)
    insert_corpus(f"sqlite:///{data_dir / 'koppelkans.db'}", company_records, need_records)
    token = stress.create_staff_token(env, role="adviser")
    rng = np.random.default_rng(5)
    need_paths = [f"/api/v1/needs/{int(i) + 1}/matches" for i in rng.permutation(len(need_records))]
    company_paths = [f"/api/v1/companies/{int(i) + 1}/matches"
                     for i in rng.choice(len(company_records), min(len(company_records), 5000), replace=False)]
    server, ready_s = start_server(env, data_dir / "server.log")
    result: dict = {"server_ready_s": round(ready_s, 1), "concurrency": CONCURRENCY, "seconds": args.http_seconds}
    try:
        result["server_precompute_s"] = round(wait_for_precompute(server), 1)
        for key, paths in (("need_matches", need_paths), ("company_matches", company_paths)):
            load(server.url, paths[-200:], token, WARM_UP_S, CONCURRENCY, data_dir)  # warm up
            cpu_before = cpu_seconds(server.process.pid)
            measured = load(server.url, paths, token, args.http_seconds, CONCURRENCY, data_dir)
            cpu_ms = (cpu_seconds(server.process.pid) - cpu_before) * 1000
            result[f"{key}_rps"] = measured["rps"]
            result[f"{key}_server_cpu_ms_per_request"] = cpu_ms / max(1, measured["requests"])
            result[f"{key}_latency"] = {"p50": measured["p50_ms"], "p99": measured["p99_ms"],
                                        "mean": measured["mean_ms"]}
            result[f"{key}_non_2xx"] = measured["non_2xx"]
            result[f"{key}_socket_errors"] = measured["socket_errors"]
            result["load_generator"] = measured["load_generator"]
        memory = memory_mb(server.process.pid)
        result["server_rss_mb"], result["server_peak_rss_mb"] = round(memory["rss"]), round(memory["peak"])
        log = server.log()
        result["server_log_errors"] = log.count("Traceback") + log.count(" 500 ")
    finally:
        server.stop()  # a graceful stop saves the index, with the precomputed candidates
    # A restart: the saved candidates are kept again, so the precompute has nothing to search.
    server, ready_s = start_server(env, data_dir / "server.log")
    try:
        result["server_restart_ready_s"] = round(ready_s, 1)
        result["server_restart_precompute_s"] = round(wait_for_precompute(server), 1)
    finally:
        server.stop()
    result["errors"] = sum(result[f"{k}_{e}"] for k in ("need_matches", "company_matches")
                           for e in ("non_2xx", "socket_errors"))
    return result


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
