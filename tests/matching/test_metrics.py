import math

import pytest

from app.matching.evaluate import mrr_at_k, ndcg_at_k, recall_at_k


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_result():
    assert mrr_at_k(["a", "b", "c"], ["c", "b"]) == pytest.approx(1 / 2)
    assert mrr_at_k(["a", "b", "c"], ["a"]) == 1.0


def test_mrr_ignores_results_below_the_cutoff():
    ranked = [f"x{i}" for i in range(10)] + ["hit"]
    assert mrr_at_k(ranked, ["hit"], k=10) == 0.0


def test_recall_counts_the_share_of_relevant_records_found():
    assert recall_at_k(["a", "b", "c"], ["a", "c", "z", "y"]) == pytest.approx(2 / 4)
    assert recall_at_k(["a"], []) == 0.0


def test_ndcg_matches_a_hand_computed_value():
    # relevant at ranks 2 and 3 of two relevant records:
    # DCG = 1/log2(3) + 1/log2(4); ideal = 1/log2(2) + 1/log2(3)
    expected = (1 / math.log2(3) + 1 / 2) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["a", "b", "c"], ["b", "c"]) == pytest.approx(expected)


def test_ndcg_is_one_for_a_perfect_ranking_and_zero_without_hits():
    assert ndcg_at_k(["b", "c", "a"], ["b", "c"]) == pytest.approx(1.0)
    assert ndcg_at_k(["a"], ["b"]) == 0.0
