"""What the pair model gives queries that should find nothing, against the development corpus
and the seed data: the best calibrated probability per side, and whether the query is empty
once stop words, single characters and numbers are dropped (such a query is answered with
nothing before any scoring).

    python scripts/pair_abstention.py [--data-dir eval/.cache] ["another query" ...]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import yaml

from app.matching.datasets import load_dev
from app.matching.pair_data import canonical_query, evaluation_engine
from app.matching.pair_model import PairModel
from app.matching.store import Document
from app.matching.text import tokenize

SEED = Path(__file__).resolve().parents[1] / "seed"
PROBES = ("xyzzy onzin", "de het een", "a", "the and of", "asdf qwerty", "lorem ipsum dolor sit amet", "hallo",
          "kaas", "voetbal", "Noorderlicht", "bedrijf", "drones", "radar", "waterstof", "drone detectie")


def seed_documents() -> list[Document]:
    """The seed companies (demo ones too) and needs, composed as the service composes them."""
    documents = []
    companies = yaml.safe_load((SEED / "companies.yaml").read_text(encoding="utf-8"))
    companies += yaml.safe_load((SEED / "demo" / "companies.yaml").read_text(encoding="utf-8"))
    for number, row in enumerate(companies, start=1):
        parts = [row["name"], row["description"], ", ".join(row.get("capabilities") or [])]
        documents.append(Document("company", number, "\n".join(p for p in parts if p)))
    needs = [row for name in ("defence_needs", "programmes", "clusters")
             for row in yaml.safe_load((SEED / "needs" / f"{name}.yaml").read_text(encoding="utf-8"))]
    with (SEED / "eu_calls_2024_defence_security.csv").open(encoding="utf-8") as handle:
        needs += [{"title": row["title"], "description": row["description"]} for row in csv.DictReader(handle)]
    documents += [Document("need", number, f"{row['title']}\n{row['description']}")
                  for number, row in enumerate(needs, start=1)]
    return documents


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("queries", nargs="*", default=list(PROBES))
    parser.add_argument("--data-dir", type=Path, default=Path("eval/.cache"))
    args = parser.parse_args()
    model = PairModel.load()
    corpora = {"dev": [r.document for r in load_dev().records.values()], "seed": seed_documents()}
    columns = [f"{corpus} {side}" for corpus in corpora for side in ("companies", "needs")]
    print(f"| query | empty after stop words | {' | '.join(columns)} |")
    print("|---|---|" + "---|" * 2 * len(corpora))
    best: dict[str, list[str]] = {query: [] for query in args.queries}
    for documents in corpora.values():
        engine = evaluation_engine(args.data_dir)
        try:
            for side in ("company", "need"):
                engine.sync(side, [d for d in documents if d.side == side])
            for query in args.queries:
                view = engine.query_view(query)
                for side in ("company", "need"):
                    if view is None:
                        best[query].append("–")
                        continue
                    whole = canonical_query(view.tokens, view.vectors, view.language, len(query),
                                            engine.snapshot(side).main)
                    probability = model.probabilities(whole.evidence, model.context_score(whole.context()))
                    best[query].append(f"{float(np.max(probability)):.2f}")
        finally:
            engine.close()
    for query, cells in best.items():
        empty = "yes" if not tokenize(query) else "no"
        print(f"| {query} | {empty} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
