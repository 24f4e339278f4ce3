"""The Koppelkans benchmark: `make bench` (or `python scripts/bench.py --help`).

Per scale (companies; always 2,000 needs) it measures, in a fresh child process so peak RSS is
that scale's alone:
- index build (sync of both sides, then every need's companies and context as `koppelkans reindex`
  finds them), save and load time; peak RSS of the process;
- stored need → top-10 companies and stored company → top-10 needs, server side (p50/p95/p99);
- the same queries scored exhaustively (every document a candidate: the exact anchor), and the
  recall@10 of the served ranking against it; vector-level recall of the ANN against FAISS flat;
- free-text search with real query encoding; one upsert (write) and searches during writes;
- the weekly list (per need its top companies, per company its top needs);
- match latency and throughput through HTTP: both match endpoints served by a real uvicorn
  server from a database holding the scale's companies and needs, under load from a separate
  process, with one worker or, with `--workers 1,2`, with each number side by side; then the
  50-client mixed load of `make stress` against the same data (bench_http.py).
- with `--vector-store faiss,pgvector`: all of it once per vector store (the pgvector one in the
  PostgreSQL of --postgres-url), reported side by side (HTTP with the FAISS store only).
Once per run: ingest throughput with the real encoders, and through `koppelkans import`.

How vectors are made at scale is explained in bench_corpus.py (real vectors of a sentence
pool, combined per passage). Results: a table on stdout and in docs/performance.md
(scripts/perf_table.py), and bench-results/latest.json.

`--synthetic` measures the engine alone instead, without any model: the same profiles with
vectors seeded by their text (bench_corpus.SeededRandomEncoder); per scale the first build, one
upsert, a save and free-text matches with and without a filter. Results: a table on stdout and
bench-results/synthetic.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_corpus as corpus  # noqa: E402
import bench_http  # noqa: E402
import perf_table  # noqa: E402

RESULTS = ROOT / "bench-results"
SENTENCE_CACHE = RESULTS / "sentence-vectors.sqlite"
NEEDS = 2000
VECTOR_STORES = ("faiss", "pgvector")
BENCH_SCHEMA = "koppelkans_ann_bench"
TARGETS = {
    "match_p99_ms": 5.0, "recall_at_10": 0.98, "free_text_p50_ms": 60.0, "ingest_profiles_per_s": 30.0,
    "weekly_list_s_50k": 60.0, "peak_rss_mb_100k": 2048.0, "http_rps": 300.0, "http_p99_ms": 50.0,
    "upsert_during_merge_p99_ms": 100.0, "mixed_load_p99_ms": 500.0,
}
FREE_TEXT_QUERIES = [
    "actieve gehoorbescherming voor militairen", "drone navigation with multiple sensors",
    "composiet onderdelen voor voertuigen", "predictive maintenance for aircraft", "nachtzicht camera",
    "waterstofopslag voor kazernes", "cyber security for industrial control systems",
    "beschermende kleding van aramidevezels", "satellite communication antennas", "veldvoeding en catering",
]


def percentiles(samples_ms: list[float]) -> dict:
    values = np.array(samples_ms)
    return {"p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "p99": float(np.percentile(values, 99)), "n": len(values)}


def load_average() -> float:
    """The machine's load average over the last minute: numbers measured on shared cores say how busy they were."""
    return round(os.getloadavg()[0], 1)


def peak_rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def build_corpus(companies: int, seed: int = 7):
    rng = np.random.default_rng(seed)
    pools = corpus.sentence_pools(rng)
    company_records = [corpus.company_record(i, pools, rng) for i in range(1, companies + 1)]
    need_records = [corpus.need_record(i, pools, rng) for i in range(1, NEEDS + 1)]
    return pools, company_records, need_records


def real_encoders():
    from app.matching.encoders import UsemEncoder, bundled_dense_encoder

    return bundled_dense_encoder(), UsemEncoder()


def derived_encoders(pools, dense, multilingual):
    sentences = pools.all_sentences()
    return tuple(
        corpus.DerivedEncoder(real, corpus.real_sentence_vectors(real, sentences, SENTENCE_CACHE))
        for real in (dense, multilingual)
    )


def timed_matches(engine, queries, target: str, limit: int = 10) -> tuple[list[float], list[list[int]]]:
    from threadpoolctl import threadpool_limits

    timings, results = [], []
    with threadpool_limits(1, "blas"):  # as the server runs (app/main.py)
        for query in queries:
            started = time.perf_counter()
            found = engine.match(query, target=target, limit=limit)
            timings.append((time.perf_counter() - started) * 1000)
            results.append([m.id for m in found])
    return timings, results


def exact_matches(engine, queries, target: str) -> tuple[list[float], list[list[int]]]:
    """The anchor: the same ranking with every document scored (no candidate generation)."""
    saved = engine.candidate_pool
    engine.candidate_pool = 10**9
    exhaustive = getattr(engine, "exhaustive", None)
    if exhaustive is not None:
        with exhaustive():
            result = timed_matches(engine, queries, target)
    else:
        result = timed_matches(engine, queries, target)
    engine.candidate_pool = saved
    return result


def paired_first_asks(engine, queries, target: str) -> tuple[list[float], list[float], list[list[int]]]:
    """Each query's first ask (nothing kept between asks) and its exhaustive anchor, timed one
    after the other on the same queries, the first ask first for every other query and the
    anchor first for the rest: whichever runs second finds the caches the other warmed (the
    query's stems, its quotes' sentences), so a fixed order would favour it. Returns the first
    asks' timings, the anchor's, and the anchor's answers."""
    first_ms: list[float] = []
    anchor_ms: list[float] = []
    exact: list[list[int]] = []
    for position, query in enumerate(queries):
        for anchor_now in (False, True) if position % 2 == 0 else (True, False):
            if anchor_now:
                timings, answers = exact_matches(engine, [query], target)
                anchor_ms.extend(timings)
                exact.extend(answers)
            else:
                engine.forget_materialised()
                first_ms.extend(timed_matches(engine, [query], target)[0])
    return first_ms, anchor_ms, exact


def recall_at_10(served: list[list[int]], exact: list[list[int]]) -> float:
    scores = [len(set(s[:10]) & set(e[:10])) / max(1, len(e[:10])) for s, e in zip(served, exact, strict=True)]
    return float(np.mean(scores)) if scores else float("nan")


def vector_store(args, *, empty_first: bool = False):
    """The engine's ann_factory for args.vector_store (None: FAISS); pgvector in a schema of the
    bench's own, emptied before the first build so that it measures building."""
    if args.vector_store == "faiss":
        return None
    from app.matching.pgvector_ann import PgvectorStore

    if empty_first:
        drop_bench_schema(args)
    return PgvectorStore(args.postgres_url, schema=BENCH_SCHEMA)


def drop_bench_schema(args) -> None:
    import psycopg

    from app.matching.pgvector_ann import psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(args.postgres_url), autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")


def ann_vector_recall(engine, queries, k: int = 10) -> dict:
    """Per signal, the share of the exact top-k passages (inner product over the company side's
    main segment) that its ANN index returns for the queries' ANN vectors."""
    from app.matching.ann import exact_search
    from app.matching.ranking import ann_queries

    main = engine.snapshot("company").main
    recall = {}
    for signal, index in main.ann.items():
        found = []
        for query in queries:
            vectors = ann_queries(engine.query_view(query).vectors[signal])
            _, approximate = index.search(vectors, k)
            _, exact = exact_search(main.vectors[signal], vectors, k)
            found += [len(set(a) & set(e)) / k for a, e in zip(approximate, exact, strict=True)]
        recall[signal] = round(float(np.mean(found)), 4)
    return recall


def run_scale(companies: int, args) -> dict:
    """Everything measured at one scale (runs in its own process)."""
    from app.matching.engine import MatchEngine

    result: dict = {"companies": companies, "needs": NEEDS, "vector_store": args.vector_store}
    pools, company_records, need_records = build_corpus(companies)
    company_docs = [corpus.company_document(i + 1, r) for i, r in enumerate(company_records)]
    need_docs = [corpus.need_document(i + 1, r) for i, r in enumerate(need_records)]
    result["mean_profile_chars"] = float(np.mean([len(d.text) for d in company_docs]))
    dense, multilingual = real_encoders()
    derived = derived_encoders(pools, dense, multilingual)
    rss_before = peak_rss_mb()

    with tempfile.TemporaryDirectory(dir=RESULTS) as data_dir:
        # The engine's folder is where a server serving `data_dir` keeps its index (bench_http.py).
        folder = Path(data_dir) / "matching"
        engine = MatchEngine(folder, *derived, ann_factory=vector_store(args, empty_first=True))
        started = time.perf_counter()
        engine.sync("need", need_docs)
        engine.sync("company", company_docs)
        result["index_build_s"] = time.perf_counter() - started
        # As `koppelkans reindex` does: every need's companies and context, saved with the index.
        started = time.perf_counter()
        engine.precompute()
        result["index_precompute_s"] = time.perf_counter() - started
        started = time.perf_counter()
        engine.save()
        result["index_save_s"] = time.perf_counter() - started
        engine.close()
        del engine

        # A restart: FAISS reads its saved graphs, pgvector finds its tables again by their hash.
        engine = MatchEngine(folder, *derived, ann_factory=vector_store(args))
        started = time.perf_counter()
        engine.load_or_build(None)
        result["index_load_s"] = time.perf_counter() - started
        result["counts"] = engine.counts()

        rng = np.random.default_rng(11)
        queries = min(args.queries, NEEDS)
        need_queries = [need_docs[int(i)] for i in rng.choice(len(need_docs), queries, replace=False)]
        company_queries = [company_docs[int(i)] for i in rng.choice(len(company_docs), queries, replace=False)]
        timed_matches(engine, need_queries[:20], "company")  # warm caches
        engine.forget_materialised()  # the first asks below find everything themselves
        # What a server's precompute does first: read what every company's page reads of the needs.
        started = time.perf_counter()
        engine.read_needs_for_company_pages()
        result["needs_read_for_company_pages_s"] = time.perf_counter() - started
        for label, qs, target in (("need_to_companies", need_queries, "company"),
                                  ("company_to_needs", company_queries, "need")):
            timings, served = timed_matches(engine, qs, target)
            repeated, _ = timed_matches(engine, qs, target)
            first_timings, exact_timings, exact = paired_first_asks(engine, qs[: args.exact_queries], target)
            result[label] = {**percentiles(timings), "exact_anchor": percentiles(exact_timings),
                             "first_ask_beside_anchor": percentiles(first_timings),
                             # No graph: a first ask scores every document, as the anchor does.
                             "scored_whole": not engine.snapshot(target).main.ann,
                             "recall_at_10_vs_exact": recall_at_10(served[: len(exact)], exact),
                             "asked_again": percentiles(repeated)}
        result["need_to_companies_precomputed"] = measure_precomputed(
            engine, company_docs, need_queries, args)
        result["ann_vector_recall"] = ann_vector_recall(engine, need_queries[:100])

        engine.match(FREE_TEXT_QUERIES[0], target="company", limit=10)  # warm the encoders
        free_ms = []
        for query in FREE_TEXT_QUERIES * 3:
            started = time.perf_counter()
            engine.match(query, target="company" if len(free_ms) % 2 else "need", limit=10)
            free_ms.append((time.perf_counter() - started) * 1000)
        result["free_text"] = percentiles(free_ms)

        result["writes"] = measure_writes(engine, company_docs, need_queries, args)
        result["background_merge"] = measure_background_merge(engine, company_docs, need_queries, company_queries,
                                                               args)
        result["weekly_list"] = measure_weekly(engine, need_docs, company_docs, args)
        result["peak_rss_mb"] = peak_rss_mb()
        result["peak_rss_mb_before_index"] = rss_before
        engine.close()  # the writes above were never saved: the index on disk is the database's
        del engine
        if not args.no_http and args.vector_store == "faiss":
            print("  match endpoints through HTTP", flush=True)
            result["http"] = bench_http.measure_http(Path(data_dir), company_records, need_records, args)
    if args.vector_store == "pgvector":
        drop_bench_schema(args)
    return result


def edited(doc, addition: str):
    """The document with `addition` at the end of its text: a company that edited its profile."""
    return dataclasses.replace(doc, text=doc.text + addition)


def timed_upsert(engine, doc) -> float:
    """Milliseconds the engine took to take in one written document."""
    started = time.perf_counter()
    engine.upsert([doc])
    return (time.perf_counter() - started) * 1000


def measure_precomputed(engine, company_docs, need_queries, args) -> dict:
    """Stored need → companies as the server answers it: every need's candidates precomputed
    (what the server's background thread does after a start or a merge), then a few company
    writes (they go to the delta segment, which every match scores afresh)."""

    started = time.perf_counter()
    searched = engine.precompute()
    precompute_s = time.perf_counter() - started
    for i in range(args.writes):
        doc = company_docs[-1 - i]
        engine.upsert([edited(doc, " Ook reparatie.")])
    timings, served = timed_matches(engine, need_queries, "company")
    repeated, _ = timed_matches(engine, need_queries, "company")
    anchor = need_queries[: args.exact_queries]
    _, exact = exact_matches(engine, anchor, "company")
    result = {**percentiles(timings), "asked_again": percentiles(repeated),
              "recall_at_10_vs_exact": recall_at_10(served[: len(exact)], exact),
              "precompute_s": precompute_s, "needs_precomputed": searched,
              "delta_documents": engine.counts()["company"]["delta_documents"],
              "kept_mb": engine.materialised_bytes() / 2**20}
    # Near the merge threshold (2 % of the main segment's passages): the delta every match scores.
    many = [edited(d, " Ook onderhoud.") for d in company_docs[: int(len(company_docs) * 0.015)]]
    engine.upsert(many)
    big_delta, _ = timed_matches(engine, need_queries, "company")
    result["big_delta"] = {**percentiles(big_delta),
                           "delta_documents": engine.counts()["company"]["delta_documents"]}
    return result


def measure_writes(engine, company_docs, need_queries, args) -> dict:
    """Single upserts (a changed profile), and search latency while a writer thread upserts."""
    import threading

    upsert_ms = []
    for i in range(args.writes):
        doc = company_docs[i]
        upsert_ms.append(timed_upsert(engine, edited(doc, f" Sinds {2000 + i} ook onderhoud.")))
    stop, errors, during = threading.Event(), [], []

    def writer():
        i = 0
        while not stop.is_set():
            doc = company_docs[i % len(company_docs)]
            engine.upsert([edited(doc, f" Versie {i}.")])
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for query in need_queries[:100]:
            started = time.perf_counter()
            try:
                engine.match(query, target="company", limit=10)
            except Exception as error:  # counted, never hidden
                errors.append(repr(error))
            during.append((time.perf_counter() - started) * 1000)
    finally:
        stop.set()
        thread.join()
    return {"upsert": percentiles(upsert_ms), "search_during_writes": percentiles(during), "errors": len(errors)}


def measure_background_merge(engine, company_docs, need_queries, company_queries, args) -> dict:
    """A merge of the company side as the server runs it: the write that lets the delta outgrow
    its share, searches and writes while the merge runs in the background, and stored needs'
    matches right after it was swapped in (their candidates found in the new main segment
    before the swap)."""
    from threadpoolctl import threadpool_limits

    if not engine.snapshot("company").main.ann:  # a side this small is merged by each write, in ms
        return {"skipped": "no HNSW graphs at this scale: every write merges"}

    with threadpool_limits(1, "blas"):  # as the server runs (app/main.py), the merge included
        return _background_merge(engine, company_docs, need_queries, company_queries, args)


def _background_merge(engine, company_docs, need_queries, company_queries, args) -> dict:

    main = engine.snapshot("company").main
    engine.start_precompute()  # the server's background pass (everything is precomputed already)
    engine.enable_background_merges()
    write_ms, i = [], 0
    started = time.perf_counter()
    while engine.snapshot("company").main is main and not engine.merging():
        doc = company_docs[len(company_docs) // 2 + i]
        write_ms.append(timed_upsert(engine, edited(doc, " Ook ontwerp.")))
        i += 1
    result: dict = {"writes_to_cross": i, "crossing_write_ms": write_ms[-1] if write_ms else None,
                    "delta_documents": engine.counts()["company"]["delta_documents"]}
    need_ms, company_ms, during_write_ms, errors = [], [], [], 0
    asked = {d.id for d in company_queries}
    first_asks = [d for d in company_docs[len(company_docs) // 4:] if d.id not in asked]  # nothing kept for them
    queries = 0
    while not engine.wait_for_merges(timeout=0):
        for samples, query, target in ((need_ms, need_queries[queries % len(need_queries)], "company"),
                                       (company_ms, first_asks[queries % len(first_asks)], "need")):
            ask_started = time.perf_counter()
            try:
                engine.match(query, target=target, limit=10)
            except Exception:  # counted, never hidden
                errors += 1
            samples.append((time.perf_counter() - ask_started) * 1000)
        if queries % 50 == 0:  # a company edits its profile now and then
            during_write_ms.append(timed_upsert(engine, edited(company_docs[queries // 50], " Ook advies.")))
        queries += 1
        time.sleep(0.02)  # about 40 asks a second beside the merge
    result["merge_s"] = time.perf_counter() - started
    result["during_merge"] = {"need_to_companies": percentiles(need_ms), "company_to_needs_first_ask":
                              percentiles(company_ms), "upsert": percentiles(during_write_ms), "errors": errors}
    after, served = timed_matches(engine, need_queries, "company")
    _, exact = exact_matches(engine, need_queries[: args.exact_queries], "company")
    result["after_merge"] = {**percentiles(after), "recall_at_10_vs_exact": recall_at_10(served[: len(exact)], exact),
                             "delta_documents": engine.counts()["company"]["delta_documents"]}
    return result


def measure_weekly(engine, need_docs, company_docs, args) -> dict:
    """Per need its top 5 companies and per company its top 5 needs, as the weekly list builds it."""
    batch = getattr(engine, "weekly_pairs", None)
    if batch is not None:
        started = time.perf_counter()
        workers = os.cpu_count() or 1  # as `koppelkans weekly-list` does by default
        batch(companies_per_need=5, needs_per_company=5, workers=workers)
        return {"seconds": time.perf_counter() - started, "method": "batch", "extrapolated": False,
                "workers": workers}
    sample_needs, sample_companies = need_docs[: args.weekly_sample], company_docs[: args.weekly_sample]
    started = time.perf_counter()
    for doc in sample_needs:
        engine.match(doc, target="company", limit=5)
    need_s = (time.perf_counter() - started) / len(sample_needs)
    started = time.perf_counter()
    for doc in sample_companies:
        engine.match(doc, target="need", limit=5)
    company_s = (time.perf_counter() - started) / len(sample_companies)
    total = need_s * len(need_docs) + company_s * len(company_docs)
    return {"seconds": total, "method": "one match per need and per company", "extrapolated": True,
            "sample": args.weekly_sample}


def measure_ingest(args) -> dict:
    """Profiles/s with the real encoders through the engine, and through `koppelkans import`."""
    from app.matching.engine import MatchEngine

    rng = np.random.default_rng(3)
    pools = corpus.sentence_pools(rng)
    count = args.ingest_profiles
    records = [corpus.company_record(900000 + i, pools, rng) for i in range(count)]
    result: dict = {"profiles": count,
                    "mean_chars": float(np.mean([len(r["description"]) for r in records]))}
    dense, multilingual = real_encoders()
    with tempfile.TemporaryDirectory(dir=RESULTS) as folder:
        engine = MatchEngine(Path(folder), dense, multilingual)
        engine.upsert([corpus.company_document(1, records[0])])  # warm-up
        docs = [corpus.company_document(i + 2, r) for i, r in enumerate(records)]
        started = time.perf_counter()
        engine.upsert(docs)
        seconds = time.perf_counter() - started
        result["engine_profiles_per_s"] = count / seconds
        engine.close()
    with tempfile.TemporaryDirectory(dir=RESULTS) as folder:
        data = Path(folder)
        path = data / "companies.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        env = {**os.environ, "KOPPELKANS_DATA_DIR": str(data), "KOPPELKANS_DATABASE_URL": ""}
        cli = [sys.executable, "-m", "app.cli"]
        subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
        started = time.perf_counter()
        subprocess.run([*cli, "import", str(path)], env=env, check=True, capture_output=True, cwd=ROOT)
        seconds = time.perf_counter() - started
        result["import_command_profiles_per_s"] = count / seconds
        result["import_command_note"] = ("whole command: process start, model load, database insert, encoding, "
                                         "index save")
    return result


SYNTHETIC_QUERIES = ("radar en antennes voor schepen", "drones met sensoren", "textiel en coating")


def measure_synthetic(companies: int) -> dict:
    """The engine's own work at one scale, with seeded random vectors (see the module docstring)."""
    from app.matching.engine import MatchEngine

    rng = np.random.default_rng(7)
    pools = corpus.sentence_pools(rng)
    docs = [corpus.company_document(i, corpus.company_record(i, pools, rng)) for i in range(1, companies + 1)]
    result: dict = {"companies": companies}
    with tempfile.TemporaryDirectory(dir=RESULTS) as folder:
        engine = MatchEngine(Path(folder), corpus.SeededRandomEncoder(384, "dense"),
                             corpus.SeededRandomEncoder(512, "multilingual"))
        started = time.perf_counter()
        engine.sync("company", docs)
        result["build_s"] = time.perf_counter() - started
        result["upsert_ms"] = timed_upsert(engine, edited(docs[0], " Ook radar en antennes voor schepen."))
        started = time.perf_counter()
        engine.save()
        result["save_s"] = time.perf_counter() - started
        a_third = frozenset(range(1, companies + 1, 3))
        for label, allowed in (("free_text", None), ("free_text_a_third_allowed", a_third)):
            timings = []
            for query in SYNTHETIC_QUERIES * 3:
                started = time.perf_counter()
                engine.match(query, target="company", allowed_ids=allowed, limit=10)
                timings.append((time.perf_counter() - started) * 1000)
            result[label] = percentiles(timings)
        engine.close()
    return result


def synthetic_table(results: list[dict]) -> str:
    lines = ["| companies | build (s) | one upsert (ms) | save (s) | free text p50 (ms) | a third allowed p50 (ms) |",
             "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['companies']:,} | {r['build_s']:.1f} | {r['upsert_ms']:.0f} | {r['save_s']:.1f} | "
                     f"{r['free_text']['p50']:.1f} | {r['free_text_a_third_allowed']['p50']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1000,10000,100000", help="companies per scale, comma-separated")
    parser.add_argument("--quick", action="store_true", help="fewer queries and samples (a first look)")
    parser.add_argument("--no-ingest", action="store_true", help="skip the ingest measurement")
    parser.add_argument("--no-http", action="store_true", help="skip the match endpoints through HTTP")
    parser.add_argument("--http-seconds", type=float, help="load per HTTP endpoint (default 20 s, 10 s quick)")
    parser.add_argument("--synthetic", action="store_true",
                        help="the engine alone, without models: build, one upsert, save and free-text matches")
    parser.add_argument("--out", type=Path, help="default bench-results/latest.json (synthetic.json)")
    parser.add_argument("--vector-store", default="faiss",
                        help="vector stores to measure side by side, comma-separated: faiss, pgvector")
    parser.add_argument("--postgres-url", default=os.environ.get("KOPPELKANS_TEST_POSTGRES_URL", ""),
                        help="PostgreSQL with pgvector for --vector-store pgvector "
                             "(default: $KOPPELKANS_TEST_POSTGRES_URL; scripts/start-postgres.sh prints one)")
    parser.add_argument("--workers", default="1",
                        help="uvicorn workers of the HTTP server, comma-separated: 1,2 measures both side by side")
    parser.add_argument("--mixed-requests", type=int,
                        help="requests of the 50-client mixed load (default 3000, 1500 quick; 0: none)")
    parser.add_argument("--one-scale", type=int, help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    stores = [s.strip() for s in args.vector_store.split(",") if s.strip()]
    if unknown := set(stores) - set(VECTOR_STORES):
        parser.error(f"unknown vector store {', '.join(sorted(unknown))}: "
                     f"choose from {', '.join(VECTOR_STORES)}")
    if "pgvector" in stores and not args.postgres_url:
        parser.error("--vector-store pgvector needs --postgres-url (or KOPPELKANS_TEST_POSTGRES_URL)")
    args.queries = 100 if args.quick else 400
    args.exact_queries = 30 if args.quick else 60
    args.writes = 5 if args.quick else 20
    args.weekly_sample = 50 if args.quick else 200
    args.ingest_profiles = 40 if args.quick else 120
    args.http_seconds = args.http_seconds or (10 if args.quick else 20)
    if args.mixed_requests is None:
        args.mixed_requests = 1500 if args.quick else 3000
    try:
        args.workers = [int(n) for n in args.workers.split(",") if n.strip()]
    except ValueError:
        parser.error(f"--workers takes whole numbers, comma-separated (like 1,2), not {args.workers!r}")
    if not args.workers or min(args.workers) < 1:
        parser.error("--workers needs at least one number of workers, each 1 or more")
    args.out = args.out or RESULTS / ("synthetic.json" if args.synthetic else "latest.json")
    RESULTS.mkdir(exist_ok=True)

    if args.synthetic:
        results = []
        for companies in [int(s) for s in args.scales.split(",") if s]:
            print(f"--- {companies:,} companies, seeded random vectors", flush=True)
            results.append(measure_synthetic(companies))
            args.out.write_text(json.dumps({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "scales": results},
                                           indent=1))
        print(synthetic_table(results))
        print(f"\nwritten to {args.out}")
        return

    if args.one_scale:
        result = run_scale(args.one_scale, args)
        args.out.write_text(json.dumps(result, indent=1))
        return

    report: dict = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": args.quick, "targets": TARGETS,
                    "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]}, "scales": []}
    for companies in [int(s) for s in args.scales.split(",") if s]:
        for store in stores:
            print(f"--- {companies:,} companies × {NEEDS:,} needs, vector store {store}", flush=True)
            child_out = RESULTS / f"scale-{companies}-{store}.json"
            command = [sys.executable, __file__, "--one-scale", str(companies), "--out", str(child_out),
                       "--vector-store", store, "--postgres-url", args.postgres_url]
            command += ["--quick"] * args.quick + ["--no-http"] * args.no_http
            command += ["--http-seconds", str(args.http_seconds), "--mixed-requests", str(args.mixed_requests),
                        "--workers", ",".join(map(str, args.workers))]
            started = time.perf_counter()
            subprocess.run(command, check=True, cwd=ROOT)
            scale = json.loads(child_out.read_text())
            scale["wall_s"] = time.perf_counter() - started
            report["scales"].append(scale)
            args.out.write_text(json.dumps(report, indent=1))
    if not args.no_ingest:
        print("--- ingest with the real encoders", flush=True)
        report["ingest"] = measure_ingest(args)
    report["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    report["machine"]["load_average_at_end"] = os.getloadavg()[0]
    args.out.write_text(json.dumps(report, indent=1))
    print(perf_table.render(report))
    perf_table.update_document(perf_table.DOCUMENT, report)
    print(f"\nwritten to {args.out}; the table is in {perf_table.DOCUMENT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
