"""Scoring a query's candidates on one side snapshot, vectorised over passages.

Two steps per segment of the side (see store.SideSnapshot):
1. *Candidates*: every allowed document when there are few (or when asked to be exhaustive);
   otherwise the documents behind each signal's best passages — BM25 on the query's most
   distinctive stems, and per vector signal an ANN search (HNSW on big segments, an exact
   matrix product on small ones) with at most MAX_QUERY_VECTORS query vectors.
2. *Exact scores*: each candidate is scored by every signal over all its passages and all the
   query's passages (best passage pair and second-best passage), from the stored vectors and
   BM25 weights — the same numbers an exhaustive scan would give it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from app.matching.ann import exact_search, products
from app.matching.fusion import (
    BM25,
    SIGNALS,
    CandidateScores,
    FusedScores,
    scale,
)
from app.matching.segment import Segment
from app.matching.store import Document, SideSnapshot
from app.matching.text import Language, Passage

# BM25 candidates come from this many of the query's rarest stems: a long call has hundreds,
# and the common ones ("systems", "defensie") would touch most passages for little evidence.
MAX_QUERY_TERMS = 64
# …and stop before their posting lists together exceed this many passages, so finding the
# lexical candidates stays bounded as the corpus grows. At 100,000 bench companies 20,000
# left out documents the fusion ranks in the top 10 (recall 0.86 against 0.89 with 100,000,
# at search effort 256), for about 1 ms more per match.
MAX_QUERY_POSTINGS = 100_000
# A long query (a 30-passage call) searches the ANN with its mean vector and a spread of its
# passages rather than with every passage; exact scoring still reads every passage pair.
MAX_QUERY_VECTORS = 12
MIN_PER_QUERY_VECTOR = 50
# When filters leave less than this share of a big segment, the allowed passages are scanned
# exactly instead (an ANN search would mostly return documents the filters drop).
FILTERED_SCAN_SHARE = 0.25
# A segment without an ANN index (a small side, or the delta segment of recent writes) of up to
# this many passages has every allowed document scored exactly: there a candidate search would
# read all its vectors anyway, and then read the candidates' again.
EXHAUSTIVE_MAX_PASSAGES = 20_000
# Scoring more than this share of a segment's passages multiplies all its vectors at once.
WHOLE_SEGMENT_SHARE = 0.5


class ScoredPassages(NamedTuple):
    """What passage_scores computed for a query in one segment."""

    segment: Segment
    positions: np.ndarray  # passage positions, ascending
    scores: dict[str, np.ndarray]  # signal → (positions, query passages)


@dataclass
class QueryView:
    """A query ready to score: its passages, their tokens and their vectors per signal."""

    document: Document
    language: Language
    passages: Sequence[Passage]
    tokens: Sequence[Sequence[str]]
    vectors: dict[str, np.ndarray]  # signal → (query passages, dim)
    # Choosing the quotes of its first page reads the scores computed for the ranking here
    # instead of computing them again.
    scored: list[ScoredPassages] = field(default_factory=list, repr=False)

    def all_tokens(self) -> list[str]:
        return [t for tokens in self.tokens for t in tokens]

    def known_scores(self, segment: Segment, positions: np.ndarray) -> dict[str, np.ndarray] | None:
        """The scores of `positions` of `segment` if they were computed for this query before."""
        for known in self.scored:
            if known.segment is not segment or not len(known.positions):
                continue
            # Positions are found in ascending order; any that are not found mean "compute".
            found = np.minimum(np.searchsorted(known.positions, positions), len(known.positions) - 1)
            if np.array_equal(known.positions[found], positions):
                return {signal: scores[found] for signal, scores in known.scores.items()}
        return None


@dataclass
class CandidateDetails:
    """Per candidate where it lives: its segment (an index into `segments`) and its row there."""

    segments: Sequence[Segment]
    segment_of: np.ndarray  # (n,) index into `segments`
    rows: np.ndarray  # (n,) row in its segment
    languages: np.ndarray  # (n,)


class ScoredCandidates(NamedTuple):
    """A query's scored candidates as the fusion reads them, and where each one lives."""

    scores: CandidateScores
    details: CandidateDetails


class ChosenRows(NamedTuple):
    """Documents chosen for exact scoring without a candidate search: rows of one segment."""

    segment: Segment
    rows: np.ndarray


class PassagePair(NamedTuple):
    """The passage of the query and the passage of the matched document that explain a match."""

    query: int
    match: int


@dataclass(frozen=True)
class SegmentCandidates:
    """A query's candidates in one segment with their exact per-signal scores, before fusion.

    What the engine keeps per stored query for the big main segment (materialised.py): it
    does not change until the segment is replaced, except that rows die (`keeping`)."""

    segment: Segment
    rows: np.ndarray  # (n,) rows of the segment
    best: np.ndarray  # (n, 3)
    second: np.ndarray  # (n, 3)

    def keeping(self, allowed: np.ndarray) -> SegmentCandidates:
        """Only the candidates whose row is allowed (bool per row of the segment)."""
        keep = allowed[self.rows]
        if keep.all():
            return self
        return SegmentCandidates(self.segment, self.rows[keep], self.best[keep], self.second[keep])

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.best.nbytes + self.second.nbytes


class PassageGroups:
    """The layout of documents' passage scores laid out one document after another (`counts`
    scores each, every count at least 1), worked out once for all signals of a query.

    Most documents of a side have one passage (a short profile or need): their best is that
    score and their second 0. Only the others are reduced, which numpy does per group."""

    def __init__(self, counts: np.ndarray) -> None:
        self.count = len(counts)
        self.starts = np.cumsum(counts) - counts
        self.several = np.flatnonzero(counts > 1)
        several_counts = counts[self.several]
        self.in_several = np.repeat(counts > 1, counts)  # per score: of a document of several?
        self.several_starts = np.cumsum(several_counts) - several_counts
        self.several_owner = np.repeat(np.arange(len(several_counts)), several_counts)

    def top_two(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best and second-best score per group (a group of one has second best 0)."""
        best = scores[self.starts]
        second = np.zeros(self.count, dtype=np.float32)
        if not len(self.several):
            return best, second
        scores = scores[self.in_several]
        starts, owner = self.several_starts, self.several_owner
        several_best = np.maximum.reduceat(scores, starts)
        is_best = scores == several_best[owner]
        # The best taken out, the rest's best is the second; a tie for best is its own second.
        several_second = np.maximum.reduceat(np.where(is_best, -np.inf, scores), starts)
        tied = np.add.reduceat(is_best, starts) > 1
        several_second[tied] = several_best[tied]
        best[self.several] = several_best
        second[self.several] = several_second
        return best, second


def _best_per_row(scores: np.ndarray) -> np.ndarray:
    """Row maxima of a tall matrix of a few columns (0 without columns): column by column,
    which numpy does 50 times faster than scores.max(axis=1)."""
    if not scores.shape[1]:
        return np.zeros(len(scores), np.float32)
    best = scores[:, 0].copy()
    for column in range(1, scores.shape[1]):
        np.maximum(best, scores[:, column], out=best)
    return best


def ann_queries(vectors: np.ndarray) -> np.ndarray:
    """At most MAX_QUERY_VECTORS rows: all passages of a short query; for a long one the
    normalised mean and evenly spaced passages."""
    if len(vectors) <= MAX_QUERY_VECTORS:
        return vectors
    mean = vectors.mean(axis=0, keepdims=True)
    mean /= max(float(np.linalg.norm(mean)), 1e-12)
    picks = np.linspace(0, len(vectors) - 1, MAX_QUERY_VECTORS - 1).round().astype(int)
    return np.vstack([mean, vectors[picks]]).astype(np.float32)


def candidate_rows(
    view: QueryView, segment: Segment, allowed: np.ndarray, pool: int, allowed_share: float
) -> np.ndarray:
    """Rows of `segment` worth scoring exactly (allowed: bool per row; allowed_share: the share
    of the segment's live rows that is allowed)."""
    if allowed.sum() <= pool or (not segment.ann and segment.passage_total <= EXHAUSTIVE_MAX_PASSAGES):
        return np.flatnonzero(allowed)
    found = []
    lexical = segment.lexical.top_passages(view.all_tokens(), pool, MAX_QUERY_TERMS, MAX_QUERY_POSTINGS)
    found.append(segment.passage_rows[lexical.positions])
    for signal, vectors in segment.vectors.items():
        queries = ann_queries(view.vectors[signal])
        # The pool is shared by the query vectors: a long query asks less of each.
        per_query = max(MIN_PER_QUERY_VECTOR, pool // len(queries))
        index = segment.ann.get(signal)
        if index is not None and allowed_share >= FILTERED_SCAN_SHARE:
            # Ask for more when filters drop some: the allowed share of the results is about
            # the allowed share of the segment.
            _, hits = index.search(queries, int(per_query / allowed_share))
            hits = hits[hits >= 0]
        elif allowed_share > 0.5:
            # Scan everything and drop the disallowed afterwards: cheaper than copying most vectors.
            _, hits = exact_search(vectors, queries, int(per_query / allowed_share))
        else:
            allowed_positions = np.flatnonzero(allowed[segment.passage_rows])
            _, local = exact_search(vectors[allowed_positions], queries, per_query)
            hits = allowed_positions[local]
        found.append(segment.passage_rows[hits.ravel()])
    rows = np.unique(np.concatenate(found))
    allowed_rows: np.ndarray = rows[allowed[rows]]
    return allowed_rows


def segment_candidates(
    view: QueryView, segment: Segment, allowed: np.ndarray, pool: int, allowed_share: float
) -> SegmentCandidates:
    """Find a query's candidates in one segment and score them exactly."""
    return exact_candidates(view, segment, candidate_rows(view, segment, allowed, pool, allowed_share))


# Finds a query's candidates in a segment: (view, segment, allowed rows, pool, allowed share).
FindCandidates = Callable[[QueryView, Segment, np.ndarray, int, float], SegmentCandidates]


def score_candidates(
    view: QueryView,
    snapshot: SideSnapshot,
    allowed_ids: Collection[int] | None,
    excluded_ids: Collection[int],
    pool: int,
    main_candidates: FindCandidates = segment_candidates,
) -> ScoredCandidates:
    """The scored candidates of every segment of the side.

    `main_candidates` finds those of the main segment (the engine passes one that reuses what
    it kept for a stored query). Candidates are found among the live, allowed rows; excluded
    ids are dropped afterwards, so a few dismissed pairs do not change what is looked at.
    """
    wanted = None if allowed_ids is None else np.fromiter(allowed_ids, dtype=np.int64, count=len(allowed_ids))
    unwanted = np.fromiter(excluded_ids, dtype=np.int64, count=len(excluded_ids))
    parts = []
    for segment, live in snapshot.segments():
        allowed = live if wanted is None else live & np.isin(segment.document_ids, wanted)
        if not allowed.any():
            continue
        share = float(allowed.sum()) / float(live.sum())
        find = main_candidates if segment is snapshot.main else segment_candidates
        part = find(view, segment, allowed, pool, share).keeping(allowed)
        if len(unwanted):
            part = part.keeping(~np.isin(segment.document_ids, unwanted))
        if len(part.rows):
            parts.append(part)
    return combine(view, parts)


def score_rows(view: QueryView, chosen: Sequence[ChosenRows]) -> ScoredCandidates:
    """Exact scores of documents already chosen: no candidate search."""
    return combine(view, [exact_candidates(view, part.segment, part.rows) for part in chosen if len(part.rows)])


def passage_scores(view: QueryView, segment: Segment, positions: np.ndarray) -> dict[str, np.ndarray]:
    """Per signal the raw score of every (passage at `positions`, query passage) pair."""
    known = view.known_scores(segment, positions)
    if known is not None:
        return known
    raw = {"bm25": segment.lexical.scores_of(positions, view.tokens)}
    # Most of the segment: one product with all its vectors beats copying most of them first.
    whole = len(positions) > WHOLE_SEGMENT_SHARE * segment.passage_total
    for signal, vectors in segment.vectors.items():
        if whole:
            raw[signal] = products(vectors, view.vectors[signal])[positions]
        else:
            raw[signal] = products(vectors[positions], view.vectors[signal])
    view.scored.append(ScoredPassages(segment, positions, raw))
    return raw


def exact_candidates(view: QueryView, segment: Segment, rows: np.ndarray) -> SegmentCandidates:
    """Every signal's best and second-best passage score for each of `rows`."""
    positions = segment.passage_positions(rows).positions
    best = np.full((len(rows), len(SIGNALS)), np.nan, dtype=np.float32)
    second = np.zeros_like(best)
    raw = passage_scores(view, segment, positions)
    groups = PassageGroups(segment.passage_count[rows])
    for column, signal in enumerate(SIGNALS):
        if signal in raw:
            best[:, column], second[:, column] = groups.top_two(_best_per_row(raw[signal]))
    return SegmentCandidates(segment, rows, best, second)


def combine(view: QueryView, parts: list[SegmentCandidates]) -> ScoredCandidates:
    """Scored candidates of one or more segments as the fusion reads them (no scoring here)."""
    nothing = np.zeros(0, dtype=np.int64)
    if not parts:
        empty = np.zeros((0, len(SIGNALS)), np.float32)
        return ScoredCandidates(
            CandidateScores(nothing, empty, empty.copy(), np.zeros(0, np.int8), nothing, nothing),
            CandidateDetails([], nothing, nothing, np.zeros(0, "<U7")),
        )
    candidates = CandidateScores(
        document_ids=np.concatenate([p.segment.document_ids[p.rows] for p in parts]),
        best=np.vstack([p.best for p in parts]),
        second=np.vstack([p.second for p in parts]),
        conditions=np.zeros(sum(len(p.rows) for p in parts), np.int8),  # filled in by the engine
        shared_nld_areas=np.concatenate(
            [p.segment.shared_tags(p.rows, view.document.nld_areas, of_areas=True) for p in parts]),
        shared_sectors=np.concatenate(
            [p.segment.shared_tags(p.rows, view.document.sectors, of_areas=False) for p in parts]),
    )
    details = CandidateDetails(
        segments=[p.segment for p in parts],
        segment_of=np.concatenate([np.full(len(p.rows), i, dtype=np.int64) for i, p in enumerate(parts)]),
        rows=np.concatenate([p.rows for p in parts]),
        languages=np.concatenate([p.segment.document_languages[p.rows] for p in parts]),
    )
    return ScoredCandidates(candidates, details)


@dataclass(frozen=True)
class Ranking:
    """A query's first page of matches before they are explained: document ids, scores and what
    explains each (its best passage pair and the fusion's numbers). The engine keeps it for a
    stored query while the side it was ranked on stays the same snapshot."""

    ids: tuple[int, ...]
    scores: tuple[float, ...]
    pairs: tuple[PassagePair, ...]
    contributions: np.ndarray  # (n, 3)
    visible: np.ndarray  # (n, 3)
    bonus: np.ndarray  # (n,)

    @property
    def nbytes(self) -> int:
        return 64 * len(self.ids) + self.contributions.nbytes + self.visible.nbytes + self.bonus.nbytes


def best_passage_pairs(
    view: QueryView, details: CandidateDetails, order: np.ndarray, fused: FusedScores
) -> list[PassagePair]:
    """For each ranked candidate, the (query passage, document passage) pair that scores best
    under the same fusion (its shares, the query's scaling): the natural quote to explain the
    match. The passage scores are computed again for these few candidates only, one batch per
    segment."""
    pairs: dict[int, PassagePair] = {}
    for part, segment in enumerate(details.segments):
        ranked = np.array([p for p in order if details.segment_of[p] == part], dtype=np.int64)
        if not len(ranked):
            continue
        passages = segment.passage_positions(details.rows[ranked])
        raw = passage_scores(view, segment, passages.positions)
        # Per (document passage, query passage) its fused score under each candidate's shares.
        combined = np.zeros((len(passages.positions), len(view.passages)), dtype=np.float32)
        for column, signal in enumerate(SIGNALS):
            shares = fused.shares[ranked, column][passages.owner]
            if signal in raw and (shares > 0).any() and raw[signal].size:
                combined += shares[:, None] * scale(raw[signal], fused.low[column], fused.spread[column])
        counts = segment.passage_count[details.rows[ranked]]
        for position, end, count in zip(ranked, np.cumsum(counts), counts, strict=True):
            block = combined[end - count : end]
            if not block.size:
                pairs[int(position)] = PassagePair(0, 0)
                continue
            query_passage, match_passage = np.unravel_index(int(np.argmax(block.T)), block.T.shape)
            pairs[int(position)] = PassagePair(int(query_passage), int(match_passage))
    return [pairs[int(position)] for position in order]


__all__ = [
    "BM25", "CandidateDetails", "ChosenRows", "FindCandidates", "PassagePair", "QueryView", "Ranking",
    "ScoredCandidates", "SegmentCandidates", "best_passage_pairs", "combine", "score_candidates", "score_rows",
    "segment_candidates",
]
