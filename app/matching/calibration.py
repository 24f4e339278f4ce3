"""Calibration and ranking measures over scored pairs grouped by query. Pure numpy.

Where calibration is measured: the pairs users see, defined as each query's SEEN_PER_QUERY
best pairs by the score being measured (a list page and a bit). A probability that is right
there is what an adviser reads; far down the list nobody looks and nearly every pair is
irrelevant, which would make any score look calibrated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SEEN_PER_QUERY = 20
RELIABILITY_BINS = 10
CUTOFF = 10  # nDCG@10, MRR@10
RRF_K = 60


def query_starts(query: np.ndarray) -> np.ndarray:
    """Start offsets of the runs of `query` (pairs sorted by query), plus the end."""
    boundaries = np.flatnonzero(np.diff(query)) + 1
    return np.concatenate([[0], boundaries, [len(query)]]).astype(np.int64)


def order_within_queries(scores: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Pair indices sorted by query, then by descending score (ties: by index, stable)."""
    return np.lexsort((np.arange(len(scores)), -scores, query))


def ranks_within_queries(scores: np.ndarray, query: np.ndarray) -> np.ndarray:
    """1-based rank of each pair in its query's list (ties by index)."""
    order = order_within_queries(scores, query)
    sorted_query = query[order]
    starts = query_starts(sorted_query)
    position = np.arange(len(order)) - np.repeat(starts[:-1], np.diff(starts))
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = position + 1
    return ranks


def top_mask(scores: np.ndarray, query: np.ndarray, k: int = SEEN_PER_QUERY) -> np.ndarray:
    """Each query's k best pairs by `scores`."""
    return ranks_within_queries(scores, query) <= k


def reciprocal_rank_fusion(signals: list[np.ndarray], query: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """Sum over signals of 1 / (k + rank of the pair in its query's list by that signal).
    A missing score (NaN) ranks last."""
    fused = np.zeros(len(query), dtype=np.float64)
    for scores in signals:
        fused += 1.0 / (k + ranks_within_queries(np.nan_to_num(scores, nan=-np.inf), query))
    return fused


@dataclass(frozen=True)
class QueryMetrics:
    ndcg: np.ndarray  # (queries,) nDCG@CUTOFF per query, in the order of the queries' first appearance
    mrr: np.ndarray  # (queries,) MRR@CUTOFF
    queries: np.ndarray  # (queries,) query number of each entry


def ranking_metrics(
    scores: np.ndarray, query: np.ndarray, relevant: np.ndarray, relevant_total: np.ndarray | None = None,
    cutoff: int = CUTOFF,
) -> QueryMetrics:
    """nDCG@cutoff and MRR@cutoff (binary relevance) of each query's ranking by `scores`.

    `relevant_total`: per pair, how many relevant records its query has in all (for the
    ideal DCG); by default the relevant pairs present."""
    ranks = ranks_within_queries(np.nan_to_num(scores, nan=-np.inf), query)
    queries, inverse = np.unique(query, return_inverse=True)
    hit = relevant & (ranks <= cutoff)
    gain = np.bincount(inverse, np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0), minlength=len(queries))
    first = np.full(len(queries), np.inf)
    np.minimum.at(first, inverse[hit], ranks[hit].astype(float))
    mrr = np.where(np.isfinite(first), 1.0 / first, 0.0)
    totals = np.zeros(len(queries))
    if relevant_total is None:
        np.add.at(totals, inverse, relevant.astype(float))
    else:
        np.maximum.at(totals, inverse, relevant_total.astype(float))
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, cutoff + 2)))
    ideal = np.where(totals > 0, discounts[np.minimum(totals, cutoff).astype(int) - 1], 0.0)
    ndcg = np.divide(gain, ideal, out=np.zeros_like(gain), where=ideal > 0)
    return QueryMetrics(ndcg, mrr, queries)


@dataclass(frozen=True)
class ReliabilityRow:
    low: float
    high: float
    pairs: int
    mean_predicted: float
    observed: float  # share of relevant pairs


def reliability_table(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = RELIABILITY_BINS, weights: np.ndarray | None = None
) -> list[ReliabilityRow]:
    """Pairs grouped by predicted probability in `bins` equal-width bins of [0, 1] (the last one
    closed): per bin the mean prediction and the observed share of relevant pairs. Empty bins
    are left out."""
    probabilities = np.clip(np.asarray(probabilities, dtype=float), 0.0, 1.0)
    labels = np.asarray(labels, dtype=float)
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        chosen = which == b
        total = float(weights[chosen].sum())
        if not chosen.any() or total <= 0:
            continue
        rows.append(ReliabilityRow(
            b / bins, (b + 1) / bins, int(chosen.sum()),
            float(np.dot(weights[chosen], probabilities[chosen]) / total),
            float(np.dot(weights[chosen], labels[chosen]) / total),
        ))
    return rows


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = RELIABILITY_BINS, weights: np.ndarray | None = None
) -> float:
    """Σ over bins of (the bin's share of the pairs) × |mean prediction − observed share|."""
    weights = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
    total = float(weights.sum())
    if total <= 0:
        return math.nan
    which = np.minimum((np.clip(probabilities, 0.0, 1.0) * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        chosen = which == b
        share = float(weights[chosen].sum())
        if share > 0:
            gap = np.dot(weights[chosen], probabilities[chosen] - labels[chosen].astype(float)) / share
            error += share / total * abs(gap)
    return float(error)
