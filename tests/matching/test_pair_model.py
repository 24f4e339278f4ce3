import time

import numpy as np
import pytest

from app.domain import Fit
from app.matching.lexical import LexicalIndex
from app.matching.pair_features import (
    CONDITION_NAMES,
    CROSS_LANGUAGE,
    DUTCH,
    ENGLISH,
    UNKNOWN_LANGUAGE,
    PairEvidence,
    pair_conditions,
    pair_evidence,
    query_mass,
)
from app.matching.pair_model import CONTEXT_RANK, Bands, PairModel, kth_best


def evidence(n: int, seed: int = 0, conditions: np.ndarray | None = None) -> PairEvidence:
    rng = np.random.default_rng(seed)
    return PairEvidence(
        dense=rng.uniform(0.0, 0.8, n).astype(np.float32),
        multilingual=rng.uniform(0.0, 0.8, n).astype(np.float32),
        bm25=rng.uniform(0.0, 15.0, n).astype(np.float32),
        bm25_fraction=rng.uniform(0.0, 0.5, n).astype(np.float32),
        conditions=rng.integers(0, len(CONDITION_NAMES), n).astype(np.int8) if conditions is None else conditions,
    )


@pytest.fixture(scope="module")
def model() -> PairModel:
    return PairModel.load()


def test_conditions_are_need_language_by_company_language():
    found = pair_conditions("nl", np.array(["nl", "en", "unknown"]))
    assert found.tolist() == [DUTCH, CROSS_LANGUAGE, UNKNOWN_LANGUAGE]
    assert pair_conditions("en", np.array(["en", "nl"])).tolist() == [ENGLISH, CROSS_LANGUAGE]
    assert pair_conditions("unknown", np.array(["nl", "en"])).tolist() == [UNKNOWN_LANGUAGE] * 2


def test_the_mass_of_a_query_bounds_its_bm25_so_the_fraction_stays_below_one():
    passages = [["radar", "drone", "drone"], ["kaas"], ["radar", "sensor", "drone", "kaas", "melk"]]
    index = LexicalIndex(passages)
    query = [["drone", "radar", "onbekend"], ["kaas"]]
    mass = query_mass(index.statistics, query)
    scores = index.scores_of(np.arange(len(passages)), query)
    assert (scores <= mass[None, :] + 1e-6).all()
    # An unseen stem counts with the highest IDF: nonsense in a query lowers its fraction.
    assert mass[0] > query_mass(index.statistics, [["drone", "radar"]])[0]


def test_evidence_is_each_documents_best_passage_pair():
    # Two documents (2 and 1 passages) against a query of two passages with masses 10 and 2.
    bm25 = np.array([[1.0, 0.5], [3.0, 0.0], [0.0, 1.5]], dtype=np.float32)
    cosine = np.array([[0.2, 0.6], [0.1, 0.3], [0.4, 0.0]], dtype=np.float32)
    found = pair_evidence({"bm25": bm25, "multilingual": cosine}, np.array([2, 1]), np.array([10.0, 2.0]),
                          np.array([ENGLISH, ENGLISH]))
    assert found.bm25.tolist() == [3.0, 1.5]
    assert found.bm25_fraction.tolist() == pytest.approx([0.3, 0.75])
    assert found.multilingual.tolist() == pytest.approx([0.6, 0.4])
    assert np.isnan(found.dense).all()  # no dense encoder: missing, not zero


def test_a_pair_has_one_score_whatever_else_is_scored_with_it(model):
    batch = evidence(300, seed=1)
    together = model.probabilities(batch, 2.0)
    alone = np.array([model.probabilities(batch.take(np.array([i])), 2.0)[0] for i in range(0, 300, 37)])
    assert together[::37] == pytest.approx(alone, abs=1e-7)
    reordered = model.probabilities(batch.take(np.arange(300)[::-1]), 2.0)[::-1]
    assert together == pytest.approx(reordered, abs=1e-7)
    assert ((together >= 0) & (together <= 1)).all()


@pytest.mark.parametrize("signal", ["dense", "multilingual", "bm25", "bm25_fraction"])
def test_more_evidence_never_lowers_a_pairs_probability(model, signal):
    base = evidence(500, seed=2)
    raised = base.take(np.arange(len(base)))  # a copy
    getattr(raised, signal)[:] += 0.1
    # A context as high as a need with many look-alikes keeps the probabilities away from 1.
    assert (model.probabilities(raised, 6.0) >= model.probabilities(base, 6.0)).all()
    assert (model.probabilities(raised, 6.0) > model.probabilities(base, 6.0)).any()


def test_a_need_whose_neighbours_score_high_gives_the_same_pair_a_lower_probability(model):
    pair = evidence(1, seed=3)
    assert model.probabilities(pair, 5.0)[0] < model.probabilities(pair, 1.0)[0]
    assert kth_best(np.arange(30.0), CONTEXT_RANK) == 30 - CONTEXT_RANK
    assert kth_best(np.array([3.0, 1.0]), CONTEXT_RANK) == 1.0  # fewer than the rank: the lowest
    assert kth_best(np.zeros(0), CONTEXT_RANK) == 0.0


def test_bands_follow_the_thresholds_on_the_probability(model):
    strong, fair = model.bands.strong, model.bands.fair
    assert model.fits([strong, strong - 1e-6, fair, fair - 1e-6, 0.0, 1.0]) == [
        Fit.strong, Fit.fair, Fit.fair, Fit.weak, Fit.weak, Fit.strong]
    with pytest.raises(ValueError, match="fair < strong"):
        Bands(strong=0.2, fair=0.5)


def test_nonsense_evidence_is_weak_and_clear_evidence_strong(model):
    # A query nothing speaks for: its best pair is no better than its tenth.
    nothing = PairEvidence(*(np.zeros(20, np.float32) for _ in range(4)), np.full(20, UNKNOWN_LANGUAGE, np.int8))
    context = model.context_score(nothing)
    assert set(model.fits(model.probabilities(nothing, context))) == {Fit.weak}
    clear = PairEvidence(np.array([0.7], np.float32), np.array([0.6], np.float32), np.array([12.0], np.float32),
                         np.array([0.4], np.float32), np.array([ENGLISH], np.int8))
    rng = np.random.default_rng(4)  # a need's other companies: a few words and topics in common
    low, high = np.array([0.1, 0.1, 0.0, 0.0]), np.array([0.35, 0.3, 3.0, 0.05])
    dense, multilingual, bm25, fraction = rng.uniform(low, high, (50, 4)).astype(np.float32).T
    neighbours = PairEvidence(dense, multilingual, bm25, fraction, np.full(50, ENGLISH, np.int8))
    assert model.fits(model.probabilities(clear, model.context_score(neighbours))) == [Fit.strong]


def test_the_artifact_round_trips_and_refuses_what_this_code_cannot_use(model, tmp_path):
    path = tmp_path / "model.json"
    model.save(path)
    again = PairModel.load(path)
    sample = evidence(50, seed=5)
    assert again.probabilities(sample, 1.5) == pytest.approx(model.probabilities(sample, 1.5))
    assert again.version == model.version and again.cv_metrics == model.cv_metrics
    data = model.to_json()
    with pytest.raises(ValueError, match="format"):
        PairModel.from_json({**data, "format": 99})
    with pytest.raises(ValueError, match="other features"):
        PairModel.from_json({**data, "condition_features": {"same": ["dense"]}})
    negative = {c: dict(w) for c, w in data["weights"].items()}
    negative["cross"]["dense"] = -1.0
    with pytest.raises(ValueError, match="≥ 0"):
        PairModel.from_json({**data, "weights": negative})
    with pytest.raises(ValueError, match="slope"):
        PairModel.from_json({**data, "calibration": {**data["calibration"], "slope": -0.5}})


def test_the_packaged_artifact_says_where_it_came_from(model):
    fitted_on = model.provenance["fitted_on"]
    assert set(fitted_on) == {"dev", "cordis"} and all(s["split"] == "dev" for s in fitted_on.values())
    assert model.cv_metrics["groups"]["slice:cordis"]["queries"] > 400


def test_scoring_three_hundred_candidates_takes_well_under_a_millisecond(model):
    batch = evidence(300, seed=6)
    model.probabilities(batch, 1.0)
    timings = []
    for _ in range(200):
        started = time.perf_counter()
        model.probabilities(batch, 1.0)
        timings.append(time.perf_counter() - started)
    assert np.median(timings) < 1e-3
