import numpy as np
import pytest

from app.matching.calibration import (
    expected_calibration_error,
    ranking_metrics,
    ranks_within_queries,
    reciprocal_rank_fusion,
    reliability_table,
    top_mask,
)
from app.matching.evaluate import mrr_at_k, ndcg_at_k
from app.matching.pair_features import CONDITION_NAMES, PairEvidence
from app.matching.pair_fit import TrainingPairs, accept, fit, group_metrics, objective

CANDIDATES = 40


def synthetic_pairs(groups: int, seed: int, *, signal: str = "multilingual", source: str = "a",
                    shuffle_labels: bool = False) -> TrainingPairs:
    """Queries of CANDIDATES pairs each, two relevant; `signal` is higher for the relevant ones."""
    rng = np.random.default_rng(seed)
    n = groups * CANDIDATES
    group = np.repeat(np.arange(groups), CANDIDATES)
    relevant = np.zeros(n, bool)
    relevant[np.arange(groups) * CANDIDATES] = True
    relevant[np.arange(groups) * CANDIDATES + 1] = True
    columns = {name: rng.uniform(0.0, 0.4, n).astype(np.float32) for name in ("dense", "multilingual")}
    columns["bm25"] = rng.uniform(0.0, 3.0, n).astype(np.float32)
    columns["bm25_fraction"] = rng.uniform(0.0, 0.05, n).astype(np.float32)
    columns[signal][relevant] += 0.3
    if shuffle_labels:
        relevant = relevant[rng.permutation(n)]
    evidence = PairEvidence(**columns, conditions=rng.integers(0, len(CONDITION_NAMES), n).astype(np.int8))
    keys = np.array([f"{source}:{seed}:{g}" for g in range(groups)])
    # Each query's context is its own candidate list (the whole side of a small set).
    return TrainingPairs(evidence, relevant, group, keys, np.full(groups, source), np.full(groups, source),
                         np.zeros(groups, bool), group.copy(), evidence, group.copy())


def test_ranking_metrics_agree_with_the_evaluation_harness():
    rng = np.random.default_rng(0)
    query = np.repeat(np.arange(20), 30)
    scores = rng.normal(size=len(query))
    relevant = rng.random(len(query)) < 0.1
    found = ranking_metrics(scores, query, relevant)
    for q in range(20):
        rows = np.flatnonzero(query == q)
        ranked = [str(i) for i in rows[np.argsort(-scores[rows], kind="stable")]]
        wanted = [str(i) for i in rows[relevant[rows]]]
        assert found.ndcg[q] == pytest.approx(ndcg_at_k(ranked, wanted))
        assert found.mrr[q] == pytest.approx(mrr_at_k(ranked, wanted))


def test_ranks_rrf_and_the_pairs_users_see_are_per_query():
    query = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.9, 0.5, 3.0, 2.0])
    assert ranks_within_queries(scores, query).tolist() == [3, 1, 2, 1, 2]
    assert top_mask(scores, query, 1).tolist() == [False, True, False, True, False]
    fused = reciprocal_rank_fusion([scores, -scores], query, k=60)
    assert fused[0] == pytest.approx(1 / 63 + 1 / 61)


def test_calibration_error_is_the_weighted_gap_per_bin():
    probabilities = np.array([0.05, 0.05, 0.95, 0.95, 0.55, 0.55])
    labels = np.array([0, 0, 1, 1, 1, 0], bool)
    assert expected_calibration_error(probabilities, labels) == pytest.approx((2 * 0.05 + 2 * 0.05 + 2 * 0.05) / 6)
    assert expected_calibration_error(np.array([0.3, 0.3, 0.3]), np.array([1, 0, 0], bool)) == pytest.approx(
        abs(0.3 - 1 / 3))
    rows = reliability_table(probabilities, labels)
    assert [(r.low, r.pairs, r.observed) for r in rows] == [(0.0, 2, 0.0), (0.5, 2, 0.5), (0.9, 2, 1.0)]


def test_the_fit_learns_which_signal_speaks_and_ranks_unseen_queries_by_it():
    pairs = synthetic_pairs(60, seed=1, signal="multilingual")
    model = fit(pairs, {"data": "synthetic"}, l2_grid=(1.0,))
    assert all(model.weights[c]["multilingual"] > model.weights[c]["dense"] for c in CONDITION_NAMES)
    unseen = synthetic_pairs(30, seed=2, signal="multilingual")
    probabilities = model.probabilities(unseen.evidence, unseen.context_scores(model))
    assert objective(group_metrics(unseen, probabilities)) > 0.8
    assert model.cv_metrics["objective"] > 0.8 and model.provenance["data"] == "synthetic"


def test_sources_weigh_the_same_in_total_and_queries_the_same_within_one():
    pairs = TrainingPairs.concatenate([synthetic_pairs(30, seed=3, source="big"),
                                       synthetic_pairs(3, seed=4, source="small")])
    weights = pairs.query_weights()
    assert weights[:30].sum() == pytest.approx(weights[30:].sum())
    assert np.unique(weights[:30]).size == 1


def test_feedback_that_contradicts_the_development_data_is_refused_and_agreeing_feedback_accepted():
    development = synthetic_pairs(60, seed=5, source="dev")
    current = fit(development, {"data": "dev"}, l2_grid=(1.0,))
    # Staff feedback that says the English-only model decides relevance, against the data.
    contradicting = synthetic_pairs(120, seed=6, signal="dense", source="feedback")
    worse = fit(TrainingPairs.concatenate([development, contradicting]), {"data": "dev+feedback"}, l2_grid=(1.0,))
    verdict = accept(worse, current)
    assert not verdict.accepted
    assert "below the current model" in verdict.reason and current.version in verdict.reason
    agreeing = synthetic_pairs(60, seed=7, signal="multilingual", source="feedback")
    better = fit(TrainingPairs.concatenate([development, agreeing]), {"data": "dev+feedback"}, l2_grid=(1.0,))
    assert accept(better, current, tolerance=0.01).accepted
