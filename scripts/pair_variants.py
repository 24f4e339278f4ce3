"""Compare feature sets of the pair model by cross-validation on the tuning folds only.

    python scripts/pair_variants.py [--data-dir eval/.cache] [--variants raw rank ...]

For each feature set (pair_eval.FEATURE_SETS) the L2 penalty is chosen by 5-fold cross-validation over
the tuning queries of both development sets, as `scripts/pair_fit.py` does, and the chosen
penalty's out-of-fold nDCG@10 / MRR@10 per slice are printed, beside each single signal and the
rank fusions on the same queries. The held-out folds are never read here.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from app.matching.calibration import RRF_K, ranking_metrics, reciprocal_rank_fusion
from app.matching.datasets import TUNING
from app.matching.pair_data import training_pairs
from app.matching.pair_eval import FEATURE_SETS, SLICE_ORDER, development_tables
from app.matching.pair_fit import TrainingPairs, fit


def baselines(pairs: TrainingPairs) -> dict[str, dict[str, tuple[float, float]]]:
    """Per system and slice (nDCG@10, MRR@10) of each signal and the rank fusions."""
    evidence = pairs.evidence
    systems = {
        "bm25": evidence.bm25, "minilm": evidence.dense, "use": evidence.multilingual,
        "rrf2": reciprocal_rank_fusion([evidence.bm25, evidence.dense], pairs.group, RRF_K),
        "rrf3": reciprocal_rank_fusion([evidence.bm25, evidence.dense, evidence.multilingual], pairs.group, RRF_K),
    }
    found: dict[str, dict[str, tuple[float, float]]] = {}
    for system, scores in systems.items():
        ranked = ranking_metrics(np.nan_to_num(scores, nan=-np.inf), pairs.group, pairs.relevant)
        for name in np.unique(pairs.group_slices):
            chosen = np.isin(ranked.queries, np.flatnonzero(pairs.group_slices == name))
            found.setdefault(system, {})[str(name)] = (float(ranked.ndcg[chosen].mean()),
                                                       float(ranked.mrr[chosen].mean()))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("eval/.cache"))
    parser.add_argument("--variants", nargs="*", default=list(FEATURE_SETS))
    args = parser.parse_args()
    tables = development_tables(args.data_dir)
    pairs = TrainingPairs.concatenate([training_pairs(table, name, [TUNING]) for name, (table, _) in tables.items()])
    rows = {system: values for system, values in baselines(pairs).items()}
    for variant in args.variants:
        model = fit(pairs, {}, features=FEATURE_SETS[variant])
        groups = model.cv_metrics["groups"]
        rows[f"pair:{variant}"] = {name[6:]: (m["ndcg@10"], m["mrr@10"]) for name, m in groups.items()
                                   if name.startswith("slice:")}
        print(f"{variant}: objective {model.cv_metrics['objective']}, l2 {model.provenance['l2']}, "
              f"grid {model.provenance['l2_grid']}", flush=True)
        print(f"  weights {model.weights}", flush=True)
    slices = [s for s in SLICE_ORDER if s in rows["bm25"]]
    print("| system | " + " | ".join(slices) + " |")
    print("|---|" + "---|" * len(slices))
    for system, values in rows.items():
        print(f"| {system} | " + " | ".join(f"{values[s][0]:.3f} / {values[s][1]:.3f}" for s in slices) + " |")


if __name__ == "__main__":
    main()
