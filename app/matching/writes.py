"""The write path: upsert, remove and sync bring a side in step with the database, one writer at a
time. A write encodes only passages the embedding cache does not hold, builds the side's next
snapshot (snapshot_builder.py) and swaps it in with one assignment, so searches never wait.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from app.matching import persistence
from app.matching.background_merge import BackgroundMerges
from app.matching.precompute import Precomputer
from app.matching.snapshot_builder import merged_snapshot, next_snapshot
from app.matching.state import EngineState
from app.matching.store import SIDES, Document, Side, StoredDocument, content_hash, prepare_document
from app.matching.vectors import encode_missing

# A write of at most this many needs searches their companies before it returns (see apply).
PRECOMPUTE_ON_WRITE = 10


@dataclass
class SyncReport:
    side: Side
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    passages_encoded: int = 0
    seconds: float = 0.0
    merged: bool = False


class WritePath:
    def __init__(self, state: EngineState, merges: BackgroundMerges, precomputer: Precomputer) -> None:
        self.state = state
        self.merges = merges
        self.precomputer = precomputer

    def upsert(self, docs: Sequence[Document]) -> None:
        """Add or replace documents; a changed text is re-encoded, an unchanged one is not."""
        for side in SIDES:
            batch = [d for d in docs if d.side == side]
            if batch:
                self.apply(side, batch, removals=(), progress=False)

    def remove(self, side: Side, ids: Iterable[int]) -> None:
        """Erase these documents: vectors, passages and cached embeddings, and their text in the
        saved index (at once, not at the next save: persistence.forget_documents)."""
        gone = set(ids)
        self.apply(side, (), removals=gone, progress=False)
        with self.state.write_lock:  # not while a save writes the folder
            persistence.forget_documents(self.state.data_dir / "index", side, gone)

    def sync(self, side: Side, docs: Iterable[Document], progress: bool = False) -> SyncReport:
        """Make the side hold exactly `docs`: add missing, re-encode changed, drop the rest."""
        # Removals are decided from the state before the write lock is taken: a document that
        # a concurrent upsert adds meanwhile is kept rather than silently dropped.
        current = self.state.snapshots[side].documents
        # `docs` is read once, keeping only what differs from the index: at start-up the whole
        # database (100,000 companies) is compared with a loaded index, and holding every
        # unchanged document as well would be the peak of a server's memory.
        seen: set[int] = set()
        differing: dict[int, Document] = {}
        for doc in docs:
            if doc.side != side:
                continue
            seen.add(doc.id)
            stored = current.get(doc.id)
            if stored is not None and stored.content_hash == content_hash(doc):
                differing.pop(doc.id, None)  # of one id listed twice, the last one counts
            else:
                differing[doc.id] = doc
        report = self.apply(side, list(differing.values()), removals=set(current) - seen, progress=progress)
        report.unchanged = len(seen) - report.added - report.updated
        return report

    def apply(self, side: Side, docs: Sequence[Document], removals: Collection[int], progress: bool) -> SyncReport:
        """Write `docs` and erase `removals` on one side, as one new snapshot."""
        started = time.perf_counter()
        report = SyncReport(side)
        state = self.state
        with state.write_lock:
            old = state.snapshots[side]
            gone: set[int] = {i for i in removals if i in old.documents}
            changed: list[StoredDocument] = []
            for doc in docs:
                previous = old.documents.get(doc.id)
                if previous is not None and previous.content_hash == content_hash(doc):
                    report.unchanged += 1
                    continue
                report.updated += previous is not None
                report.added += previous is None
                changed.append(prepare_document(doc))
            report.removed = len(gone)
            if changed or gone:
                fresh = encode_missing(state.cache, state.encoders, changed, side, progress)
                report.passages_encoded = fresh.encoded
                replaced = gone | {d.document.id for d in changed}
                snapshot, report.merged = next_snapshot(
                    state, old, replaced, changed, fresh.vectors, merge_factor=self.merges.merge_factor)
                state.swap(snapshot)
                self.merges.start_if_outgrown(snapshot)
                dropped = [old.documents[i] for i in replaced if i in old.documents]
                self._forget_unused_embeddings(dropped, changed)
        if side == "need" and self.precomputer.running and len(changed) <= PRECOMPUTE_ON_WRITE:
            # A need written through the API is searched for at once (about 50 ms at 100,000
            # companies), so that its first ask is answered from kept candidates like any other
            # need's; a bigger batch is left to the background pass.
            for stored in changed:
                self.precomputer.need(stored)
        report.seconds = time.perf_counter() - started
        return report

    def merge(self, side: Side) -> None:
        """Fold the side's delta segment into a new main segment now."""
        with self.state.write_lock:
            old = self.state.snapshots[side]
            if len(old.delta.document_ids) or not old.main_live.all():
                self.state.swap(merged_snapshot(self.state, old))

    def _forget_unused_embeddings(self, dropped: Sequence[StoredDocument], kept: Sequence[StoredDocument]) -> None:
        """Delete the cached vectors of the passages of replaced or erased documents, except those
        the new versions still use (an edit keeps most passages). Not scanning every document
        keeps a write cheap at 100,000 companies; the price is that a passage text two different
        documents share is encoded again at the next rebuild."""
        candidates = {h for d in dropped for h in d.passage_hashes}
        candidates -= {h for d in kept for h in d.passage_hashes}
        if candidates:
            self.state.cache.delete(candidates)
