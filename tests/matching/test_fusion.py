import numpy as np
import pytest

from app.matching.fusion import (
    BM25,
    CROSS_LANGUAGE,
    DENSE,
    FUSION_WEIGHTS,
    MULTILINGUAL,
    SAME_LANGUAGE,
    UNKNOWN_LANGUAGE,
    CandidateScores,
    FusionWeights,
    SignalWeights,
    fuse,
    language_conditions,
    normalise_per_query,
)

EQUAL = FusionWeights(SignalWeights(1, 1, 1), SignalWeights(1, 1, 1), SignalWeights(1, 1, 1))


def candidates(best, conditions, *, nld=None, sectors=None, dense_cross_lingual=False):
    best = np.array(best, dtype=np.float32)
    count = len(best)
    return CandidateScores(
        document_ids=np.arange(1, count + 1),
        best=best,
        second=np.zeros_like(best),
        conditions=np.array(conditions, dtype=np.int8),
        shared_nld_areas=np.array(nld or [0] * count),
        shared_sectors=np.array(sectors or [0] * count),
        dense_cross_lingual=dense_cross_lingual,
    )


def test_language_conditions():
    conditions = language_conditions("nl", np.array(["nl", "en", "unknown"]))
    assert list(conditions) == [SAME_LANGUAGE, CROSS_LANGUAGE, UNKNOWN_LANGUAGE]
    assert list(language_conditions("unknown", np.array(["nl"]))) == [UNKNOWN_LANGUAGE]


def test_normalisation_scales_bm25_from_zero_and_cosines_from_the_lowest_candidate():
    raw = np.array([[4.0, 0.2, 0.5], [2.0, 0.6, 0.3], [0.0, 0.4, 0.1]], dtype=np.float32)
    normalised = normalise_per_query(raw)
    assert normalised[:, BM25] == pytest.approx([1.0, 0.5, 0.0])
    assert normalised[:, DENSE] == pytest.approx([0.0, 1.0, 0.5])
    assert normalised[:, MULTILINGUAL] == pytest.approx([1.0, 0.5, 0.0])


def test_a_signal_without_spread_scores_every_positive_candidate_one_and_a_missing_score_zero():
    raw = np.array([[0.0, 0.7, np.nan], [0.0, 0.7, 0.4], [0.0, 0.2, 0.6]], dtype=np.float32)
    normalised = normalise_per_query(raw)
    assert normalised.dtype == np.float32
    assert normalised[:, BM25].tolist() == [0.0, 0.0, 0.0]  # nobody shares a word
    assert normalised[:, DENSE].tolist() == [1.0, 1.0, 0.0]
    assert normalised[:, MULTILINGUAL].tolist() == [0.0, 0.0, 1.0]  # NaN: the signal did not see it
    assert np.array_equal(normalise_per_query(np.array([[0.3, 0.3, 0.3]], np.float32)), [[1.0, 1.0, 1.0]])


def test_a_blind_english_model_does_not_drag_down_a_cross_language_match():
    # Document 1 is English and the best match by the multilingual model; the English-only
    # dense model sees nothing in the Dutch query and ranks it last. Document 2 is Dutch.
    scores = candidates([[0.0, 0.05, 0.80], [0.0, 0.60, 0.40]], [CROSS_LANGUAGE, SAME_LANGUAGE])
    fused = fuse(scores, EQUAL)
    assert fused.total[0] > fused.total[1]
    assert not fused.visible[0, DENSE] and not fused.visible[0, BM25]
    assert fused.contributions[0, DENSE] == 0.0


def test_zero_lexical_overlap_counts_against_a_same_language_document():
    # In one language, no shared word is real evidence; BM25 stays in the mean.
    scores = candidates([[0.0, 0.5, 0.5], [3.0, 0.5, 0.5]], [SAME_LANGUAGE, SAME_LANGUAGE])
    fused = fuse(scores, EQUAL)
    assert fused.visible[0, BM25]
    assert fused.total[1] > fused.total[0]


def test_a_cross_lingual_dense_model_is_not_treated_as_blind():
    scores = candidates(
        [[0.0, 0.9, 0.5], [0.0, 0.1, 0.5]], [CROSS_LANGUAGE, CROSS_LANGUAGE], dense_cross_lingual=True
    )
    assert fuse(scores, EQUAL).visible[:, DENSE].all()


def test_shared_tags_add_a_capped_bonus():
    weights = FusionWeights(
        SignalWeights(1, 1, 1),
        SignalWeights(1, 1, 1),
        SignalWeights(1, 1, 1),
        shared_nld_bonus=0.05,
        shared_sector_bonus=0.02,
    )
    scores = candidates([[1.0, 0.5, 0.5], [1.0, 0.5, 0.5]], [SAME_LANGUAGE] * 2, nld=[5, 0], sectors=[1, 0])
    fused = fuse(scores, weights)
    assert fused.bonus[0] == pytest.approx(2 * 0.05 + 0.02)
    assert fused.total[0] - fused.total[1] == pytest.approx(fused.bonus[0])


def test_a_missing_signal_is_left_out():
    scores = candidates([[2.0, np.nan, 0.9], [1.0, np.nan, 0.2]], [SAME_LANGUAGE] * 2)
    fused = fuse(scores, EQUAL)
    assert not fused.visible[:, DENSE].any()
    assert fused.total[0] == pytest.approx(1.0)


def test_visible_signals_count_equally_when_all_their_weights_are_zero():
    weights = FusionWeights(SignalWeights(1, 1, 1), SignalWeights(1, 1, 1), SignalWeights(0, 1, 1))
    scores = candidates([[3.0, np.nan, np.nan], [1.0, np.nan, np.nan]], [UNKNOWN_LANGUAGE] * 2)
    fused = fuse(scores, weights)
    assert fused.total.tolist() == pytest.approx([1.0, 1 / 3])


def test_shared_words_across_languages_lift_a_pair_but_never_lower_it():
    # A Dutch query against three English documents. Document 1 is the answer: the best by
    # the multilingual model, sharing one common word. Document 2 shares no word and is a
    # little behind on the multilingual model. Document 3 shares the common word most often
    # (a chance stem) and is weaker on the multilingual model.
    weights = FusionWeights(SignalWeights(1, 1, 1), SignalWeights(0.25, 1, 1), SignalWeights(0, 1, 1))
    scores = candidates(
        [[0.8, 0.3, 0.50], [0.0, 0.3, 0.495], [1.0, 0.2, 0.40], [0.0, 0.2, 0.30]], [CROSS_LANGUAGE] * 4
    )
    fused = fuse(scores, weights)
    assert list(np.argsort(-fused.total)) == [0, 1, 2, 3]
    # Document 1 is scored by the multilingual model alone: its weaker lexical score is not
    # counted, and the explanation does not list BM25 as a part of it.
    assert fused.total[0] == pytest.approx(1.0)
    assert not fused.visible[0, BM25] and fused.contributions[0, BM25] == 0.0
    # Document 3's shared words raise it above its multilingual score alone (0.5).
    assert fused.visible[2, BM25] and fused.contributions[2, BM25] > 0
    assert fused.total[2] == pytest.approx(0.8 * 0.5 + 0.2 * 1.0)


def test_a_strong_cross_language_answer_is_not_outranked_by_a_mediocre_same_language_pair():
    # Document 1 is English, seen only by the multilingual model, and clearly its best;
    # document 2 is Dutch and middling on all three signals. Document 3 sets the scales.
    scores = candidates(
        [[0.0, 0.10, 0.80], [2.0, 0.35, 0.45], [4.0, 0.60, 0.10]],
        [CROSS_LANGUAGE, SAME_LANGUAGE, SAME_LANGUAGE],
    )
    fused = fuse(scores, FUSION_WEIGHTS)
    assert fused.total[0] > fused.total[1]
    assert fused.shares[0].tolist() == pytest.approx([0.0, 0.0, 1.0])


def test_lexical_overlap_in_one_language_still_counts_when_it_lowers_the_mean():
    scores = candidates([[1.0, 0.6, 0.6], [4.0, 0.2, 0.2], [0.0, 0.1, 0.1]], [SAME_LANGUAGE] * 3)
    fused = fuse(scores, EQUAL)
    assert fused.visible[0, BM25] and fused.contributions[0, BM25] > 0
    assert fused.total[0] == pytest.approx((0.25 + 1.0 + 1.0) / 3)
