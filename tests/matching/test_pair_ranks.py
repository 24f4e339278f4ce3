"""Rank features of a pair: its rank in its need's list by each signal, one number per pair."""

import numpy as np
import pytest

from app.matching.calibration import RRF_K, ranks_within_queries
from app.matching.pair_features import (
    CONDITION_NAMES,
    ENGLISH,
    RANK_DEPTH,
    PairEvidence,
    rank_terms,
    signal_tops,
)
from app.matching.pair_fit import FeatureSet, TrainingPairs, fit
from app.matching.pair_model import CONDITION_FEATURES, RANK_FEATURES, PairModel

from .test_pair_fit import CANDIDATES, synthetic_pairs


def side(n: int, seed: int = 0) -> PairEvidence:
    """A need's evidence against every company of a side of n companies (all distinct values)."""
    rng = np.random.default_rng(seed)
    return PairEvidence(
        dense=rng.permutation(n).astype(np.float32) / n, multilingual=rng.permutation(n).astype(np.float32) / n,
        bm25=rng.permutation(n).astype(np.float32) + 1, bm25_fraction=np.zeros(n, np.float32),
        conditions=np.full(n, ENGLISH, np.int8))


def test_a_pair_ranks_as_in_its_needs_whole_list_down_to_the_kept_depth():
    whole = side(3 * RANK_DEPTH)
    tops = signal_tops(whole)
    found = rank_terms(whole.signal_values(), tops)
    for column, values in enumerate((whole.bm25, whole.dense, whole.multilingual)):
        rank = ranks_within_queries(values, np.zeros(len(values), int))
        wanted = 1.0 / (RRF_K + np.minimum(rank, RANK_DEPTH + 1))
        assert found[:, column] == pytest.approx(wanted)


def test_a_pair_without_evidence_of_a_signal_ranks_last():
    whole = side(10)
    tops = signal_tops(whole)
    lonely = PairEvidence(dense=np.array([np.nan], np.float32), multilingual=np.array([0.99], np.float32),
                          bm25=np.array([0.0], np.float32), bm25_fraction=np.zeros(1, np.float32),
                          conditions=np.array([ENGLISH], np.int8))
    bm25_term, dense_term, multilingual_term = rank_terms(lonely.signal_values(), tops)[0]
    assert bm25_term == dense_term == pytest.approx(1.0 / (RRF_K + RANK_DEPTH + 1))
    assert multilingual_term == pytest.approx(1.0 / (RRF_K + 1))  # above every company of the side


def test_ranking_against_one_need_or_one_need_per_pair_agrees():
    needs = [side(80, seed) for seed in range(3)]
    tops = np.stack([signal_tops(need) for need in needs])
    pairs = PairEvidence.concatenate([need.take(np.array([5, 17])) for need in needs])
    per_pair = rank_terms(pairs.signal_values(), np.repeat(tops, 2, axis=0))
    for number in range(3):
        alone = rank_terms(pairs.signal_values()[2 * number:2 * number + 2], tops[number])
        assert per_pair[2 * number:2 * number + 2] == pytest.approx(alone)


def test_a_model_that_reads_ranks_refuses_pairs_not_ranked_against_their_need():
    pairs = synthetic_pairs(30, seed=1).ranked()
    features = FeatureSet({c: CONDITION_FEATURES[c] + RANK_FEATURES for c in CONDITION_NAMES})
    model = fit(pairs, {}, l2_grid=(1.0,), features=features)
    assert model.reads_ranks
    with pytest.raises(ValueError, match="ranked"):
        model.scores(synthetic_pairs(2, seed=3).evidence)
    loaded = PairModel.from_json(model.to_json())
    assert loaded.condition_features == model.condition_features
    assert np.array_equal(loaded.scores(pairs.evidence), model.scores(pairs.evidence))


def test_the_fit_learns_a_signal_that_speaks_only_through_its_rank():
    """Relevant pairs are each query's best by MiniLM, while MiniLM's raw values differ from
    query to query by more than within one: only the rank carries it."""
    rng = np.random.default_rng(4)
    pairs = synthetic_pairs(60, seed=4, signal="dense")
    shift = np.repeat(rng.uniform(-0.5, 0.5, 60), CANDIDATES).astype(np.float32)
    evidence = PairEvidence(pairs.evidence.dense + shift, pairs.evidence.multilingual, pairs.evidence.bm25,
                            pairs.evidence.bm25_fraction, pairs.evidence.conditions)
    shifted = TrainingPairs(evidence, pairs.relevant, pairs.group, pairs.group_keys, pairs.group_sources,
                            pairs.group_slices, pairs.judged, pairs.context, evidence, pairs.context_block).ranked()
    features = FeatureSet({c: RANK_FEATURES for c in CONDITION_NAMES}, shared=RANK_FEATURES)
    model = fit(shifted, {}, l2_grid=(1.0,), features=features)
    weights = model.weights["nl-nl"]
    assert weights["dense_rank"] > max(weights["bm25_rank"], weights["multilingual_rank"])
    assert all(model.weights[c]["dense_rank"] == weights["dense_rank"] for c in CONDITION_NAMES)
