"""How a side's next snapshot is built, and the merge policy that decides what a write builds.

A write is cheap at any size: it rebuilds only the small *delta* segment of recent writes and a
live mask of the big *main* segment (store.SideSnapshot). When the delta outgrows DELTA_SHARE of
the main segment (or the side is small), everything is merged into a new main segment, with a
new ANN index. A background merge (background_merge.py) builds that merged segment off the write
lock and lays the writes made meanwhile over it (`with_writes_since`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from app.matching.ann import HnswPassageSearch
from app.matching.segment import Segment, own_tokens
from app.matching.state import EngineState
from app.matching.store import SideSnapshot, StoredDocument

# A side below MERGE_ALWAYS_BELOW passages is rebuilt whole on every write (it costs
# milliseconds there, and keeps BM25 statistics exact); above it, writes go to the delta segment
# until it holds more than DELTA_SHARE of the main segment's passages.
MERGE_ALWAYS_BELOW = 5_000
DELTA_SHARE = 0.02
# With merges in the background, a delta that grows to this many times its share while one runs
# (a bulk catch-up) is merged by the write itself: every search scores the delta whole.
INLINE_MERGE_FACTOR = 2

# signal → passage hash → vector: the vectors of the passages a write encoded or read (vectors.py)
FreshVectors = Mapping[str, Mapping[str, np.ndarray]]


class NextSnapshot(NamedTuple):
    snapshot: SideSnapshot
    merged: bool  # everything was merged into a new main segment


def delta_over_share(state: EngineState, delta_passages: int, main_passages: int, factor: float = 1) -> bool:
    return delta_passages > factor * state.delta_share * max(1, main_passages)


def delta_outgrown(state: EngineState, snapshot: SideSnapshot) -> bool:
    """Whether the side's delta holds more than its share: time for a merge."""
    return delta_over_share(state, snapshot.delta.passage_total, snapshot.main.passage_total)


def next_snapshot(
    state: EngineState,
    old: SideSnapshot,
    replaced: set[int],
    changed: Sequence[StoredDocument],
    fresh: FreshVectors,
    *,
    merge: bool | None = None,
    merge_factor: float = 1,
    ann_threads: int = 2,
) -> NextSnapshot:
    """The side after a write that replaces or erases the `replaced` ids and adds `changed`
    (their vectors in `fresh`): a new delta segment, or everything merged into a new main.
    `merge` None: as the merge policy says, with the delta's share times `merge_factor`;
    `ann_threads`: for building FAISS graphs."""
    kept_delta = [d for i, d in old.delta.documents.items() if i not in replaced]
    delta_passages = sum(len(d.passages) for d in kept_delta) + sum(len(d.passages) for d in changed)
    main_live = old.main_live.copy()
    for document_id in replaced:
        row = old.main.row_of.get(document_id)
        if row is not None:
            main_live[row] = False
    if merge is None:
        live_passages = int(old.main.passage_count[main_live].sum()) + delta_passages
        merge = live_passages < state.merge_always_below or delta_over_share(
            state, delta_passages, old.main.passage_total, merge_factor)
    # The delta's vectors are carried over as arrays: its documents lie in row order.
    kept_delta_passages = ~np.isin(old.delta.document_ids, np.fromiter(replaced, np.int64, count=len(replaced)))[
        old.delta.passage_rows]
    kept_delta_vectors = {s: v[kept_delta_passages] for s, v in old.delta.vectors.items()}
    added_vectors = _stacked(state, changed, lambda d: _fresh_vectors(state, fresh, d))
    if not merge:
        statistics = old.main.lexical.statistics
        # The postings too: a write costs what it adds, not what the delta holds (at 100,000
        # companies up to 2,000 documents, whose stems took most of a write to read again).
        lexical = old.delta.lexical.extended(kept_delta_passages, [t for d in changed for t in own_tokens(d)],
                                             statistics)
        delta = Segment.build([*kept_delta, *changed], _concatenated(state, [kept_delta_vectors, added_vectors]),
                              statistics=statistics, lexical=lexical)
        return NextSnapshot(old.with_delta(delta, main_live), False)
    main_docs = [d for d, alive in zip(old.main.documents.values(), main_live, strict=True) if alive]
    main_vectors = {s: v[main_live[old.main.passage_rows]] for s, v in old.main.vectors.items()}
    documents = [*main_docs, *kept_delta, *changed]
    vectors = _concatenated(state, [main_vectors, kept_delta_vectors, added_vectors])
    # The main segment's documents may hold no stems (a big segment's postings do).
    tokens = [t for d in documents for t in (
        d.passage_tokens if d.passage_tokens is not None else old.main.tokens_of(d.document.id))]
    factory = state.ann_factory or functools.partial(HnswPassageSearch.build, threads=ann_threads)
    main = Segment.build(documents, vectors, with_ann=True, ann_factory=factory,
                         ann_min_passages=state.ann_min_passages, tokens=tokens)
    return NextSnapshot(SideSnapshot.build(old.side, main, state.empty_segment()), True)


def merged_snapshot(state: EngineState, old: SideSnapshot, ann_threads: int = 2) -> SideSnapshot:
    """The side with its delta folded into a new main segment."""
    return next_snapshot(state, old, set(), [], {}, merge=True, ann_threads=ann_threads).snapshot


def with_writes_since(
    state: EngineState, base: SideSnapshot, current: SideSnapshot, merged: SideSnapshot
) -> SideSnapshot:
    """`merged` (made from `base`) with what was written to the side since `base`: the replaced
    or erased documents' rows masked, the written ones as the new delta. `current` has `base`'s
    main segment (no merge came between them), so only the deltas and the main segment's dead
    rows are read: this runs under the write lock, which every write waits for. A write makes
    new StoredDocuments and a snapshot shares the unchanged ones, so identity tells."""
    if current.main is not base.main:
        raise ValueError("the side was merged since the base snapshot: there is nothing to lay over it")
    kept = base.delta.documents
    written = [d for i, d in current.delta.documents.items() if kept.get(i) is not d]
    newly_dead = base.main.document_ids[np.flatnonzero(base.main_live & ~current.main_live)]
    erased_from_delta = {i for i in kept if i not in current.documents}
    replaced = set(newly_dead.tolist()) | erased_from_delta | {d.document.id for d in written}
    live = np.ones(len(merged.main.document_ids), bool)
    for document_id in replaced:
        row = merged.main.row_of.get(document_id)
        if row is not None:
            live[row] = False
    vectors = _stacked(state, written, lambda d: current.vectors_of(d.document.id))
    delta = Segment.build(written, vectors, statistics=merged.main.lexical.statistics)
    return SideSnapshot.build(base.side, merged.main, delta, live)


def _fresh_vectors(state: EngineState, fresh: FreshVectors, document: StoredDocument) -> dict[str, np.ndarray]:
    return {signal: np.stack([fresh[signal][h] for h in document.passage_hashes]) for signal in state.encoders}


def _stacked(
    state: EngineState,
    documents: Sequence[StoredDocument],
    vectors_of: Callable[[StoredDocument], Mapping[str, np.ndarray]],
) -> dict[str, np.ndarray]:
    """The passage vectors of `documents` per signal, one document after another."""
    return _concatenated(state, [vectors_of(d) for d in documents])


def _concatenated(state: EngineState, blocks: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {
        signal: np.concatenate([block[signal] for block in blocks]) if blocks
        else np.zeros((0, encoder.dim), np.float32)
        for signal, encoder in state.encoders.items()
    }
