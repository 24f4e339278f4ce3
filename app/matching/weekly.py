"""The weekly list in one batch: per need its top companies, per company its top needs.

Instead of one full search per need and per company (52,000 searches at 50,000 companies),
candidates come from one blocked matrix product of *document* vectors (the normalised mean of
a document's passage vectors, summed over the vector signals), and only the best
CANDIDATES_PER_QUERY of them per query are scored exactly — every signal over every passage
pair, fused as in an interactive match — without explanations, which the list does not show.

The fused score of a pair is normalised over the query's candidates, as in `match`; with a
smaller candidate set the scores (not the order of the clear winners) can differ a little
from an interactive search.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from app.matching.fusion import fuse, top_order
from app.matching.store import SideSnapshot

CANDIDATES_PER_QUERY = 40
BLOCK_ROWS = 512  # query documents per block of the matrix product (memory: BLOCK × documents)


@dataclass(frozen=True)
class WeeklyLine:
    query_id: int
    match_id: int
    rank: int
    score: float


def document_vectors(snapshot: SideSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """(ids, summed normalised mean vectors): one row per live document, signals concatenated."""
    ids, blocks = [], []
    for segment, live in snapshot.segments():
        rows = np.flatnonzero(live)
        if not len(rows):
            continue
        parts = []
        for vectors in segment.vectors.values():
            # Every document has at least one passage, laid out contiguously: sum per document.
            sums = np.add.reduceat(vectors, segment.passage_start, axis=0)[rows]
            parts.append(sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12))
        ids.append(segment.document_ids[rows])
        blocks.append(np.hstack(parts) if parts else np.zeros((len(rows), 0), np.float32))
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    return np.concatenate(ids), np.vstack(blocks).astype(np.float32)


def top_pairs(
    engine,
    query_side: str,
    target_side: str,
    per_query: int,
    allowed_queries: Collection[int] | None,
    allowed_targets: Collection[int] | None,
    dismissed: Collection[tuple[int, int]] = (),
) -> list[WeeklyLine]:
    """For every allowed query document its best `per_query` allowed targets.

    `dismissed` holds (query id, target id) pairs that must not appear ("not relevant").
    """
    queries, targets = engine.snapshot(query_side), engine.snapshot(target_side)
    query_ids, query_vectors = document_vectors(queries)
    target_ids, target_vectors = document_vectors(targets)
    if allowed_queries is not None:
        keep = np.isin(query_ids, np.fromiter(allowed_queries, np.int64))
        query_ids, query_vectors = query_ids[keep], query_vectors[keep]
    target_ok = np.ones(len(target_ids), bool)
    if allowed_targets is not None:
        target_ok = np.isin(target_ids, np.fromiter(allowed_targets, np.int64))
    blocked: dict[int, set[int]] = {}
    for query_id, target_id in dismissed:
        blocked.setdefault(query_id, set()).add(target_id)
    lines: list[WeeklyLine] = []
    if not len(query_ids) or not target_ok.any():
        return lines
    k = min(CANDIDATES_PER_QUERY + per_query, int(target_ok.sum()))
    for start in range(0, len(query_ids), BLOCK_ROWS):
        similarity = query_vectors[start : start + BLOCK_ROWS] @ target_vectors.T
        similarity[:, ~target_ok] = -np.inf
        top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        for offset, query_id in enumerate(query_ids[start : start + BLOCK_ROWS]):
            query_id = int(query_id)
            candidates = [int(t) for t in target_ids[top[offset]] if int(t) not in blocked.get(query_id, ())]
            lines.extend(_rescore(engine, queries, targets, query_id, candidates, per_query))
    return lines


def _rescore(engine, queries: SideSnapshot, targets: SideSnapshot, query_id: int,
             candidates: list[int], per_query: int) -> list[WeeklyLine]:
    stored = queries.documents.get(query_id)
    if stored is None or not candidates:
        return []
    view = engine.query_view(stored.document)
    scores, _ = engine._scores(view, targets, candidates, {query_id} if queries.side == targets.side else set(),
                               len(candidates))
    if not len(scores):
        return []
    fused = fuse(scores, engine.weights)
    order = top_order(fused.total, scores.document_ids, per_query)
    return [WeeklyLine(query_id, int(scores.document_ids[p]), rank, round(float(fused.total[p]), 6))
            for rank, p in enumerate(order, start=1)]


def weekly_pairs(
    engine, *, companies_per_need: int = 5, needs_per_company: int = 5,
    company_ids: Collection[int] | None = None, need_ids: Collection[int] | None = None,
    dismissed: Collection[tuple[int, int]] = (),
) -> Mapping[str, list[WeeklyLine]]:
    """Both directions of the list. `dismissed` holds (company id, need id) pairs."""
    return {
        "need_to_companies": top_pairs(engine, "need", "company", companies_per_need, need_ids, company_ids,
                                       [(n, c) for c, n in dismissed]),
        "company_to_needs": top_pairs(engine, "company", "need", needs_per_company, company_ids, need_ids,
                                      dismissed),
    }
