"""Scoring a query's candidates on one side snapshot, vectorised over passages.

Candidates are the documents behind each signal's best passages (BM25 over all passages,
FAISS for the vector signals), or every allowed document when there are few. Each candidate
is then scored exactly by every signal: its best passage pair, and its second-best passage.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from app.matching.fusion import (
    BM25,
    SIGNALS,
    CandidateScores,
    FusedScores,
    FusionWeights,
    document_scores,
    normalisation_bounds,
    scale,
)
from app.matching.store import Document, SideSnapshot
from app.matching.text import Language, Passage


@dataclass
class QueryView:
    """A query ready to score: its passages, their tokens and their vectors per signal."""

    document: Document
    language: Language
    passages: Sequence[Passage]
    tokens: Sequence[Sequence[str]]
    vectors: dict[str, np.ndarray]  # signal → (query passages, dim)


def _empty(signal_count: int = len(SIGNALS)) -> tuple[CandidateScores, dict]:
    nothing = np.zeros(0, dtype=np.int64)
    candidates = CandidateScores(
        nothing,
        np.zeros((0, signal_count), np.float32),
        np.zeros((0, signal_count), np.float32),
        np.zeros(0, np.int8),
        nothing,
        nothing,
    )
    return candidates, {"rows": nothing}


def _top_two_per_group(scores: np.ndarray, owner: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Best and second-best score per group (owner ids 0..groups-1, every group non-empty)."""
    order = np.lexsort((-scores, owner))
    sorted_owner, sorted_scores = owner[order], scores[order]
    first = np.searchsorted(sorted_owner, np.arange(groups))
    best = sorted_scores[first]
    following = first + 1
    has_second = following < len(order)
    has_second[has_second] = sorted_owner[following[has_second]] == np.arange(groups)[has_second]
    second = np.zeros(groups, dtype=np.float32)
    second[has_second] = sorted_scores[following[has_second]]
    return best, second


def score_candidates(
    view: QueryView,
    snapshot: SideSnapshot,
    allowed_ids: Collection[int] | None,
    excluded_id: int | None,
    pool: int,
) -> tuple[CandidateScores, dict]:
    document_count = len(snapshot.document_ids)
    if document_count == 0:
        return _empty()
    allowed_rows = np.ones(document_count, dtype=bool)
    if allowed_ids is not None:
        allowed_rows = np.isin(snapshot.document_ids, np.fromiter(allowed_ids, dtype=np.int64))
    if excluded_id is not None and excluded_id in snapshot.row_of:
        allowed_rows[snapshot.row_of[excluded_id]] = False
    if not allowed_rows.any():
        return _empty()
    allowed_passages = allowed_rows[snapshot.passage_rows]

    # BM25 is cheap over every passage: (query passages, passages), best over query passages.
    bm25_matrix = np.stack([snapshot.lexical.scores(tokens) for tokens in view.tokens])
    bm25_best = np.where(allowed_passages, bm25_matrix.max(axis=0), 0.0)

    if allowed_rows.sum() <= pool:
        rows = np.flatnonzero(allowed_rows)
    else:
        found = []
        k = min(pool, len(bm25_best))
        top = np.argpartition(-bm25_best, k - 1)[:k]
        found.append(snapshot.passage_rows[top[bm25_best[top] > 0]])
        # FAISS filters by the allowed passages; the query's own document (when it is on this
        # side) is dropped below instead, which saves building a selector of every passage.
        selector = snapshot.passage_ids[allowed_passages] if allowed_ids is not None else None
        for signal, index in snapshot.vector_indexes.items():
            _, ids = index.search(view.vectors[signal], pool, allowed_ids=selector)
            ids = ids[ids >= 0]
            found.append(snapshot.passage_rows[snapshot.positions_of_passage_ids(ids)])
        rows = np.unique(np.concatenate(found))
        rows = rows[allowed_rows[rows]]
    if not len(rows):
        return _empty()

    positions, owner = snapshot.passage_positions(rows)
    best = np.full((len(rows), len(SIGNALS)), np.nan, dtype=np.float32)
    second = np.zeros_like(best)
    best[:, BM25], second[:, BM25] = _top_two_per_group(bm25_best[positions], owner, len(rows))
    for column, signal in enumerate(SIGNALS):
        index = snapshot.vector_indexes.get(signal)
        if index is None:
            continue
        passage_vectors = index.vectors(snapshot.passage_ids[positions])
        similarity = (view.vectors[signal] @ passage_vectors.T).max(axis=0)
        best[:, column], second[:, column] = _top_two_per_group(similarity, owner, len(rows))

    query_areas, query_sectors = set(view.document.nld_areas), set(view.document.sectors)
    stored = [snapshot.documents[int(i)].document for i in snapshot.document_ids[rows]]
    candidates = CandidateScores(
        document_ids=snapshot.document_ids[rows],
        best=best,
        second=second,
        conditions=np.zeros(len(rows), np.int8),  # filled in by the engine, which knows the languages
        shared_nld_areas=np.array([len(query_areas & set(d.nld_areas)) for d in stored], dtype=np.int64),
        shared_sectors=np.array([len(query_sectors & set(d.sectors)) for d in stored], dtype=np.int64),
    )
    return candidates, {"rows": rows, "bm25_matrix": bm25_matrix}


def best_passage_pairs(
    view: QueryView,
    snapshot: SideSnapshot,
    details: dict,
    order: np.ndarray,
    fused: FusedScores,
    weights: FusionWeights,
    candidates: CandidateScores,
) -> list[tuple[int, int]]:
    """For each ranked candidate, the (query passage, document passage) pair that scores best
    under the same fusion: the natural quote to explain the match."""
    low, spread = normalisation_bounds(document_scores(candidates, weights.second_passage_share))
    pairs = []
    for position in order:
        row = details["rows"][position]
        start, count = snapshot.passage_start[row], snapshot.passage_count[row]
        passage_positions = np.arange(start, start + count)
        combined = np.zeros((len(view.passages), count), dtype=np.float32)
        for column, signal in enumerate(SIGNALS):
            share = fused.shares[position, column]
            if share <= 0:
                continue
            if column == BM25:
                raw = details["bm25_matrix"][:, passage_positions]
            else:
                vectors = snapshot.vector_indexes[signal].vectors(snapshot.passage_ids[passage_positions])
                raw = view.vectors[signal] @ vectors.T
            combined += share * scale(raw, low[column], spread[column])
        query_passage, match_passage = np.unravel_index(int(np.argmax(combined)), combined.shape)
        pairs.append((int(query_passage), int(match_passage)))
    return pairs
