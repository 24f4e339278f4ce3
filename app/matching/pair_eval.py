"""The pair model on the two development sets: fitting the default artifact on their tuning
folds, and the held-out report `koppelkans eval` prints.

Held out (never read by a fit): the dev set's `test` split and the CORDIS topics of
datasets.held_out_topic. Every system ranks all allowed candidates of a query:
- each signal alone (`bm25` need → company as the engine computes it, `minilm`, `use`);
- reciprocal-rank fusion (k = 60) of BM25 + MiniLM and of all three;
- `fuse`: the engine's current ranking (fusion.fuse, per-query normalised);
- `pair`: the pair model's calibrated probability.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.matching.calibration import (
    RRF_K,
    SEEN_PER_QUERY,
    ReliabilityRow,
    expected_calibration_error,
    ranking_metrics,
    reciprocal_rank_fusion,
    reliability_table,
    top_mask,
)
from app.matching.datasets import CORDIS_PATH, DEV_PATH, HELD_OUT, TUNING, load_cordis, load_dev
from app.matching.lexical import K1, B
from app.matching.pair_data import CONTEXT_POOL, PairTable, cached_table, training_pairs
from app.matching.pair_features import CONDITION_NAMES
from app.matching.pair_fit import POOL_PER_SIGNAL, RAW, FeatureSet, TrainingPairs, fit
from app.matching.pair_model import CONDITION_FEATURES, CONTEXT_RANK, RANK_FEATURES, RAW_FEATURES, PairModel
from app.matching.text import TEXT_RULES_VERSION

SYSTEMS = ("bm25", "minilm", "use", "rrf2", "rrf3", "fuse", "pair")
SYSTEM_TITLES = {"rrf2": "RRF(bm25, minilm)", "rrf3": "RRF(all three)", "fuse": "fuse (engine)", "pair": "pair model"}
BASELINES = ("bm25", "minilm", "use", "rrf2", "rrf3")
SLICE_ORDER = ("nl-nl", "nl-en", "en-nl", "call-companies", "cordis")

# The feature sets compared by cross-validation (scripts/pair_variants.py): the packaged model
# reads `raw`; the others add each signal's rank in the need's list (pair_features.py), per
# condition or with one weight shared by every condition.
FEATURE_SETS: dict[str, FeatureSet] = {
    "raw": RAW,
    "rank": FeatureSet({c: RANK_FEATURES for c in CONDITION_FEATURES}),
    "rank-shared": FeatureSet({c: RANK_FEATURES for c in CONDITION_FEATURES}, shared=RANK_FEATURES),
    "raw+rank": FeatureSet({c: f + RANK_FEATURES for c, f in CONDITION_FEATURES.items()}),
    "raw+rank-shared": FeatureSet({c: f + RANK_FEATURES for c, f in CONDITION_FEATURES.items()},
                                  shared=RANK_FEATURES),
    "all-raw+rank": FeatureSet({c: RAW_FEATURES + RANK_FEATURES for c in CONDITION_FEATURES}),
}


def development_tables(data_dir: Path, progress: bool = False) -> dict[str, tuple[PairTable, dict[str, object]]]:
    """Both sets' pair tables (built once into `data_dir`, then read from there)."""
    return {"dev": cached_table("dev", load_dev(), data_dir, progress),
            "cordis": cached_table("cordis", load_cordis(), data_dir, progress)}


def fit_development_model(data_dir: Path, progress: bool = False, features: FeatureSet = RAW) -> PairModel:
    """The default artifact: fitted on the tuning folds of both sets, nothing held out read."""
    tables = development_tables(data_dir, progress)
    pairs = TrainingPairs.concatenate([training_pairs(table, name, [TUNING]) for name, (table, _) in tables.items()])
    provenance = {
        "fitted_on": {name: {**made_from, "split": TUNING, "path": str(path.relative_to(path.parents[1]))}
                      for (name, (_, made_from)), path in zip(tables.items(), (DEV_PATH, CORDIS_PATH), strict=True)},
        "text_rules_version": TEXT_RULES_VERSION, "bm25": {"k1": K1, "b": B},
        "candidate_pool_per_signal": POOL_PER_SIGNAL, "context_pool": CONTEXT_POOL,
        "seen_per_query": SEEN_PER_QUERY,
    }
    return fit(pairs, provenance, features=features)


def system_scores(table: PairTable, model: PairModel) -> dict[str, np.ndarray]:
    """Per system a score for every pair of the table (higher is better within a query)."""
    pairs = training_pairs(table, "report", [TUNING, HELD_OUT])  # every pair, in the table's order
    return {
        "bm25": table.bm25, "minilm": table.dense, "use": table.multilingual,
        "rrf2": reciprocal_rank_fusion([table.bm25, table.dense], table.query, RRF_K),
        "rrf3": reciprocal_rank_fusion([table.bm25, table.dense, table.multilingual], table.query, RRF_K),
        "fuse": table.engine_fused,
        "pair": model.probabilities(pairs.evidence, pairs.context_scores(model)),
    }


@dataclass(frozen=True)
class SliceResult:
    name: str
    queries: int
    ndcg: dict[str, float]  # system → mean nDCG@10
    mrr: dict[str, float]
    ece: float  # the pair model's, on the pairs users see
    seen_pairs: int


@dataclass(frozen=True)
class HeldOutReport:
    slices: list[SliceResult]
    conditions: list[tuple[str, int, float]]  # pair language condition, seen pairs, ECE
    reliability: dict[str, list[ReliabilityRow]]  # per set, on its seen pairs
    bands: dict[str, list[tuple[str, int, float]]]  # per set: band, seen pairs, share relevant
    model: PairModel


def held_out_report(tables: Mapping[str, PairTable], model: PairModel) -> HeldOutReport:
    slices, reliability, bands = [], {}, {}
    condition_rows: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for set_name, table in tables.items():
        scores = system_scores(table, model)
        held = np.isin(table.query_splits[table.query], [HELD_OUT])
        probability = scores["pair"][held]
        query, relevant = table.query[held], table.relevant[held]
        seen = top_mask(probability, query, SEEN_PER_QUERY)
        reliability[set_name] = reliability_table(probability[seen], relevant[seen])
        fits = np.array(model.fits(probability[seen]), dtype=object)
        bands[set_name] = [(str(band), int((fits == band).sum()),
                            float(relevant[seen][fits == band].mean()) if (fits == band).any() else float("nan"))
                           for band in ("strong", "fair", "weak")]
        for code in range(len(CONDITION_NAMES)):
            inside = seen & (table.conditions[held] == code)
            condition_rows.setdefault(code, []).append((probability[inside], relevant[inside]))
        slice_of_pair = table.query_slices[query]
        for slice_name in [s for s in SLICE_ORDER if s in set(slice_of_pair)]:
            rows = slice_of_pair == slice_name
            metrics = {system: ranking_metrics(values[held][rows], query[rows], relevant[rows])
                       for system, values in scores.items()}
            in_slice = seen & rows
            slices.append(SliceResult(
                slice_name, len(np.unique(query[rows])),
                {system: float(m.ndcg.mean()) for system, m in metrics.items()},
                {system: float(m.mrr.mean()) for system, m in metrics.items()},
                expected_calibration_error(probability[in_slice], relevant[in_slice]), int(in_slice.sum()),
            ))
    conditions = []
    for code, parts in sorted(condition_rows.items()):
        probability = np.concatenate([p for p, _ in parts])
        relevant = np.concatenate([r for _, r in parts])
        if len(probability):
            conditions.append((CONDITION_NAMES[code], len(probability),
                               expected_calibration_error(probability, relevant)))
    return HeldOutReport(slices, conditions, reliability, bands, model)


def _mark(value: float, baselines: list[float]) -> str:
    return f"{value:.3f} {'✓' if value >= max(baselines) - 1e-9 else '✗'}"


def format_report(report: HeldOutReport) -> str:
    """Markdown: the ranking table, the calibration errors, the reliability and band tables."""
    titles = [SYSTEM_TITLES.get(system, system) for system in SYSTEMS]
    lines = ["| slice (held-out queries) | metric | " + " | ".join(titles) + " | ECE |",
             "|---|---|" + "---|" * (len(SYSTEMS) + 1)]
    for result in report.slices:
        for metric, values in (("nDCG@10", result.ndcg), ("MRR@10", result.mrr)):
            cells = [f"{values[s]:.3f}" for s in SYSTEMS[:-1]]
            cells.append(_mark(values["pair"], [values[s] for s in BASELINES]))
            ece = f"{result.ece:.3f}" if metric == "nDCG@10" else ""
            lines.append(f"| {result.name} ({result.queries}) | {metric} | {' | '.join(cells)} | {ece} |")
    lines += ["", "✓: the pair model ≥ every single signal and both rank fusions on that metric; ✗: below one.",
              f"ECE: expected calibration error of the pair model over each query's {SEEN_PER_QUERY} best pairs "
              "(10 equal-width bins).", "", "| pair language condition | pairs seen | ECE |", "|---|---|---|"]
    lines += [f"| {name} | {count} | {ece:.3f} |" for name, count, ece in report.conditions]
    for set_name, rows in report.reliability.items():
        lines += ["", f"Reliability, {set_name} held out (each query's {SEEN_PER_QUERY} best pairs):", "",
                  "| predicted | pairs | mean predicted | share relevant |", "|---|---|---|---|"]
        lines += [f"| {r.low:.1f}–{r.high:.1f} | {r.pairs} | {r.mean_predicted:.3f} | {r.observed:.3f} |" for r in rows]
    bands = report.model.bands
    lines += ["", f"Bands (strong ≥ {bands.strong}, fair ≥ {bands.fair}): pairs seen and the share relevant, "
              "held out:", "", "| set | strong | fair | weak |", "|---|---|---|---|"]
    for set_name, counts in report.bands.items():
        lines.append(f"| {set_name} | " + " | ".join(f"{n} pairs, {share:.2f}" for _, n, share in counts) + " |")
    lines += ["", f"Model {report.model.version} (context rank {CONTEXT_RANK})."]
    return "\n".join(lines)


def run_held_out_report(data_dir: Path, model: PairModel, progress: bool = True) -> HeldOutReport:
    tables = {name: table for name, (table, _) in development_tables(data_dir, progress).items()}
    report = held_out_report(tables, model)
    print(format_report(report))
    return report
