"""The development sets the pair model is fitted and measured on, in one shape.

- `eval/dev.yaml` (evaluate.load_dataset): 64 queries in four slices, split `dev` / `test`.
- `eval/cordis/cordis_topics_projects.json`: Horizon Europe call topics (needs) → the project
  abstracts funded under them (the documents a need should find); 589 queries, one slice
  `cordis`. Source: CORDIS, © European Union (CC BY 4.0); see eval/cordis/README.md.

Each set keeps a held-out fold that no fitting reads: the dev set's `test` split, and for CORDIS
the topics whose code hashes into the last HELD_OUT_PERCENT of a stable hash (`held_out_topic`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from app.matching.evaluate import Dataset, Query, Record, load_dataset
from app.matching.store import Document

EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"
DEV_PATH = EVAL_DIR / "dev.yaml"
CORDIS_PATH = EVAL_DIR / "cordis" / "cordis_topics_projects.json"
CORDIS_SLICE = "cordis"
HELD_OUT = "test"  # the split name of every held-out query
TUNING = "dev"
HELD_OUT_PERCENT = 20


def held_out_topic(topic_code: str) -> bool:
    """Whether a CORDIS topic is in the held-out fold: a fixed ~20 % by the sha256 of its code,
    so the fold never changes when the file is rebuilt with more or fewer topics."""
    digest = hashlib.sha256(topic_code.encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def company_text(name: str, description: str) -> str:
    """A project as the service would hold a company: its name, then its description."""
    return f"{name}\n{description}"


def load_cordis(path: Path = CORDIS_PATH) -> Dataset:
    """Each topic is a stored need looking for companies; its gold projects are relevant.

    The need text is the set's `description` (topic title, portal keywords, call name: it
    starts with the title, so the title is not repeated); a project is its acronym and its
    objective, as a company is its name and description.
    """
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    records: dict[str, Record] = {}
    for number, company in enumerate(raw["companies"], start=1):
        key = str(company["key"])
        document = Document("company", number, company_text(company["name"], company["description"]))
        records[key] = Record(key, "company", "company", document)
    queries: list[Query] = []
    for number, need in enumerate(raw["needs"], start=1):
        key = need["topic_code"]
        if key in records:
            raise ValueError(f"duplicate record id {key}")
        records[key] = Record(key, "need", "call", Document("need", number, need["description"]))
        relevant = tuple(str(g) for g in need["gold"])
        unknown = [g for g in relevant if g not in records]
        if unknown:
            raise ValueError(f"topic {key} names unknown projects {unknown}")
        split = HELD_OUT if held_out_topic(key) else TUNING
        queries.append(Query(key, CORDIS_SLICE, split, "company", relevant, need["title"], ref=("need", key)))
    return Dataset(records, queries)


def load_dev(path: Path = DEV_PATH) -> Dataset:
    return load_dataset(path)
