"""Tune the fusion weights on the dev split of the development set, then report dev and test.

Coordinate search: start from equal weights and, round after round, set each number to the
grid value that maximises the objective on the dev queries, until nothing improves.
The multilingual weight stays 1 in every language condition: it is the one signal that can
judge every pair, so it anchors the scale on which pairs of different conditions (a Dutch and
an English document in one list) are compared. Left free, the search zeroes it for
same-language pairs on the 32 dev queries, and those lists then mix two incomparable scales.
Objective: the mean over slices of (MRR@10 + nDCG@10) / 2, minus twice any shortfall of the
fused ranking against the best single signal on a slice (the target is "never worse").

Usage: python scripts/eval_tune.py eval/dev.yaml [--data-dir DIR]   (default cache: eval/.cache)
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from app.matching.evaluate import (
    SYSTEMS,
    default_engine,
    format_report,
    load_dataset,
    prepare,
    score_report,
)
from app.matching.fusion import FUSION_WEIGHTS, FusionWeights, SignalWeights

SIGNAL_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
BONUS_GRID = (0.0, 0.01, 0.02, 0.05, 0.1)
SHARE_GRID = (0.0, 0.1, 0.25, 0.5)
SHORTFALL_PENALTY = 2.0
MAX_ROUNDS = 6
SLICES = ("nl-nl", "nl-en", "en-nl", "call-companies")

EQUAL = FusionWeights(SignalWeights(1, 1, 1), SignalWeights(1, 1, 1), SignalWeights(1, 1, 1))


def objective(prepared, weights: FusionWeights) -> float:
    report = score_report(prepared, weights, split="dev")
    slices = sorted({s for s, _ in report.table} - {"overall"})
    total = 0.0
    for name in slices:

        def quality(system: str, name: str = name) -> float:
            row = report.table[(name, system)]
            return (row["MRR@10"] + row["nDCG@10"]) / 2

        fused = quality("fused")
        best_single = max(quality(system) for system in SYSTEMS[:-1])
        total += fused - SHORTFALL_PENALTY * max(0.0, best_single - fused)
    return total / len(slices)


def with_value(weights: FusionWeights, path: tuple[str, ...], value: float) -> FusionWeights:
    if len(path) == 1:
        return dataclasses.replace(weights, **{path[0]: value})
    condition = dataclasses.replace(getattr(weights, path[0]), **{path[1]: value})
    return dataclasses.replace(weights, **{path[0]: condition})


def parameters() -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
    found = [
        ((condition, signal), SIGNAL_GRID)
        for condition in ("same_language", "cross_language", "unknown_language")
        for signal in ("bm25", "dense")
    ]
    found += [
        (("shared_nld_bonus",), BONUS_GRID),
        (("shared_sector_bonus",), BONUS_GRID),
        (("second_passage_share",), SHARE_GRID),
    ]
    return found


def coordinate_search(prepared, start: FusionWeights) -> tuple[FusionWeights, float]:
    best, best_score = start, objective(prepared, start)
    for round_number in range(1, MAX_ROUNDS + 1):
        improved = False
        for path, grid in parameters():
            for value in grid:
                candidate = with_value(best, path, value)
                score = objective(prepared, candidate)
                if score > best_score + 1e-9:
                    best, best_score, improved = candidate, score, True
        print(f"round {round_number}: objective {best_score:.4f}")
        if not improved:
            break
    return best, best_score


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    dataset = load_dataset(args.dataset)
    engine = default_engine(args.data_dir or args.dataset.parent / ".cache")
    prepared = prepare(dataset, engine)
    engine.close()
    print(f"equal weights: objective {objective(prepared, EQUAL):.4f}")
    print(f"current FUSION_WEIGHTS: objective {objective(prepared, FUSION_WEIGHTS):.4f}")
    tuned, score = coordinate_search(prepared, EQUAL)
    print(f"\ntuned on dev: objective {score:.4f}\n{tuned}\n")
    for split in ("dev", "test", "all"):
        print(format_report(score_report(prepared, tuned, split), f"tuned weights, split {split}"))
        print()
    print_ablations(prepared, tuned)


def print_ablations(prepared, tuned: FusionWeights) -> None:
    """nDCG@10 of the fused ranking when one part of the tuned fusion is taken away."""
    variants = {
        "tuned": tuned,
        "equal signal weights": dataclasses.replace(
            tuned,
            same_language=EQUAL.same_language,
            cross_language=EQUAL.cross_language,
            unknown_language=EQUAL.unknown_language,
        ),
        "no structured bonus": dataclasses.replace(tuned, shared_nld_bonus=0.0, shared_sector_bonus=0.0),
        "second passage share 0.25": dataclasses.replace(tuned, second_passage_share=0.25),
    }
    print("### Ablations (fused nDCG@10)\n")
    print("| variant | split | " + " | ".join(SLICES) + " | overall |")
    print("|---|---|" + "---|" * (len(SLICES) + 1))
    for name, weights in variants.items():
        for split in ("dev", "test"):
            table = score_report(prepared, weights, split).table
            cells = [f"{table[(s, 'fused')]['nDCG@10']:.3f}" for s in (*SLICES, "overall")]
            print(f"| {name} | {split} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
