"""Staff feedback as labels: `tune` refits the pair model on development pairs plus feedback,
and keeps the refit only when the cross-validated metrics do not drop."""

import numpy as np

from app.matching.pair_features import DUTCH, PairEvidence
from app.matching.pair_fit import TrainingPairs, fit
from app.matching.pair_scoring import model_path
from app.matching.tuning import feedback_report, install, tune
from tests.matching.factories import make_engine

CANDIDATES = 12


def _pairs(source: str, multilingual: np.ndarray, bm25: np.ndarray, relevant: np.ndarray, size: int,
           judged: bool) -> TrainingPairs:
    groups = len(relevant) // size
    group = np.repeat(np.arange(groups), size)
    evidence = PairEvidence(
        dense=np.full(len(relevant), np.nan, np.float32), multilingual=multilingual.astype(np.float32),
        bm25=(bm25 * 2).astype(np.float32), bm25_fraction=bm25.astype(np.float32),
        conditions=np.full(len(relevant), DUTCH, np.int8),
    )
    return TrainingPairs(
        evidence=evidence, relevant=relevant, group=group,
        group_keys=np.array([f"{source}:{number}" for number in range(groups)]),
        group_sources=np.full(groups, source), group_slices=np.full(groups, source),
        judged=np.full(groups, judged), context=group, context_evidence=evidence, context_block=group,
    )


def development(lexical_evidence: bool, seed: int = 7) -> TrainingPairs:
    """40 queries of CANDIDATES pairs, two relevant each: the multilingual cosine tells them
    apart; BM25 does too when `lexical_evidence`, else it is noise."""
    rng = np.random.default_rng(seed)
    relevant = np.tile(np.r_[np.ones(2, bool), np.zeros(CANDIDATES - 2, bool)], 40)
    multilingual = np.where(relevant, 0.8, 0.2) + rng.normal(0, 0.05, len(relevant))
    bm25 = (np.where(relevant, 0.4, 0.15) + rng.normal(0, 0.03, len(relevant)) if lexical_evidence
            else rng.uniform(0.0, 0.7, len(relevant)))
    return _pairs("dev", multilingual, np.clip(bm25, 0, 1), relevant, CANDIDATES, judged=False)


def contradicting_feedback() -> TrainingPairs:
    """Six needs where staff judged the pair the multilingual cosine favours not relevant and a
    pair of shared rare words relevant."""
    multilingual = np.tile([0.95, 0.3], 6)
    bm25 = np.tile([0.0, 0.3], 6)
    relevant = np.tile([False, True], 6)
    return _pairs("feedback", multilingual, bm25, relevant, 2, judged=True)


def favoured(model, pairs: TrainingPairs) -> np.ndarray:
    """Per judged need, whether the model puts the pair staff found relevant first."""
    scores = model.scores(pairs.evidence).reshape(-1, 2)
    return scores[:, 1] > scores[:, 0]


def test_feedback_that_contradicts_a_ranking_moves_it_when_the_cross_validated_metrics_hold(tmp_path):
    base = development(lexical_evidence=True)
    current = fit(base, {})
    feedback = contradicting_feedback()
    assert not favoured(current, feedback).any()
    before = feedback_report(current, feedback)

    candidate, verdict = tune(base, feedback, current, {"test": True})
    assert verdict.accepted, verdict.reason
    assert favoured(candidate, feedback).all()
    assert feedback_report(candidate, feedback)["mrr@10"] > before["mrr@10"]

    # Installed into an engine's data folder, it is the model an engine started there scores with.
    data_dir = tmp_path / "matching"
    install(candidate, data_dir)
    assert model_path(data_dir) == data_dir / "pair_model.json"
    assert (data_dir / f"pair_model-{candidate.version}.json").exists()
    engine = make_engine(data_dir)
    try:
        assert engine.pair_model.version == candidate.version
    finally:
        engine.close()


def test_feedback_that_would_lower_the_cross_validated_metrics_is_refused_with_a_message():
    base = development(lexical_evidence=False)
    current = fit(base, {})
    candidate, verdict = tune(base, contradicting_feedback(), current, {"test": True})
    assert not verdict.accepted
    assert "below the current model's" in verdict.reason and current.version in verdict.reason
