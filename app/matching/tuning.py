"""Staff feedback as labels for the pair model: the pairs staff judged "relevant" or "niet
relevant", each with its evidence as the engine computes it, grouped per need.

- `feedback_pairs` turns judgements into pair_fit.TrainingPairs (source "feedback", every pair
  of a group judged, the need's context from its unfiltered candidates);
- `feedback_report` says how a model ranks and bands them (`koppelkans eval --feedback`);
- `tune` refits the model on the development pairs plus the feedback and accepts the refit only
  when its cross-validated metrics on the development slices do not drop (pair_fit.accept);
  `koppelkans tune` then writes it into the engine's data folder (pair_scoring.model_path),
  where the server finds it at start.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.matching.calibration import ranking_metrics
from app.matching.engine import MatchEngine
from app.matching.pair_features import PairEvidence
from app.matching.pair_fit import FeatureSet, TrainingPairs, Verdict, accept, fit
from app.matching.pair_model import PairModel
from app.matching.pair_scoring import TUNED_MODEL_FILE, evidence_against

SOURCE = "feedback"


@dataclass(frozen=True)
class Judgement:
    need_id: int
    company_id: int
    relevant: bool


def feedback_pairs(engine: MatchEngine, judgements: Iterable[Judgement]) -> TrainingPairs | None:
    """The judged pairs whose need and company are in the index, one group per need; None
    when there are none."""
    needs, companies = engine.snapshot("need"), engine.snapshot("company")
    by_need: dict[int, dict[int, bool]] = {}
    for judgement in judgements:
        if judgement.need_id in needs.documents and judgement.company_id in companies.documents:
            by_need.setdefault(judgement.need_id, {})[judgement.company_id] = judgement.relevant
    evidence: list[PairEvidence] = []
    contexts: list[PairEvidence] = []
    relevant: list[np.ndarray] = []
    keys: list[str] = []
    searcher, pairs = engine.searcher, engine.state.pairs
    for need_id, labels in sorted(by_need.items()):
        stored = needs.documents[need_id]
        view = searcher.query_view(stored.document)
        if view is None:
            continue
        mass = pairs.need_query(needs, need_id, stored.content_hash, companies).mass
        judged = engine.candidate_scores(view, companies, allowed_ids=set(labels), pool=10**9)
        evidence.append(evidence_against(view, judged.details, mass))
        relevant.append(np.array([labels[int(i)] for i in judged.scores.document_ids]))
        whole = engine.candidate_scores(view, companies, allowed_ids=None)
        contexts.append(evidence_against(view, whole.details, mass))
        keys.append(f"{SOURCE}:need-{need_id}")
    if not keys:
        return None
    sizes = [len(e) for e in evidence]
    return TrainingPairs(
        evidence=PairEvidence.concatenate(evidence), relevant=np.concatenate(relevant),
        group=np.repeat(np.arange(len(keys)), sizes), group_keys=np.array(keys),
        group_sources=np.full(len(keys), SOURCE), group_slices=np.full(len(keys), SOURCE),
        judged=np.ones(len(keys), dtype=bool), context=np.repeat(np.arange(len(keys)), sizes),
        context_evidence=PairEvidence.concatenate(contexts),
        context_block=np.repeat(np.arange(len(keys)), [len(c) for c in contexts]),
    ).ranked()


def feedback_report(model: PairModel, pairs: TrainingPairs) -> dict[str, float]:
    """How `model` does on judged pairs: nDCG@10 and MRR@10 over the needs with a pair judged
    relevant, and how its bands agree with the judgements."""
    probabilities = model.probabilities(pairs.evidence, pairs.context_scores(model))
    ranked = ranking_metrics(probabilities, pairs.group, pairs.relevant)
    fitting = probabilities >= model.bands.fair
    relevant = pairs.relevant.astype(bool)
    return {
        "needs": float(len(pairs.group_keys)), "pairs": float(len(relevant)),
        "relevant": float(relevant.sum()), "needs ranked": float(len(ranked.queries)),
        "ndcg@10": float(ranked.ndcg.mean()) if len(ranked.queries) else float("nan"),
        "mrr@10": float(ranked.mrr.mean()) if len(ranked.queries) else float("nan"),
        "relevant shown (fair+)": float(fitting[relevant].mean()) if relevant.any() else float("nan"),
        "not relevant hidden (weak)": float((~fitting[~relevant]).mean()) if (~relevant).any() else float("nan"),
    }


def tune(base: TrainingPairs, feedback: TrainingPairs, current: PairModel,
         provenance: Mapping[str, object]) -> tuple[PairModel, Verdict]:
    """A refit on `base` (the development pairs) plus `feedback`, and whether it replaces
    `current`: only when its cross-validated metrics on the slices both were measured on do
    not drop."""
    # The refit reads what the current model reads.
    features = FeatureSet(current.condition_features, tuple(current.provenance.get("shared_features", ())))
    candidate = fit(TrainingPairs.concatenate([base, feedback]), provenance, bands=current.bands, features=features)
    return candidate, accept(candidate, current)


def install(model: PairModel, data_dir: Path) -> Path:
    """Write `model` where a server with this data folder loads it, and a copy named by its
    version beside it (the history of tuned models)."""
    data_dir = Path(data_dir)
    model.save(data_dir / f"pair_model-{model.version}.json")
    model.save(data_dir / TUNED_MODEL_FILE)
    return data_dir / TUNED_MODEL_FILE
