"""Every query × candidate pair of a development set with its raw evidence, computed once.

The engine indexes the set (the embedding cache makes a second run encode nothing); then,
per query and per allowed candidate, the pair evidence of pair_features.py is computed in
the canonical direction (need → company; free text → the searched side), together with what
the evaluation compares against: the engine's current fused score (fusion.fuse) and its
per-signal scores. The result, a PairTable, is saved as one .npz file beside the embedding
cache, so fitting and reporting read it in seconds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from app.matching.engine import MatchEngine
from app.matching.evaluate import Dataset
from app.matching.fusion import FUSION_WEIGHTS, fuse
from app.matching.pair_features import RANK_DEPTH, PairEvidence, pair_conditions, pair_evidence, query_mass
from app.matching.pair_fit import TrainingPairs
from app.matching.segment import Segment
from app.matching.store import StoredDocument

# Change when anything computed here changes: saved tables of another version are recomputed.
PAIR_DATA_VERSION = 7
CONTEXT_POOL = 50
# A context block holds every signal's CONTEXT_POOL best documents: where a pair's rank is found.
assert CONTEXT_POOL >= RANK_DEPTH
EVIDENCE_COLUMNS = ("dense", "multilingual", "bm25", "bm25_fraction", "conditions")


@dataclass(frozen=True)
class PairTable:
    """One row per (query, candidate) pair; queries are numbered by position in `query_keys`."""

    query_keys: np.ndarray  # (q,) str
    query_slices: np.ndarray  # (q,) str
    query_splits: np.ndarray  # (q,) str
    query: np.ndarray  # (n,) int: the query of each pair
    document: np.ndarray  # (n,) str: the candidate's record key
    relevant: np.ndarray  # (n,) bool
    dense: np.ndarray  # (n,) PairEvidence columns
    multilingual: np.ndarray
    bm25: np.ndarray
    bm25_fraction: np.ndarray
    conditions: np.ndarray
    query_language: np.ndarray  # (n,) of the canonical query (the need or the search)
    document_language: np.ndarray  # (n,) of the canonical document
    query_chars: np.ndarray  # (n,) characters of the canonical query
    document_chars: np.ndarray  # (n,) characters of the canonical document
    engine_fused: np.ndarray  # (n,) the engine's current fused score (query-relative)
    context: np.ndarray  # (n,) the context block of the pair's canonical query
    # Context blocks: per canonical query its evidence against the documents of the whole side
    # (unfiltered) that any signal puts among its CONTEXT_POOL best; `context_block` numbers them.
    context_block: np.ndarray  # (m,)
    context_dense: np.ndarray
    context_multilingual: np.ndarray
    context_bm25: np.ndarray
    context_bm25_fraction: np.ndarray
    context_conditions: np.ndarray

    def evidence(self, rows: np.ndarray | slice = slice(None)) -> PairEvidence:
        return PairEvidence(**{name: getattr(self, name)[rows] for name in EVIDENCE_COLUMNS})

    def context_evidence(self) -> PairEvidence:
        return PairEvidence(**{name: getattr(self, f"context_{name}") for name in EVIDENCE_COLUMNS})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def load(cls, path: Path) -> PairTable:
        with np.load(path, allow_pickle=False) as arrays:
            return cls(**{f.name: arrays[f.name] for f in fields(cls)})

    @classmethod
    def concatenate(cls, tables: Sequence[PairTable]) -> PairTable:
        offsets = np.cumsum([0] + [len(t.query_keys) for t in tables[:-1]])
        columns = {f.name: np.concatenate([getattr(t, f.name) for t in tables]) for f in fields(cls)}
        columns["query"] = np.concatenate([t.query + offset for t, offset in zip(tables, offsets, strict=True)])
        blocks = np.cumsum([0] + [int(t.context_block.max()) + 1 for t in tables[:-1]])
        columns["context"] = np.concatenate([t.context + b for t, b in zip(tables, blocks, strict=True)])
        columns["context_block"] = np.concatenate([t.context_block + b for t, b in zip(tables, blocks, strict=True)])
        return cls(**columns)


def evaluation_engine(data_dir: Path) -> MatchEngine:
    """The real encoders, every allowed document a candidate, no ANN index to build."""
    from app.matching.encoders import UsemEncoder, bundled_dense_encoder

    return MatchEngine(data_dir, bundled_dense_encoder(), UsemEncoder(), candidate_pool=10**9,
                       ann_min_passages=10**9)


def pairs_against(
    tokens: Sequence[Sequence[str]], vectors: Mapping[str, np.ndarray], language: str, segment: Segment,
    rows: np.ndarray,
) -> PairEvidence:
    """Evidence of a (canonical) query against `rows` of the document side's segment."""
    positions, _ = segment.passage_positions(rows)
    scores = {"bm25": segment.lexical.scores_of(positions, tokens)}
    for signal, side_vectors in segment.vectors.items():
        scores[signal] = side_vectors[positions] @ vectors[signal].T
    mass = query_mass(segment.lexical.statistics, tokens)
    conditions = pair_conditions(language, segment.document_languages[rows])
    return pair_evidence(scores, segment.passage_count[rows], mass, conditions)


@dataclass
class CanonicalQuery:
    """A canonical query's evidence against every document of its document side."""

    language: str
    chars: int
    evidence: PairEvidence  # one row per row of the side's main segment

    def context(self) -> PairEvidence:
        """The pairs with the documents any signal puts among its CONTEXT_POOL best: where the
        query's CONTEXT_RANK-th best pair by any monotone score is found."""
        chosen = np.zeros(len(self.evidence), dtype=bool)
        for values in (self.evidence.multilingual, self.evidence.dense, self.evidence.bm25):
            values = np.nan_to_num(values, nan=-np.inf)
            chosen[np.argsort(-values, kind="stable")[:CONTEXT_POOL]] = True
        return self.evidence.take(np.flatnonzero(chosen))


def canonical_query(
    tokens: Sequence[Sequence[str]], vectors: Mapping[str, np.ndarray], language: str, chars: int, side: Segment
) -> CanonicalQuery:
    rows = np.arange(len(side.document_ids))
    return CanonicalQuery(language, chars, pairs_against(tokens, vectors, language, side, rows))


def build_table(dataset: Dataset, engine: MatchEngine, progress: bool = False) -> PairTable:
    """Index the set's records in `engine` and compute every allowed pair of every query."""
    for side in ("company", "need"):
        engine.sync(side, [r.document for r in dataset.records.values() if r.side == side], progress=progress)
    mains = {side: engine.snapshot(side).main for side in ("company", "need")}
    if any(len(engine.snapshot(side).delta.document_ids) for side in mains):
        raise RuntimeError("the evaluation expects every document in the main segment")
    key_of = {(r.side, r.document.id): r.key for r in dataset.records.values()}
    stored_needs: dict[int, CanonicalQuery] = {}

    def need_query(need_id: int) -> CanonicalQuery:
        """A stored need as the canonical query over the companies (computed once)."""
        if need_id not in stored_needs:
            needs = mains["need"]
            stored = needs.documents[need_id]
            assert isinstance(stored, StoredDocument)
            tokens = [list(t) for t in needs.tokens_of(need_id)]
            stored_needs[need_id] = canonical_query(tokens, needs.vectors_of(need_id), stored.language,
                                                    len(stored.document.text), mains["company"])
        return stored_needs[need_id]

    columns: dict[str, list[np.ndarray]] = {}
    blocks: dict[tuple[str, object], int] = {}
    block_evidence: list[PairEvidence] = []

    def block_of(key: tuple[str, object], query: CanonicalQuery) -> int:
        if key not in blocks:
            blocks[key] = len(block_evidence)
            block_evidence.append(query.context())
        return blocks[key]

    for number, query in enumerate(dataset.queries):
        stored = dataset.records[query.ref[1]].document if query.ref else None
        view = engine.query_view(stored if stored is not None else query.text or "")
        if view is None:
            raise ValueError(f"query {query.key} has no text")
        snapshot = engine.snapshot(query.target)
        allowed = {r.document.id for r in dataset.records.values()
                   if r.side == query.target and (query.kinds is None or r.kind in query.kinds)}
        if stored is not None and stored.side == query.target:
            allowed.discard(stored.id)
        candidates, _ = engine.candidate_scores(view, snapshot, allowed)
        ids = candidates.document_ids
        rows = np.array([snapshot.main.row_of[int(i)] for i in ids], dtype=np.int64)
        if query.ref is not None and query.ref[0] == "company":  # each candidate need is a canonical query
            company_row = mains["company"].row_of[view.document.id]
            parts = [need_query(int(i)) for i in ids]
            evidence = PairEvidence.concatenate([p.evidence.take(np.array([company_row])) for p in parts])
            query_languages = [p.language for p in parts]
            query_chars = [p.chars for p in parts]
            document_languages = [mains["company"].document_languages[company_row]] * len(ids)
            document_chars = [len(view.document.text)] * len(ids)
            context = [block_of(("need", int(i)), p) for i, p in zip(ids, parts, strict=True)]
        else:
            whole = (need_query(view.document.id) if stored is not None and stored.side == "need"
                     else canonical_query(view.tokens, view.vectors, view.language, len(view.document.text),
                                          snapshot.main))
            evidence = whole.evidence.take(rows)
            query_languages = [whole.language] * len(ids)
            query_chars = [whole.chars] * len(ids)
            document_languages = list(snapshot.main.document_languages[rows])
            document_chars = [len(snapshot.documents[int(i)].document.text) for i in ids]
            key = ("need", view.document.id) if stored is not None else ("text", query.key)
            context = [block_of(key, whole)] * len(ids)
        documents = [key_of[(query.target, int(i))] for i in ids]
        part = {
            "query": np.full(len(documents), number), "document": np.array(documents),
            "relevant": np.isin(documents, query.relevant),
            **{name: getattr(evidence, name) for name in EVIDENCE_COLUMNS},
            "query_language": np.array(query_languages, dtype="<U7"),
            "document_language": np.array(document_languages, dtype="<U7"),
            "query_chars": np.array(query_chars), "document_chars": np.array(document_chars),
            "engine_fused": fuse(candidates, FUSION_WEIGHTS).total,
            "context": np.array(context, dtype=np.int64),
        }
        for name, values in part.items():
            columns.setdefault(name, []).append(values)
    return PairTable(
        query_keys=np.array([q.key for q in dataset.queries]),
        query_slices=np.array([q.slice for q in dataset.queries]),
        query_splits=np.array([q.split for q in dataset.queries]),
        **{name: np.concatenate(values) for name, values in columns.items()},
        context_block=np.concatenate([np.full(len(e), b) for b, e in enumerate(block_evidence)]),
        **{f"context_{name}": np.concatenate([getattr(e, name) for e in block_evidence])
           for name in EVIDENCE_COLUMNS},
    )


def dataset_fingerprint(dataset: Dataset, engine: MatchEngine) -> str:
    """Changes with any record text, query, encoder or this module's version."""
    payload = json.dumps([
        PAIR_DATA_VERSION,
        sorted((k, r.side, r.kind, r.document.text) for k, r in dataset.records.items()),
        [(q.key, q.slice, q.split, q.target, q.relevant, q.text, q.ref, q.kinds) for q in dataset.queries],
        sorted((name, enc.model_id) for name, enc in engine.state.encoders.items()),
    ])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def cached_table(
    name: str, dataset: Dataset, data_dir: Path, progress: bool = False
) -> tuple[PairTable, dict[str, object]]:
    """The set's PairTable from `data_dir` when it is of this very set and these encoders,
    else built (and saved there); with what it was made from (for an artifact's provenance)."""
    engine = evaluation_engine(data_dir)
    try:
        fingerprint = dataset_fingerprint(dataset, engine)
        made_from: dict[str, object] = {
            "fingerprint": fingerprint, "pair_data_version": PAIR_DATA_VERSION,
            "encoders": {name: enc.model_id for name, enc in sorted(engine.state.encoders.items())},
        }
        path = Path(data_dir) / f"pairs-{name}-{fingerprint}.npz"
        if path.exists():
            return PairTable.load(path), made_from
        table = build_table(dataset, engine, progress=progress)
        table.save(path)
        return table, made_from
    finally:
        engine.close()


def training_pairs(table: PairTable, source: str, splits: Sequence[str]) -> TrainingPairs:
    """The table's queries of the given splits as labelled groups of `source` for pair_fit."""
    queries = np.flatnonzero(np.isin(table.query_splits, list(splits)))
    rows = np.isin(table.query, queries)
    renumber = np.full(len(table.query_keys), -1)
    renumber[queries] = np.arange(len(queries))
    return TrainingPairs(
        evidence=table.evidence(rows), relevant=table.relevant[rows], group=renumber[table.query[rows]],
        group_keys=np.array([f"{source}:{key}" for key in table.query_keys[queries]]),
        group_sources=np.full(len(queries), source), group_slices=table.query_slices[queries],
        judged=np.zeros(len(queries), dtype=bool), context=table.context[rows],
        context_evidence=table.context_evidence(), context_block=table.context_block,
    ).ranked()
