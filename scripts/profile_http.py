"""Where a request's milliseconds go: a real server under load, sampled with py-spy.

    python scripts/profile_http.py [--companies 2000] [--seconds 15] [--endpoints need,company,register]

Builds the benchmark's corpus at a small scale (scripts/bench_corpus.py: real texts, vectors
derived from the real encoders'), serves it with `koppelkans serve` (one worker, SQLite), puts
`wrk` load on one endpoint at a time and samples the server's threads that are on a CPU with
`py-spy record` meanwhile. Every sampled stack is put in one part of the request path (PARTS:
the first whose marker the stack holds), and the server's CPU time per request (from /proc) is
shared out by the samples. Prints one table per endpoint and writes them to
bench-results/profile.json; with `--keep-stacks` also the sampled stacks (flamegraph.pl reads them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402
import bench_corpus as corpus  # noqa: E402
import bench_http  # noqa: E402
import stress  # noqa: E402

CONCURRENCY = 16
REGISTER_CONCURRENCY = 4
PY_SPY = Path(sys.executable).with_name("py-spy")

# Parts of the request path, each recognised by markers in a sampled stack (function names, or
# file paths with a slash). The first part whose marker a stack holds gets the sample.
PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("authentication", ("get_caller ", "user_for_token", "cached_user", "caller_for_company")),
    ("audit writes (journal, its commits)", ("MatchPage.record", "journal_entry", "RecordJournal", "recording.py",
                                             "audit.py")),
    ("index write (encoding, engine)", ("apply_committed", "_apply_change", "IndexFollower", "indexer.py",
                                        "writes.py", "encoders.py", "vectors.py")),
    ("explanation", ("_explained ", "explain.py")),
    ("ranking", ("Searcher.match", "ranking.py", "fusion.py", "search.py", "materialised.py", "lexical.py")),
    ("serialisation", ("serialize_response", "jsonable_encoder", "json/encoder.py", "model_dump", "to_out",
                       "_company_items", "_need_items", "orjson", "json_answer", "render ")),
    ("validation", ("pydantic", "request_body_to_args", "solve_dependencies")),
    ("database", ("sqlalchemy/", "sqlite3", "psycopg", "app/core/db.py", "services/")),
    ("framework (uvicorn, starlette, asyncio)", ("uvicorn/", "starlette/", "fastapi/", "asyncio/", "h11",
                                                 "httptools", "anyio/")),
]
OTHER = "other"

REGISTER_LUA = """
local counter = 0
local token = "%(token)s"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. token
non_2xx = 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
function request()
  counter = counter + 1
  local kvk = string.format("%%08d", 60000000 + counter)
  local body = '{"name": "Profiel Techniek ' .. kvk .. '", "kvk_number": "' .. kvk .. '", ' ..
    '"municipality": "Emmen", "description": "%(description)s", "contact_email": "info' .. kvk ..
    '@example.nl", "consent": true, "sectors": ["maakindustrie"]}'
  return wrk.format(nil, "/api/v1/companies", nil, body)
end
function response(status) if status < 200 or status > 299 then non_2xx = non_2xx + 1 end end
function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non_2xx") end
  io.write(string.format('RESULT {"requests": %%d, "seconds": %%.6f, "p50_ms": %%.3f, "p99_ms": %%.3f, ' ..
    '"mean_ms": %%.3f, "non_2xx": %%d, "socket_errors": %%d}\\n', summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def prepare(data_dir: Path, companies: int) -> tuple[list[dict], list[dict]]:
    """The benchmark's corpus, indexed with derived vectors and precomputed, saved where a server
    serving `data_dir` loads it."""
    from app.matching.engine import MatchEngine

    pools, company_records, need_records = bench.build_corpus(companies)
    dense, multilingual = bench.real_encoders()
    derived = bench.derived_encoders(pools, dense, multilingual)
    engine = MatchEngine(data_dir / "matching", *derived)
    engine.sync("need", [corpus.need_document(i + 1, r) for i, r in enumerate(need_records)])
    engine.sync("company", [corpus.company_document(i + 1, r) for i, r in enumerate(company_records)])
    engine.precompute()
    engine.save()
    engine.close()
    return company_records, need_records


def part_of(stack: str) -> str:
    for part, markers in PARTS:
        if any(marker in stack for marker in markers):
            return part
    return OTHER


def shares(raw: Path) -> dict[str, float]:
    """Each part's share of the sampled stacks (py-spy's raw format: `frame;frame;… count`)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[part_of(stack)] += int(count)
    total = sum(counts.values()) or 1
    return {part: counts[part] / total for part in [p for p, _ in PARTS] + [OTHER]}


def profile_load(server: stress.Server, run_load, seconds: float, folder: Path, name: str, keep_stacks: bool) -> dict:
    """`run_load(seconds)` while py-spy samples the server; the CPU per request shared out by part."""
    raw = folder / f"{name}.txt"
    spy = subprocess.Popen([str(PY_SPY), "record", "--pid", str(server.process.pid), "--format", "raw",
                            "--rate", "250", "--duration", str(round(seconds) + 1), "--threads", "-o", str(raw),
                            "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    cpu_before = bench_http.cpu_seconds(server.process.pid)
    measured = run_load(seconds)
    cpu_ms = (bench_http.cpu_seconds(server.process.pid) - cpu_before) * 1000 / max(1, measured["requests"])
    spy.wait(timeout=120)
    result = {"rps": measured["requests"] / measured["seconds"], "p50_ms": measured["p50_ms"],
              "p99_ms": measured["p99_ms"], "errors": measured["non_2xx"] + measured["socket_errors"],
              "cpu_ms_per_request": cpu_ms, "load_average": bench.load_average()}
    if raw.exists():
        result["parts"] = {part: {"share": share, "cpu_ms": share * cpu_ms} for part, share in shares(raw).items()}
        if keep_stacks:
            kept = bench.RESULTS / f"profile-{name}.txt"
            shutil.copy(raw, kept)
            result["stacks"] = str(kept.relative_to(ROOT))
    return result


def render(name: str, result: dict) -> str:
    lines = [f"{name}: {result['rps']:.0f} requests/s, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
             f"{result['errors']} errors, server CPU {result['cpu_ms_per_request']:.2f} ms per request "
             f"(load average {result['load_average']:.1f})",
             "| part | share of samples | CPU ms per request |", "|---|---|---|"]
    for part, values in result.get("parts", {}).items():
        lines.append(f"| {part} | {values['share'] * 100:.0f} % | {values['cpu_ms']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--endpoints", default="need,company,register")
    parser.add_argument("--keep-stacks", action="store_true",
                        help="keep py-spy's sampled stacks in bench-results/profile-<endpoint>.txt")
    args = parser.parse_args()
    if not PY_SPY.exists():
        parser.error(f"py-spy is not installed beside {sys.executable}: pip install py-spy")
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (make bench installs it)")
    bench.RESULTS.mkdir(exist_ok=True)
    report: dict = {"companies": args.companies, "needs": bench.NEEDS, "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    with tempfile.TemporaryDirectory(dir=bench.RESULTS) as scratch:
        data_dir = Path(scratch)
        print(f"building {args.companies:,} companies × {bench.NEEDS:,} needs", flush=True)
        company_records, need_records = prepare(data_dir, args.companies)
        env = stress.server_env(data_dir, None, matching=True)
        env["KOPPELKANS_MULTILINGUAL_ENCODER"] = "true"
        stress.migrate(env)
        bench_http.insert_corpus(f"sqlite:///{data_dir / 'koppelkans.db'}", company_records, need_records)
        token = stress.create_staff_token(env, role="adviser")
        server, _ = bench_http.start_server(env, data_dir / "server.log")
        try:
            bench_http.wait_for_precompute(server)
            rng = np.random.default_rng(5)
            paths = {
                "need": [f"/api/v1/needs/{int(i) + 1}/matches" for i in rng.permutation(len(need_records))],
                "company": [f"/api/v1/companies/{int(i) + 1}/matches" for i in rng.permutation(len(company_records))],
            }
            for endpoint in [e.strip() for e in args.endpoints.split(",") if e.strip()]:
                if endpoint == "register":
                    def run_load(seconds: float) -> dict:
                        return register_load(server.url, token, seconds, data_dir)
                else:
                    chosen = paths[endpoint]
                    bench_http.load(server.url, chosen[-200:], token, 3, CONCURRENCY, data_dir)  # warm up

                    def run_load(seconds: float, chosen: list[str] = chosen) -> dict:
                        return bench_http.load(server.url, chosen, token, seconds, CONCURRENCY, data_dir)
                result = profile_load(server, run_load, args.seconds, data_dir, endpoint, args.keep_stacks)
                report[endpoint] = result
                print(render(endpoint, result), flush=True)
        finally:
            server.stop()
    (bench.RESULTS / "profile.json").write_text(json.dumps(report, indent=1))


def register_load(url: str, token: str, seconds: float, folder: Path) -> dict:
    description = corpus.NL_CAPABILITIES[0].capitalize() + ", " + ", ".join(corpus.NL_CAPABILITIES[1:12]) + "."
    script = folder / "register.lua"
    # Inside a JSON string inside a single-quoted Lua string ("camera's" would end the latter,
    # and wrk then sends its default request without the script).
    quoted = json.dumps(description)[1:-1].replace("\\", "\\\\").replace("'", "\\'")
    script.write_text(REGISTER_LUA % {"token": token, "description": quoted})
    done = subprocess.run(["wrk", "-t1", f"-c{REGISTER_CONCURRENCY}", f"-d{max(1, round(seconds))}s", "--timeout",
                           "30s", "-s", str(script), url], check=True, capture_output=True, text=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


if __name__ == "__main__":
    main()
