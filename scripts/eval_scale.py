"""How the engine behaves with many companies: build time, one upsert, and query latency.

Texts are synthetic Dutch-like profiles and the encoder is a fast deterministic stand-in
(random unit vectors seeded by the text), so this measures the engine, not a model.

Usage: python scripts/eval_scale.py [--companies 100000]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from app.matching.engine import Document, MatchEngine

WORDS = [
    "drones",
    "sensoren",
    "composiet",
    "radar",
    "textiel",
    "voeding",
    "waterstof",
    "logistiek",
    "onderhoud",
    "software",
    "cybersecurity",
    "robotica",
    "verspaning",
    "kunststof",
    "spuitgieten",
    "coating",
    "elektronica",
    "antennes",
    "optiek",
    "batterijen",
    "zorg",
    "diagnostiek",
    "training",
    "simulatie",
    "beveiliging",
    "data",
    "vezels",
    "metaal",
    "lassen",
]


class SeededRandomEncoder:
    """Unit vectors seeded by the text: deterministic, and fast enough for 100,000 texts."""

    cross_lingual = False

    def __init__(self, dim: int, name: str) -> None:
        self.dim, self.model_id = dim, f"seeded-random-{name}-{dim}"

    def encode(self, texts, *, kind):
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rows[row] = np.random.default_rng(seed).standard_normal(self.dim)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def company(number: int, rng: np.random.Generator) -> Document:
    chosen = " en ".join(rng.choice(WORDS, size=6))
    return Document(
        "company",
        number,
        f"Bedrijf {number} in Drenthe levert {chosen} voor de industrie.",
        sectors=("maakindustrie",),
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--companies", type=int, default=100_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    companies = [company(i, rng) for i in range(1, args.companies + 1)]
    with tempfile.TemporaryDirectory() as folder:
        engine = MatchEngine(
            Path(folder), SeededRandomEncoder(384, "dense"), SeededRandomEncoder(512, "multi")
        )
        started = time.perf_counter()
        engine.sync("company", companies)
        print(f"{args.companies} companies: first build {time.perf_counter() - started:.1f} s")

        started = time.perf_counter()
        engine.upsert([Document("company", 1, "Bedrijf 1 maakt nu radar en antennes voor schepen.")])
        print(f"one upsert (snapshot copy + BM25 rebuild): {time.perf_counter() - started:.2f} s")

        started = time.perf_counter()
        engine.save()
        print(f"save: {time.perf_counter() - started:.1f} s")

        allowed = set(range(1, args.companies + 1, 3))
        for label, kwargs in (("free text", {}), ("free text, a third allowed", {"allowed_ids": allowed})):
            timings = []
            for query in ("radar en antennes voor schepen", "drones met sensoren", "textiel en coating"):
                started = time.perf_counter()
                engine.match(query, target="company", limit=10, **kwargs)
                timings.append((time.perf_counter() - started) * 1000)
            print(f"match ({label}): median {statistics.median(timings):.0f} ms")
        engine.close()


if __name__ == "__main__":
    main()
