"""What one PostgreSQL server holds: the company side's passage vectors in pgvector HNSW, at scale.

    python scripts/scale_pgvector.py --companies 200000 [--signals dense] [--queries 100]

Makes the benchmark's companies (scripts/bench_corpus.py: texts from the sentence pool, split
into passages as the engine splits them) and their passages' vectors derived from the real
encoders' (the benchmark's derived vectors), and stores each signal's vectors with the engine's
own pgvector store (app/matching/pgvector_ann.py: binary COPY, an HNSW index with the engine's
parameters, in one transaction). Measured per signal:

- the build (rows copied and the HNSW index), and the table's and the index's size on disk;
- searches as a request makes them: a stored need's query vectors (up to 12 for a long call) for
  a request's candidate pool of 200 passages, one client at a time and with 4 clients at once;
- recall@10 of the passages the index returns against an exact search of the same vectors.

The PostgreSQL is $KOPPELKANS_TEST_POSTGRES_URL or --postgres-url; everything lives in a schema
of its own, dropped at the end. Results: bench-results/scale-pgvector-<companies>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench  # noqa: E402
import bench_corpus as corpus  # noqa: E402

SCHEMA = "koppelkans_ann_scale"
CANDIDATE_POOL = 200  # passages a request's candidate search asks for per query vector
CONCURRENT_CLIENTS = 4


def passage_texts(companies: int, pools: corpus.SentencePools) -> list[str]:
    from app.matching.text import split_passages

    rng = np.random.default_rng(7)
    texts: list[str] = []
    for number in range(1, companies + 1):
        document = corpus.company_document(number, corpus.company_record(number, pools, rng))
        texts += [passage.text for passage in split_passages(document.text)]
    return texts


def query_vectors(encoder: corpus.DerivedEncoder, pools: corpus.SentencePools, count: int) -> list[np.ndarray]:
    """Stored needs' query vectors as the engine searches with them (its mean and a spread of its
    passages, at most 12)."""
    from app.matching.ranking import ann_queries
    from app.matching.text import split_passages

    rng = np.random.default_rng(11)
    queries = []
    for number in range(1, count + 1):
        need = corpus.need_document(number, corpus.need_record(number, pools, rng))
        vectors = encoder.encode([p.text for p in split_passages(need.text)], kind="passage")
        queries.append(np.ascontiguousarray(ann_queries(vectors), dtype=np.float32))
    return queries


def relation_mb(url: str, schema: str, table: str) -> dict[str, float]:
    import psycopg

    from app.matching.pgvector_ann import psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(url)) as connection:
        qualified = f'"{schema}"."{table}"'
        table_bytes, index_bytes = connection.execute(
            "SELECT pg_table_size(%s::regclass), pg_indexes_size(%s::regclass)", [qualified, qualified]).fetchone()
    return {"table_mb": table_bytes / 2**20, "index_mb": index_bytes / 2**20}


def timed_searches(search, queries: list[np.ndarray], clients: int) -> dict:
    """Each query's search (all its vectors in one round trip), from `clients` threads at once."""
    timings: list[float] = []
    lock, position = threading.Lock(), iter(range(len(queries)))

    def client() -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            started = time.perf_counter()
            search.search(queries[index], CANDIDATE_POOL)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                timings.append(elapsed)

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {**bench.percentiles(timings), "queries_per_s": len(timings) / (time.perf_counter() - began)}


def recall_at_10(search, vectors: np.ndarray, queries: list[np.ndarray]) -> float:
    from app.matching.ann import exact_search

    found = []
    for query in queries:
        _, approximate = search.search(query, 10)
        _, exact = exact_search(vectors, query, 10)
        found += [len(set(a) & set(e)) / 10 for a, e in zip(approximate, exact, strict=True)]
    return float(np.mean(found))


def measure_signal(url: str, vectors: np.ndarray, queries: list[np.ndarray]) -> dict:
    from app.matching.pgvector_ann import PgvectorStore

    store = PgvectorStore(url, schema=SCHEMA, pool_size=CONCURRENT_CLIENTS)
    try:
        started = time.perf_counter()
        search = store.build(vectors)
        result: dict = {"passages": len(vectors), "dims": int(vectors.shape[1]),
                        "build_s": time.perf_counter() - started,
                        "raw_vectors_mb": vectors.nbytes / 2**20}
        result.update(relation_mb(url, SCHEMA, search.name))
        search.search(queries[0], CANDIDATE_POOL)  # warm the connection pool
        result["one_client"] = timed_searches(search, queries, 1)
        result[f"{CONCURRENT_CLIENTS}_clients"] = timed_searches(search, queries, CONCURRENT_CLIENTS)
        result["recall_at_10"] = recall_at_10(search, vectors, queries[:50])
        search.close()
    finally:
        store.close()
    return result


def drop_schema(url: str) -> None:
    import psycopg

    from app.matching.pgvector_ann import psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=200_000)
    parser.add_argument("--signals", default="dense,multilingual", help="dense, multilingual or both")
    parser.add_argument("--queries", type=int, default=100, help="stored needs whose searches are timed")
    parser.add_argument("--postgres-url", default=os.environ.get("KOPPELKANS_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    if not args.postgres_url:
        parser.error("--postgres-url (or KOPPELKANS_TEST_POSTGRES_URL) names the PostgreSQL with pgvector")
    signals = [s.strip() for s in args.signals.split(",") if s.strip()]
    if unknown := set(signals) - {"dense", "multilingual"}:
        parser.error(f"unknown signals {', '.join(sorted(unknown))}: choose dense, multilingual")

    pools = corpus.sentence_pools(np.random.default_rng(7))
    dense, multilingual = bench.real_encoders()
    derived = dict(zip(("dense", "multilingual"), bench.derived_encoders(pools, dense, multilingual), strict=True))
    started = time.perf_counter()
    texts = passage_texts(args.companies, pools)
    report: dict = {"companies": args.companies, "passages": len(texts), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "load_average_at_start": bench.load_average(), "corpus_s": time.perf_counter() - started,
                    "signals": {}}
    print(f"{args.companies:,} companies, {len(texts):,} passages", flush=True)
    out = bench.RESULTS / f"scale-pgvector-{args.companies}.json"
    drop_schema(args.postgres_url)
    try:
        for signal in signals:
            encoder = derived[signal]
            vectors = encoder.encode(texts, kind="passage").astype(np.float32)
            queries = query_vectors(encoder, pools, args.queries)
            print(f"  {signal}: {vectors.shape[0]:,} × {vectors.shape[1]}", flush=True)
            report["signals"][signal] = measure_signal(args.postgres_url, vectors, queries)
            print(json.dumps(report["signals"][signal], indent=1), flush=True)
            out.write_text(json.dumps(report, indent=1))  # each signal kept as soon as it is measured
            del vectors
    finally:
        drop_schema(args.postgres_url)
    report["load_average_at_end"] = bench.load_average()
    out.write_text(json.dumps(report, indent=1))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
