"""One calibrated probability of fit per need × company pair, and the band it falls in.

The model reads only the pair's own evidence (pair_features.PairEvidence), never the other
candidates of a list, so a pair shows one score wherever it is listed. Two steps:

1. A ranking score per pair: per language condition a weighted sum of the pair's signals plus
   the condition's offset. Every signal weight is ≥ 0 (more evidence never lowers a pair);
   the offsets put pairs of different conditions (a Dutch and an English company in one
   list) on one scale.
   - both Dutch, both English, unknown language: USE and MiniLM cosines, the BM25 fraction of
     the query's IDF mass, and log(1 + BM25) (MiniLM reads English only, so its weight for two
     Dutch texts differs from its weight for two English ones);
   - across languages: the two cosines and the BM25 fraction only: there raw BM25 counts
     chance stems two languages share, while a rare shared name still shows in the fraction.
2. P(relevant) = σ(slope × score + context × need_context + intercept), fitted on the pairs
   users see (calibration.SEEN_PER_QUERY best of each query). `need_context` is the score of
   the need's CONTEXT_RANK-th best company in the whole company side (for a search: of its
   CONTEXT_RANK-th best result on the searched side, unfiltered): a score that stands out
   from a need's neighbours means more than the same score among many look-alikes (a topic
   with dozens of near-identical projects). It is a number per need, the same from every
   side, so a pair still has one score; the list of one need is ordered by the score, since
   slope > 0.

The fitted numbers live in a versioned JSON artifact (app/data/pair_model.json by default,
written by pair_fit.py) together with where they came from and their cross-validated metrics.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from app.domain import Fit
from app.matching.calibration import RRF_K
from app.matching.pair_features import CONDITION_NAMES, RANK_DEPTH, RANK_SIGNALS, PairEvidence

FORMAT_VERSION = 1
DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[1] / "data" / "pair_model.json"
CONTEXT_RANK = 10

# The columns of a pair's feature row; a model reads, per condition, the ones its artifact lists.
RAW_FEATURES = ("multilingual", "dense", "bm25_fraction", "bm25_log")
RANK_FEATURES = tuple(f"{signal}_rank" for signal in RANK_SIGNALS)
FEATURES = RAW_FEATURES + RANK_FEATURES
CONDITION_FEATURES: dict[str, tuple[str, ...]] = {
    "nl-nl": RAW_FEATURES,
    "en-en": RAW_FEATURES,
    "cross": ("multilingual", "dense", "bm25_fraction"),
    "unknown": RAW_FEATURES,
}


# The rank terms of rank one and of a pair below a need's kept values (RANK_DEPTH + 1).
_FIRST_TERM = np.float32(1.0 / (RRF_K + 1))
_LAST_TERM = np.float32(1.0 / (RRF_K + RANK_DEPTH + 1))


def feature_rows(evidence: PairEvidence, with_ranks: bool = True) -> np.ndarray:
    """(n, len(FEATURES)) the pair features; a missing signal (NaN) counts as 0. A rank term
    is scaled to 1 at rank one and 0 below the need's kept values. Without `with_ranks` (a model that reads no
    rank) the rank columns are 0."""
    rows = np.zeros((len(evidence), len(FEATURES)), dtype=np.float32)
    rows[:, 0] = evidence.multilingual
    rows[:, 1] = evidence.dense
    rows[:, 2] = evidence.bm25_fraction
    rows[:, 3] = np.log1p(np.maximum(evidence.bm25, 0.0))
    if with_ranks:
        if np.isnan(evidence.ranks).any():
            raise ValueError("the pair model reads ranks, and these pairs were not ranked against their needs")
        rows[:, len(RAW_FEATURES):] = (evidence.ranks - _LAST_TERM) / (_FIRST_TERM - _LAST_TERM)
    return np.where(np.isnan(rows), np.float32(0.0), rows)


def design_matrix(
    evidence: PairEvidence, condition_features: dict[str, tuple[str, ...]] = CONDITION_FEATURES,
    shared: tuple[str, ...] = (),
) -> np.ndarray:
    """The fitting view of `feature_rows`: per condition its features and a 1 for its offset,
    zero outside the condition, then one column per `shared` feature (one weight for every
    condition); columns in the order of `parameter_names`."""
    reads_ranks = any(name in RANK_FEATURES for names in condition_features.values() for name in names)
    rows = feature_rows(evidence, with_ranks=reads_ranks)
    blocks = []
    for code, condition in enumerate(CONDITION_NAMES):
        inside = (evidence.conditions == code)[:, None].astype(np.float32)
        chosen = [FEATURES.index(name) for name in condition_features[condition] if name not in shared]
        blocks.extend([rows[:, chosen] * inside, inside])
    blocks.append(rows[:, [FEATURES.index(name) for name in shared]])
    return np.hstack(blocks)


def parameter_names(
    condition_features: dict[str, tuple[str, ...]] = CONDITION_FEATURES, shared: tuple[str, ...] = ()
) -> list[tuple[str, str]]:
    """(condition, feature or "offset") per column of design_matrix; ("*", feature) for a
    shared one."""
    return [(condition, name) for condition in CONDITION_NAMES
            for name in (*[f for f in condition_features[condition] if f not in shared], "offset")] + [
        ("*", name) for name in shared]


def kth_best(scores: np.ndarray, k: int) -> float:
    """The k-th highest of `scores` (the lowest when there are fewer; 0 when there are none)."""
    if not len(scores):
        return 0.0
    k = min(k, len(scores))
    return float(np.partition(np.asarray(scores), len(scores) - k)[len(scores) - k])


@dataclass(frozen=True)
class Bands:
    """Lower bounds of the calibrated probability for each band; below `fair` is weak."""

    strong: float
    fair: float

    def __post_init__(self) -> None:
        if not 0.0 < self.fair < self.strong < 1.0:
            raise ValueError(f"bands need 0 < fair < strong < 1, not fair {self.fair} and strong {self.strong}")


@dataclass(frozen=True)
class PairModel:
    """The fitted numbers and where they came from (everything the artifact holds)."""

    weights: dict[str, dict[str, float]]  # condition → feature → weight (≥ 0), plus "offset"
    calibration: dict[str, float]  # {"slope": > 0, "context": …, "intercept": …}
    bands: Bands
    version: str  # unique per fit, e.g. "2026-12-07.3f9a1c2e"
    # condition → the FEATURES it reads
    condition_features: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(CONDITION_FEATURES))
    provenance: dict[str, Any] = field(default_factory=dict)  # data, encoders, text rules, settings
    cv_metrics: dict[str, Any] = field(default_factory=dict)  # per group: queries, ndcg@10, mrr@10, ece

    def __post_init__(self) -> None:
        if set(self.weights) != set(CONDITION_NAMES) or set(self.condition_features) != set(CONDITION_NAMES):
            raise ValueError(f"weights and features need the conditions {CONDITION_NAMES}")
        for condition, features in self.condition_features.items():
            unknown = set(features) - set(FEATURES)
            if unknown:
                raise ValueError(f"the features {sorted(unknown)} of {condition!r} are not computed here")
            missing = set(features) - set(self.weights[condition])
            if missing:
                raise ValueError(f"weights of {condition!r} lack {sorted(missing)}")
            if any(self.weights[condition][name] < 0 for name in features):
                raise ValueError(f"signal weights of {condition!r} must be ≥ 0")
        if not self.calibration.get("slope", 0.0) > 0.0:
            raise ValueError("the calibration slope must be > 0 (a higher score must never mean a lower probability)")

    @cached_property
    def _table(self) -> np.ndarray:
        """(conditions, FEATURES + offset) weights, zero where a condition does not read a feature."""
        table = np.zeros((len(CONDITION_NAMES), len(FEATURES) + 1), dtype=np.float32)
        for code, condition in enumerate(CONDITION_NAMES):
            for name in self.condition_features[condition]:
                table[code, FEATURES.index(name)] = self.weights[condition][name]
            table[code, -1] = self.weights[condition]["offset"]
        return table

    @cached_property
    def reads_ranks(self) -> bool:
        """Whether a pair's score reads its rank terms (its evidence must then be `ranked`)."""
        return any(name in RANK_FEATURES for names in self.condition_features.values() for name in names)

    def scores(self, evidence: PairEvidence) -> np.ndarray:
        """The ranking score of each pair (log-odds scale before calibration)."""
        rows = feature_rows(evidence, with_ranks=self.reads_ranks)
        weights = self._table[evidence.conditions.astype(np.int64)]
        total = weights[:, -1].copy()
        for column in range(len(FEATURES)):
            total += weights[:, column] * rows[:, column]
        return total

    def context_score(self, context: PairEvidence) -> float:
        """A need's (or search's) context from its evidence against the documents of the whole
        side that could be among its CONTEXT_RANK best (every signal's best few dozen): the
        CONTEXT_RANK-th best score, or the lowest when there are fewer."""
        return kth_best(self.scores(context), CONTEXT_RANK)

    def probabilities_of(self, scores: np.ndarray, context_scores: np.ndarray | float) -> np.ndarray:
        """P(relevant) per pair from its score and its need's context score, in [0, 1]."""
        logits = (self.calibration["slope"] * np.asarray(scores, dtype=np.float64)
                  + self.calibration["context"] * np.asarray(context_scores, dtype=np.float64)
                  + self.calibration["intercept"])
        return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)

    def probabilities(self, evidence: PairEvidence, context_scores: np.ndarray | float) -> np.ndarray:
        return self.probabilities_of(self.scores(evidence), context_scores)

    def fits(self, probabilities: np.ndarray) -> list[Fit]:
        """The band of each probability."""
        return [Fit.strong if p >= self.bands.strong else Fit.fair if p >= self.bands.fair else Fit.weak
                for p in np.asarray(probabilities, dtype=float)]

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT_VERSION, "features": list(FEATURES), "context_rank": CONTEXT_RANK,
                "rank_depth": RANK_DEPTH,
                **{k: v for k, v in asdict(self).items()},
                "condition_features": {c: list(f) for c, f in self.condition_features.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PairModel:
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(f"pair model format {data.get('format')!r}, expected {FORMAT_VERSION}")
        if data.get("context_rank") != CONTEXT_RANK:
            raise ValueError(f"the pair model was fitted with context rank {data.get('context_rank')!r}")
        if data.get("rank_depth", RANK_DEPTH) != RANK_DEPTH:
            raise ValueError(f"the pair model was fitted with rank depth {data.get('rank_depth')!r}")
        condition_features = data.get("condition_features")
        if not isinstance(condition_features, dict) or set(condition_features) != set(CONDITION_NAMES) or not all(
                set(f) <= set(FEATURES) for f in condition_features.values()):
            raise ValueError("the pair model was fitted on other features than this code computes")
        return cls(
            weights={c: {k: float(v) for k, v in w.items()} for c, w in data["weights"].items()},
            calibration={k: float(v) for k, v in data["calibration"].items()},
            bands=Bands(**data["bands"]), version=str(data["version"]),
            condition_features={c: tuple(f) for c, f in condition_features.items()},
            provenance=dict(data.get("provenance", {})), cv_metrics=dict(data.get("cv_metrics", {})),
        )

    def save(self, path: Path) -> None:
        """Write the artifact atomically (a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def load(cls, path: Path = DEFAULT_MODEL_PATH) -> PairModel:
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
