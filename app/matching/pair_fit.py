"""Fitting the pair model (pair_model.py) on labelled pairs, by cross-validation over queries.

Labelled pairs come in groups, one per query (a need with its candidate companies, a search
with its results, or a need with the pairs staff judged), and each group belongs to a source
("dev", "cordis", "feedback", …). Every source weighs the same in total and every query the
same within its source, so 472 CORDIS topics do not drown 32 development queries.

- Ranking weights: a listwise fit (per query, the softmax of the scores of its candidate pool
  should put its weight on the relevant pairs), with an L2 penalty chosen from L2_GRID by
  K-fold cross-validation over queries, and every signal weight kept ≥ 0.
- Calibration: a Platt curve on the pairs users see (each query's SEEN_PER_QUERY best by the
  fitted score; every pair of a feedback group, which staff saw).
- `accept` compares a candidate fit's cross-validated metrics with those the current model
  recorded, on the slices both were measured on, and refuses it when they are lower.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from app.matching.calibration import (
    SEEN_PER_QUERY,
    expected_calibration_error,
    ranking_metrics,
    ranks_within_queries,
    top_mask,
)
from app.matching.pair_features import PairEvidence, rank_terms, signal_tops
from app.matching.pair_model import (
    CONDITION_FEATURES,
    CONTEXT_RANK,
    Bands,
    PairModel,
    design_matrix,
    kth_best,
    parameter_names,
)

L2_GRID = (0.3, 1.0, 3.0)
FOLDS = 5
POOL_PER_SIGNAL = 50  # a query's candidate pool: each signal's best POOL_PER_SIGNAL pairs
DEFAULT_BANDS = Bands(strong=0.5, fair=0.2)


@dataclass(frozen=True)
class FeatureSet:
    """What a fit reads: per condition its features (pair_model.FEATURES), and the features
    whose one weight every condition shares."""

    condition_features: Mapping[str, tuple[str, ...]]
    shared: tuple[str, ...] = ()


RAW = FeatureSet(CONDITION_FEATURES)


@dataclass(frozen=True)
class TrainingPairs:
    """Labelled pairs, one group per query. Groups are numbered 0..g-1 by `group`."""

    evidence: PairEvidence
    relevant: np.ndarray  # (n,) bool
    group: np.ndarray  # (n,) int, sorted ascending
    group_keys: np.ndarray  # (g,) str: stable name of each group (its fold follows from it)
    group_sources: np.ndarray  # (g,) str: "dev", "cordis", "feedback", …
    group_slices: np.ndarray  # (g,) str: what the metrics are reported per
    judged: np.ndarray  # (g,) bool: every pair of the group was seen and judged (feedback)
    context: np.ndarray  # (n,) the context block of each pair's need (or search)
    context_evidence: PairEvidence  # (m rows) see pair_model.PairModel.context_score
    context_block: np.ndarray  # (m,) the block of each row, ascending

    def subset(self, groups: np.ndarray) -> TrainingPairs:
        """Only the given groups, renumbered 0..len(groups)-1 (the context blocks are kept whole)."""
        groups = np.asarray(groups)
        rows = np.isin(self.group, groups)
        renumber = np.full(len(self.group_keys), -1)
        renumber[groups] = np.arange(len(groups))
        return TrainingPairs(self.evidence.take(rows), self.relevant[rows], renumber[self.group[rows]],
                             self.group_keys[groups], self.group_sources[groups], self.group_slices[groups],
                             self.judged[groups], self.context[rows], self.context_evidence, self.context_block)

    @classmethod
    def concatenate(cls, parts: Sequence[TrainingPairs]) -> TrainingPairs:
        groups = np.cumsum([0] + [len(p.group_keys) for p in parts[:-1]])
        blocks = np.cumsum([0] + [int(p.context_block.max(initial=-1)) + 1 for p in parts[:-1]])
        return cls(
            PairEvidence.concatenate([p.evidence for p in parts]),
            np.concatenate([p.relevant for p in parts]),
            np.concatenate([p.group + g for p, g in zip(parts, groups, strict=True)]),
            np.concatenate([p.group_keys for p in parts]),
            np.concatenate([p.group_sources for p in parts]),
            np.concatenate([p.group_slices for p in parts]),
            np.concatenate([p.judged for p in parts]),
            np.concatenate([p.context + b for p, b in zip(parts, blocks, strict=True)]),
            PairEvidence.concatenate([p.context_evidence for p in parts]),
            np.concatenate([p.context_block + b for p, b in zip(parts, blocks, strict=True)]),
        )

    def ranked(self) -> TrainingPairs:
        """These pairs and the context rows with their rank terms, each against the best
        values of its need (or search) in its context block."""
        starts = np.flatnonzero(np.r_[True, np.diff(self.context_block) != 0])
        ends = np.r_[starts[1:], len(self.context_block)]
        context_ranks = np.empty_like(self.context_evidence.ranks)
        pair_ranks = np.empty_like(self.evidence.ranks)
        pair_values, context_values = self.evidence.signal_values(), self.context_evidence.signal_values()
        order = np.argsort(self.context, kind="stable")
        sorted_blocks = self.context[order]
        for start, end in zip(starts, ends, strict=True):
            block = self.context_block[start]
            tops = signal_tops(self.context_evidence.take(np.arange(start, end)))
            context_ranks[start:end] = rank_terms(context_values[start:end], tops)
            rows = order[np.searchsorted(sorted_blocks, block):np.searchsorted(sorted_blocks, block, side="right")]
            pair_ranks[rows] = rank_terms(pair_values[rows], tops)
        return replace(self, evidence=replace(self.evidence, ranks=pair_ranks),
                       context_evidence=replace(self.context_evidence, ranks=context_ranks))

    def context_scores(self, model: PairModel) -> np.ndarray:
        """(n,) the context score of each pair's need under `model`."""
        scores = model.scores(self.context_evidence)
        starts = np.flatnonzero(np.r_[True, np.diff(self.context_block) != 0])
        per_block = np.array([kth_best(part, CONTEXT_RANK) for part in np.split(scores, starts[1:])])
        found: np.ndarray = per_block[self.context]
        return found

    def query_weights(self) -> np.ndarray:
        """(g,) each source the same total, each query the same within its source (mean 1)."""
        sources, inverse, counts = np.unique(self.group_sources, return_inverse=True, return_counts=True)
        weights: np.ndarray = 1.0 / (len(sources) * counts[inverse])
        return weights * len(weights)

    def candidate_pool(self) -> np.ndarray:
        """(n,) bool: the pairs the ranking is fitted on: each query's best POOL_PER_SIGNAL by
        each signal (the engine's candidates), or every pair of a judged group."""
        pool: np.ndarray = self.judged[self.group].copy()
        for values in (self.evidence.multilingual, self.evidence.dense, self.evidence.bm25):
            pool |= ranks_within_queries(np.nan_to_num(values, nan=-np.inf), self.group) <= POOL_PER_SIGNAL
        return pool

    def seen(self, scores: np.ndarray) -> np.ndarray:
        """(n,) bool: the pairs users see under `scores` (see calibration.SEEN_PER_QUERY)."""
        seen: np.ndarray = top_mask(scores, self.group, SEEN_PER_QUERY) | self.judged[self.group]
        return seen


def listwise_weights(design: np.ndarray, relevant: np.ndarray, group: np.ndarray, query_weights: np.ndarray,
                     l2: float, nonnegative: np.ndarray) -> np.ndarray:
    """Weights minimising Σ_q w_q × mean over q's relevant pairs of −log softmax(score)_pair,
    plus l2/2 × |weights|²; rows sorted by group."""
    relevant = relevant.astype(np.float64)
    design = design.astype(np.float64)
    starts = np.flatnonzero(np.r_[True, np.diff(group) != 0])
    owner = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(group)]))
    hits = np.add.reduceat(relevant, starts)
    weight = np.where(hits > 0, query_weights[group[starts]] / np.maximum(hits, 1.0), 0.0)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = design @ w
        top = np.maximum.reduceat(z, starts)
        exp = np.exp(z - top[owner])
        total = np.add.reduceat(exp, starts)
        log_norm = np.log(total) + top
        value = -float((weight[owner] * relevant * (z - log_norm[owner])).sum()) + 0.5 * l2 * float(w @ w)
        share = exp / total[owner]
        gradient = -(design.T @ (weight[owner] * (relevant - hits[owner] * share))) + l2 * w
        return value, gradient

    bounds = [(0.0, None) if positive else (None, None) for positive in nonnegative]
    result = minimize(loss, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B", bounds=bounds)
    return np.asarray(result.x)


def calibrate(scores: np.ndarray, contexts: np.ndarray, relevant: np.ndarray, weights: np.ndarray) -> dict[str, float]:
    """P(relevant) = σ(slope × score + context × context score + intercept), weighted logistic."""
    if relevant.all() or not relevant.any():
        raise ValueError("calibration needs relevant and irrelevant pairs among those users see")
    model = LogisticRegression(C=1e4, max_iter=2000).fit(
        np.column_stack([scores, contexts]), relevant, sample_weight=weights)
    return {"slope": float(model.coef_[0, 0]), "context": float(model.coef_[0, 1]),
            "intercept": float(model.intercept_[0])}


def fit_once(pairs: TrainingPairs, l2: float, bands: Bands = DEFAULT_BANDS, version: str = "unversioned",
             features: FeatureSet = RAW) -> PairModel:
    """One fit of the ranking weights and the calibration on all of `pairs`."""
    pool = pairs.candidate_pool()
    query_weights = pairs.query_weights()
    condition_features = dict(features.condition_features)
    design = design_matrix(pairs.evidence, condition_features, features.shared)
    names = parameter_names(condition_features, features.shared)
    nonnegative = np.array([name != "offset" for _, name in names])
    w = listwise_weights(design[pool], pairs.relevant[pool], pairs.group[pool], query_weights, l2, nonnegative)
    weights: dict[str, dict[str, float]] = {}
    for (condition, name), value in zip(names, w, strict=True):
        for owner in (condition_features if condition == "*" else [condition]):
            weights.setdefault(owner, {})[name] = float(value)
    ranking = PairModel(weights, {"slope": 1.0, "context": 0.0, "intercept": 0.0}, bands, version,
                        condition_features)
    scores = ranking.scores(pairs.evidence)
    seen = pairs.seen(scores)
    per_pair = query_weights[pairs.group] / np.bincount(pairs.group[seen], minlength=len(query_weights))[pairs.group]
    calibration = calibrate(scores[seen], pairs.context_scores(ranking)[seen], pairs.relevant[seen], per_pair[seen])
    return PairModel(weights, calibration, bands, version, condition_features, provenance={"l2": l2})


def fold_of(key: str, folds: int = FOLDS) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:4], "big") % folds


def out_of_fold(pairs: TrainingPairs, l2: float, folds: int = FOLDS, features: FeatureSet = RAW) -> np.ndarray:
    """Each pair's probability from a model fitted without its query's fold."""
    fold = np.array([fold_of(str(key), folds) for key in pairs.group_keys])
    probabilities = np.full(len(pairs.group), np.nan, dtype=np.float32)
    for number in range(folds):
        held, kept = np.flatnonzero(fold == number), np.flatnonzero(fold != number)
        if not len(held) or not len(kept):
            continue
        model = fit_once(pairs.subset(kept), l2, features=features)
        test = pairs.subset(held)
        probabilities[np.isin(pairs.group, held)] = model.probabilities(test.evidence, test.context_scores(model))
    return probabilities


def group_metrics(
    pairs: TrainingPairs, scores: np.ndarray, probabilities: np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """Per slice and per source: queries, nDCG@10, MRR@10 and (given probabilities) the ECE
    on the pairs users see."""
    ranked = ranking_metrics(scores, pairs.group, pairs.relevant)
    seen = pairs.seen(scores)
    found: dict[str, dict[str, float]] = {}
    for label, names in (("slice", pairs.group_slices), ("source", pairs.group_sources)):
        for name in np.unique(names):
            groups = np.flatnonzero(names == name)
            chosen = np.isin(ranked.queries, groups)
            entry = {"queries": int(chosen.sum()), "ndcg@10": float(ranked.ndcg[chosen].mean()),
                     "mrr@10": float(ranked.mrr[chosen].mean())}
            if probabilities is not None:
                rows = seen & np.isin(pairs.group, groups)
                entry["ece"] = expected_calibration_error(probabilities[rows], pairs.relevant[rows])
            found[f"{label}:{name}"] = entry
    return found


def objective(metrics: Mapping[str, Mapping[str, float]]) -> float:
    """Mean over slices of (nDCG@10 + MRR@10) / 2: every slice counts the same."""
    slices = [m for key, m in metrics.items() if key.startswith("slice:")]
    return float(np.mean([(m["ndcg@10"] + m["mrr@10"]) / 2 for m in slices]))


def fit(pairs: TrainingPairs, provenance: Mapping[str, object], l2_grid: Sequence[float] = L2_GRID,
        bands: Bands = DEFAULT_BANDS, features: FeatureSet = RAW) -> PairModel:
    """The L2 penalty with the best cross-validated objective, refitted on every pair; the
    model carries its cross-validated metrics and what it was fitted on."""
    results = []
    for l2 in l2_grid:
        probabilities = out_of_fold(pairs, l2, features=features)
        metrics = group_metrics(pairs, probabilities, probabilities)
        results.append((objective(metrics), l2, metrics))
    best_objective, best_l2, best_metrics = max(results, key=lambda r: (r[0], -r[1]))
    model = fit_once(pairs, best_l2, bands, features=features)
    numbers = json.dumps([model.weights, model.calibration, sorted(pairs.group_keys.tolist())], sort_keys=True)
    digest = hashlib.sha256(numbers.encode("utf-8")).hexdigest()[:8]
    sources = {str(s): int((pairs.group_sources == s).sum()) for s in np.unique(pairs.group_sources)}
    return PairModel(
        model.weights, model.calibration, bands, f"{date.today().isoformat()}.{digest}", model.condition_features,
        provenance={**provenance, "l2": best_l2, "shared_features": list(features.shared), "folds": FOLDS,
                    "queries_per_source": sources,
                    "l2_grid": {str(l2): round(value, 4) for value, l2, _ in results}},
        cv_metrics={"objective": round(best_objective, 4), "groups": best_metrics},
    )


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str


def accept(candidate: PairModel, current: PairModel, tolerance: float = 0.0) -> Verdict:
    """Accept `candidate` only if its cross-validated objective on the slices both models were
    measured on is at least the current model's (minus `tolerance`).

    Both numbers are cross-validated on the same queries with the same folds (a query's fold
    follows from its key), so a refit on the development sets plus feedback is compared with
    the fit it would replace on the development sets' queries: feedback that pulls the model
    away from them is refused. The candidate's own new groups (feedback) are not compared."""
    mine, theirs = candidate.cv_metrics.get("groups", {}), current.cv_metrics.get("groups", {})
    shared = sorted(key for key in set(mine) & set(theirs) if key.startswith("slice:"))
    if not shared:
        return Verdict(False, f"no slice measured for both models; keeping {current.version}")
    candidate_objective = objective({key: mine[key] for key in shared})
    current_objective = objective({key: theirs[key] for key in shared})
    changes = ", ".join(f"{key[6:]} {(theirs[key]['ndcg@10'] + theirs[key]['mrr@10']) / 2:.3f} → "
                        f"{(mine[key]['ndcg@10'] + mine[key]['mrr@10']) / 2:.3f}" for key in shared)
    if candidate_objective + tolerance < current_objective:
        return Verdict(False, f"cross-validated objective {candidate_objective:.4f} is below the current model's "
                              f"{current_objective:.4f} ({changes}); keeping {current.version}")
    return Verdict(True, f"cross-validated objective {candidate_objective:.4f} ≥ {current_objective:.4f} "
                         f"of {current.version} ({changes})")
