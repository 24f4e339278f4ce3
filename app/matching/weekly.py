"""The weekly list in one batch: per need its top companies, per company its top needs.

Instead of one full search per need and per company (52,000 searches at 50,000 companies),
candidates come from one blocked matrix product of *document* vectors (the normalised mean of
a document's passage vectors, summed over the vector signals), and only the best
CANDIDATES_PER_QUERY of them per query are scored exactly — every signal over every passage
pair, each pair with its probability of fit as in an interactive match — without
explanations, which the list does not show. A pair's probability is its own (pair_scoring.py),
so the list shows the number the pages show.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar

import numpy as np
from threadpoolctl import threadpool_limits

from app.matching.fusion import top_order
from app.matching.ranking import ChosenRows
from app.matching.search import Searcher
from app.matching.segment import Segment
from app.matching.store import SIDES, Side, SideSnapshot

CANDIDATES_PER_QUERY = 40
BLOCK_ROWS = 512  # query documents per block of the matrix product (memory: BLOCK × documents)
CONTEXT_CHUNK = 32  # needs whose contexts one task of a forked worker finds

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class WeeklyLine:
    query_id: int
    match_id: int
    rank: int
    score: float


class WeeklyPairs(TypedDict):
    need_to_companies: list[WeeklyLine]  # per need its best companies
    company_to_needs: list[WeeklyLine]  # per company its best needs


@dataclass(frozen=True)
class DocumentVectors:
    """One row per live document of a side: its id, where it lives, and its document vector."""

    ids: np.ndarray  # (n,) database ids
    segments: list[Segment]  # the side's segments
    segment_of: np.ndarray  # (n,) index into `segments`
    rows: np.ndarray  # (n,) row in that segment
    vectors: np.ndarray  # (n, dims) summed normalised mean vectors, signals concatenated

    def subset(self, keep: np.ndarray) -> DocumentVectors:
        return DocumentVectors(self.ids[keep], self.segments, self.segment_of[keep], self.rows[keep],
                               self.vectors[keep])

    def chosen(self, positions: np.ndarray) -> list[ChosenRows]:
        """The documents at `positions`, as the exact scoring takes them."""
        return [ChosenRows(segment, self.rows[positions[self.segment_of[positions] == number]])
                for number, segment in enumerate(self.segments)]


def document_vectors(snapshot: SideSnapshot) -> DocumentVectors:
    ids: list[np.ndarray] = []
    segments: list[Segment] = []
    segment_of: list[np.ndarray] = []
    all_rows: list[np.ndarray] = []
    blocks: list[np.ndarray] = []
    for segment, live in snapshot.segments():
        rows = np.flatnonzero(live)
        if not len(rows):
            continue
        parts = []
        for vectors in segment.vectors.values():
            sums = _passage_sums(vectors, segment.passage_count[rows], segment.passage_start[rows])
            parts.append(sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12))
        ids.append(segment.document_ids[rows])
        segment_of.append(np.full(len(rows), len(segments)))
        segments.append(segment)
        all_rows.append(rows)
        blocks.append(np.hstack(parts) if parts else np.zeros((len(rows), 0), np.float32))
    if not ids:
        nothing = np.zeros(0, np.int64)
        return DocumentVectors(nothing, [], nothing, nothing, np.zeros((0, 0), np.float32))
    return DocumentVectors(np.concatenate(ids), segments, np.concatenate(segment_of), np.concatenate(all_rows),
                           np.vstack(blocks).astype(np.float32))


def _passage_sums(vectors: np.ndarray, counts: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per document (its passages laid out contiguously from `starts`) the sum of its passage
    vectors: its first passage, plus its second where it has one, and so on. (np.add.reduceat
    along the rows takes about 1.4 s for 200,000 × 512 float32 vectors, this 0.09 s.)"""
    sums: np.ndarray = vectors[starts]
    for extra in range(1, int(counts.max(initial=1))):
        more = np.flatnonzero(counts > extra)
        sums[more] += vectors[starts[more] + extra]
    return sums


def top_pairs(
    searcher: Searcher,
    side_vectors: Mapping[Side, DocumentVectors],
    query_side: Side,
    target_side: Side,
    per_query: int,
    allowed_queries: Collection[int] | None,
    allowed_targets: Collection[int] | None,
    dismissed: Collection[tuple[int, int]] = (),
    workers: int = 1,
) -> list[WeeklyLine]:
    """For every allowed query document its best `per_query` allowed targets. `side_vectors`:
    document_vectors of each side's snapshot in `searcher`.

    `dismissed` holds (query id, target id) pairs that must not appear ("not relevant").
    """
    queries = searcher.snapshot(query_side)
    query_docs, target_docs = side_vectors[query_side], side_vectors[target_side]
    if allowed_queries is not None:
        query_docs = query_docs.subset(np.isin(query_docs.ids, np.fromiter(allowed_queries, np.int64)))
    if allowed_targets is not None:
        target_docs = target_docs.subset(np.isin(target_docs.ids, np.fromiter(allowed_targets, np.int64)))
    blocked: dict[int, set[int]] = {}
    for query_id, target_id in dismissed:
        blocked.setdefault(query_id, set()).add(target_id)
    lines: list[WeeklyLine] = []
    if not len(query_docs.ids) or not len(target_docs.ids):
        return lines
    k = min(CANDIDATES_PER_QUERY + per_query, len(target_docs.ids))
    job = _Job(searcher, queries, query_docs, target_docs, blocked, query_side == target_side, per_query, k)
    starts = list(range(0, len(query_docs.ids), BLOCK_ROWS))
    return [line for block in _map(job.block, starts, workers) for line in block]


@dataclass(frozen=True)
class _Job:
    searcher: Searcher
    queries: SideSnapshot
    query_docs: DocumentVectors
    target_docs: DocumentVectors
    blocked: Mapping[int, set[int]]
    same_side: bool
    per_query: int
    k: int

    def block(self, start: int) -> list[WeeklyLine]:
        """The lines of the query documents start … start + BLOCK_ROWS."""
        similarity = self.query_docs.vectors[start : start + BLOCK_ROWS] @ self.target_docs.vectors.T
        top = np.argpartition(-similarity, self.k - 1, axis=1)[:, : self.k]
        lines: list[WeeklyLine] = []
        for offset, query_id in enumerate(self.query_docs.ids[start : start + BLOCK_ROWS].tolist()):
            candidates = top[offset]
            unwanted = self.blocked.get(query_id, set()) | ({query_id} if self.same_side else set())
            if unwanted:
                candidates = candidates[~np.isin(self.target_docs.ids[candidates], list(unwanted))]
            lines.extend(_rescore(self.searcher, self.queries, query_id, self.target_docs.chosen(candidates),
                                  self.per_query))
        return lines


# The work a forked worker process does (set just before the fork, so nothing is pickled).
_forked_work: Callable[[Any], Any] | None = None


def _forked(item: Any) -> Any:
    assert _forked_work is not None
    # The processes already use every core: BLAS threads on top would only compete.
    with threadpool_limits(1):
        return _forked_work(item)


def _map(work: Callable[[T], R], items: list[T], workers: int) -> list[R]:
    """`work` of every item, in order; with workers > 1 in forked processes that share the
    engine's memory (a batch job's way to use both cores: the scoring is Python-bound)."""
    global _forked_work
    if workers <= 1 or len(items) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        return [work(item) for item in items]
    _forked_work = work
    try:
        with multiprocessing.get_context("fork").Pool(min(workers, len(items))) as pool:
            return pool.map(_forked, items, chunksize=1)
    finally:
        _forked_work = None


def _find_need_contexts(searcher: Searcher, need_ids: Collection[int], workers: int) -> None:
    """Every need's context, found before the lists so that forked workers share them instead
    of each finding them; those not kept yet are found in `workers` processes too (a context
    is a search over every company: at 10,000 companies most of a one-process list's time)."""
    needs, companies = searcher.snapshot("need"), searcher.snapshot("company")
    missing = [(need_id, needs.documents[need_id].content_hash) for need_id in need_ids
               if need_id in needs.documents
               and searcher.kept_need_context(companies, need_id, needs.documents[need_id].content_hash) is None]

    def find(chunk: list[tuple[int, str]]) -> list[float]:
        return [searcher.need_context(needs, need_id, content) for need_id, content in chunk]

    chunks = [missing[start : start + CONTEXT_CHUNK] for start in range(0, len(missing), CONTEXT_CHUNK)]
    for chunk, contexts in zip(chunks, _map(find, chunks, workers), strict=True):
        for (need_id, content), context in zip(chunk, contexts, strict=True):
            searcher.keep_need_context(companies, need_id, content, context)


def _rescore(
    searcher: Searcher, queries: SideSnapshot, query_id: int, chosen: list[ChosenRows], per_query: int
) -> list[WeeklyLine]:
    stored = queries.documents.get(query_id)
    view = searcher.query_view(stored.document) if stored is not None else None
    if view is None:
        return []
    if queries.side == "company":
        # A company's probabilities are read from each need's side: its own scores would go unread.
        ids = np.concatenate([part.segment.document_ids[part.rows] for part in chosen])
        probabilities = searcher.needs_probabilities(view, searcher.snapshot("need"), ids) if len(ids) else ids
    else:
        scored = searcher.scores_of_rows(view, chosen)
        ids = scored.scores.document_ids
        probabilities = searcher.probabilities(view, scored, searcher.snapshot("company")) if len(ids) else ids
    order = top_order(probabilities, ids, per_query)
    return [WeeklyLine(query_id, int(ids[p]), rank, round(float(probabilities[p]), 6))
            for rank, p in enumerate(order, start=1)]


def weekly_pairs(
    searcher: Searcher, *, companies_per_need: int = 5, needs_per_company: int = 5,
    company_ids: Collection[int] | None = None, need_ids: Collection[int] | None = None,
    dismissed: Collection[tuple[int, int]] = (), workers: int = 1,
) -> WeeklyPairs:
    """Both directions of the list. `dismissed` holds (company id, need id) pairs.

    `workers` > 1 scores in that many forked processes: for a command-line batch job only,
    never inside the multi-threaded web server.
    """
    _find_need_contexts(searcher, list(searcher.snapshot("need").documents) if need_ids is None else need_ids,
                        workers)
    # Each side's document vectors once, for both directions (at 100,000 companies a pass over
    # every passage vector).
    side_vectors = {side: document_vectors(searcher.snapshot(side)) for side in SIDES}
    return WeeklyPairs(
        need_to_companies=top_pairs(searcher, side_vectors, "need", "company", companies_per_need, need_ids,
                                    company_ids, [(n, c) for c, n in dismissed], workers),
        company_to_needs=top_pairs(searcher, side_vectors, "company", "need", needs_per_company, company_ids,
                                   need_ids, dismissed, workers),
    )
