"""Evaluation harness: metrics, the development set loader, and a side-by-side report of each
signal alone and the fused ranking, per slice.

    python -m app.matching.evaluate eval/dev.yaml [--split dev|test|all]
"""

from __future__ import annotations

import argparse
import csv
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from app.matching.engine import MatchEngine
from app.matching.fusion import (
    BM25,
    DENSE,
    MULTILINGUAL,
    CandidateScores,
    FusionWeights,
    fuse,
    single_signal_scores,
    top_order,
)
from app.matching.store import Document, Side

CUTOFF = 10
SYSTEMS = ("bm25", "minilm", "use", "fused")


# ---------- metrics (binary relevance) ----------
def mrr_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = CUTOFF) -> float:
    """Reciprocal rank of the first relevant result within the top k, else 0."""
    wanted = set(relevant)
    for rank, key in enumerate(ranked[:k], start=1):
        if key in wanted:
            return 1.0 / rank
    return 0.0


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = CUTOFF) -> float:
    """Share of the relevant records found in the top k."""
    wanted = set(relevant)
    if not wanted:
        return 0.0
    return len(wanted & set(ranked[:k])) / len(wanted)


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int = CUTOFF) -> float:
    """Normalised discounted cumulative gain with gain 1 per relevant record."""
    wanted = set(relevant)
    gain = sum(1.0 / math.log2(rank + 1) for rank, key in enumerate(ranked[:k], start=1) if key in wanted)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return gain / ideal if ideal else 0.0


# ---------- the dataset ----------
@dataclass(frozen=True)
class Record:
    key: str  # the id used in the dataset files (e.g. "F12", "EDF-2024-RA-SENS-ART")
    side: Side
    kind: str
    document: Document


@dataclass(frozen=True)
class Query:
    key: str
    slice: str
    split: str
    target: Side
    relevant: tuple[str, ...]
    why: str
    text: str | None = None
    ref: tuple[str, str] | None = None  # (side, record key)
    kinds: tuple[str, ...] | None = None


@dataclass
class Dataset:
    records: dict[str, Record]
    queries: list[Query]


def load_dataset(path: Path) -> Dataset:
    path = Path(path)
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    base = path.parent
    # key, side, kind, text, nld areas, sectors
    raw: list[tuple[str, Side, str, str, tuple[str, ...], tuple[str, ...]]] = []
    for row in yaml.safe_load((base / spec["needs"]).read_text(encoding="utf-8")):
        raw.append(
            (
                row["id"],
                "need",
                row["kind"],
                row["text"],
                tuple(row.get("nld_areas", ())),
                tuple(row.get("sectors", ())),
            )
        )
    with (base / spec["eu_calls"]).open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            raw.append((row["identifier"], "need", "call", f"{row['title']}. {row['description']}", (), ()))
    for row in yaml.safe_load((base / spec["companies"]).read_text(encoding="utf-8")):
        raw.append(
            (
                row["id"],
                "company",
                "company",
                row["text"],
                tuple(row.get("nld_areas", ())),
                tuple(row.get("sectors", ())),
            )
        )
    records = {}
    for number, (key, side, kind, text, areas, sectors) in enumerate(raw, start=1):
        if key in records:
            raise ValueError(f"duplicate record id {key}")
        records[key] = Record(key, side, kind, Document(side, number, text, areas, sectors))
    queries = []
    for row in yaml.safe_load((base / spec["queries"]).read_text(encoding="utf-8")):
        ref = (row["ref"]["side"], row["ref"]["id"]) if "ref" in row else None
        query = Query(
            row["id"],
            row["slice"],
            row["split"],
            row["target"],
            tuple(row["relevant"]),
            row["why"],
            row.get("text"),
            ref,
            tuple(row["kinds"]) if "kinds" in row else None,
        )
        unknown = [k for k in (*query.relevant, *([ref[1]] if ref else [])) if k not in records]
        if unknown:
            raise ValueError(f"query {query.key} names unknown records {unknown}")
        queries.append(query)
    return Dataset(records, queries)


# ---------- running ----------
@dataclass
class PreparedQuery:
    """A query's candidate evidence, computed once; rankings under any weights are cheap."""

    query: Query
    candidates: CandidateScores
    keys: np.ndarray  # record key per candidate row


def prepare(dataset: Dataset, engine: MatchEngine, progress: bool = False) -> list[PreparedQuery]:
    for side in ("company", "need"):
        engine.sync(side, [r.document for r in dataset.records.values() if r.side == side], progress=progress)
    key_of = {(r.side, r.document.id): r.key for r in dataset.records.values()}
    prepared = []
    for query in dataset.queries:
        document = dataset.records[query.ref[1]].document if query.ref else None
        view = engine.query_view(document if document is not None else query.text or "")
        if view is None:
            raise ValueError(f"query {query.key} has no text to search with")
        allowed = [
            r.document.id
            for r in dataset.records.values()
            if r.side == query.target and (query.kinds is None or r.kind in query.kinds)
        ]
        excluded = document.id if document is not None and document.side == query.target else None
        candidates, _ = engine.candidate_scores(view, engine.snapshot(query.target), allowed, excluded)
        keys = np.array([key_of[(query.target, int(i))] for i in candidates.document_ids])
        prepared.append(PreparedQuery(query, candidates, keys))
    return prepared


def rankings(item: PreparedQuery, weights: FusionWeights) -> dict[str, list[str]]:
    """Top-CUTOFF record keys for each signal alone and for the fusion."""
    candidates = item.candidates
    scores = {
        "bm25": single_signal_scores(candidates, BM25),
        "minilm": single_signal_scores(candidates, DENSE),
        "use": single_signal_scores(candidates, MULTILINGUAL),
        "fused": fuse(candidates, weights).total,
    }
    return {
        name: list(item.keys[top_order(values, candidates.document_ids, CUTOFF)])
        for name, values in scores.items()
    }


@dataclass
class Report:
    # (slice, system) → metric → mean; slices include "overall"
    table: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


METRICS: dict[str, Callable[[Sequence[str], Iterable[str]], float]] = {
    "MRR@10": mrr_at_k,
    "R@10": recall_at_k,
    "nDCG@10": ndcg_at_k,
}


def score_report(prepared: Sequence[PreparedQuery], weights: FusionWeights, split: str = "all") -> Report:
    chosen = [p for p in prepared if split == "all" or p.query.split == split]
    per_query: dict[tuple[str, str], list[dict[str, float]]] = {}
    for item in chosen:
        for system, ranked in rankings(item, weights).items():
            values = {name: metric(ranked, item.query.relevant) for name, metric in METRICS.items()}
            per_query.setdefault((item.query.slice, system), []).append(values)
            per_query.setdefault(("overall", system), []).append(values)
    report = Report()
    for key, rows in per_query.items():
        report.table[key] = {name: float(np.mean([r[name] for r in rows])) for name in METRICS}
        report.counts[key[0]] = len(rows)
    return report


def format_report(report: Report, title: str) -> str:
    slices = sorted({s for s, _ in report.table} - {"overall"}) + ["overall"]
    header = f"| slice (queries) | metric | {' | '.join(SYSTEMS)} |"
    lines = [f"### {title}", "", header, "|" + "---|" * (len(SYSTEMS) + 2)]
    for slice_name in slices:
        for metric in METRICS:
            values = [report.table[(slice_name, system)][metric] for system in SYSTEMS]
            best_single = max(values[:-1])
            cells = [f"{v:.3f}" for v in values]
            cells[-1] += " ✓" if values[-1] >= best_single - 1e-9 else " ✗"
            lines.append(f"| {slice_name} ({report.counts[slice_name]}) | {metric} | {' | '.join(cells)} |")
    lines.append("")
    lines.append("✓: fused ≥ best single signal; ✗: below it.")
    return "\n".join(lines)


def default_engine(data_dir: Path) -> MatchEngine:
    from app.matching.encoders import UsemEncoder, bundled_dense_encoder

    # Every allowed document is a candidate: the evaluation scores exhaustively.
    return MatchEngine(data_dir, bundled_dense_encoder(), UsemEncoder(), candidate_pool=10**9)


def run_eval(
    dataset_path: Path,
    *,
    weights: FusionWeights | None = None,
    split: str = "all",
    data_dir: Path | None = None,
    progress: bool = True,
) -> Report:
    """Load the set, index its corpus with the real encoders, print and return the report.

    The embedding cache lives in `data_dir`, by default `.cache/` beside the dataset file, so a
    second run encodes nothing.
    """
    dataset_path = Path(dataset_path)
    dataset = load_dataset(dataset_path)
    engine = default_engine(Path(data_dir) if data_dir else dataset_path.parent / ".cache")
    try:
        prepared = prepare(dataset, engine, progress=progress)
        report = score_report(prepared, weights or engine.weights, split)
    finally:
        engine.close()
    print(format_report(report, f"{Path(dataset_path).name}, split {split}"))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate the matching signals and their fusion.")
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the embedding cache is kept (default: .cache beside the dataset)",
    )
    args = parser.parse_args()
    run_eval(args.dataset, split=args.split, data_dir=args.data_dir)


if __name__ == "__main__":
    main()
