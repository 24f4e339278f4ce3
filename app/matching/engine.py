"""The matching engine the web service calls: keep the indexes in step with the database and
answer "what matches this company / need / text", with explanations.

Concurrency: one writer at a time (`_write_lock`). A write builds a new immutable snapshot of
the side and swaps it in with one assignment, so searches never take a lock and never see a
half-written index. A single write is cheap at any size: it rebuilds only the small *delta*
segment of recent writes and a live mask of the big *main* segment (store.SideSnapshot); when
the delta outgrows DELTA_SHARE of the main segment (or on a big sync), everything is merged
into a new main segment, with a new ANN index.

A serving engine merges in the background (`enable_background_merges`): the write that crosses
DELTA_SHARE returns at once, a thread builds the merged segment from the snapshot of that
moment (minutes at 100,000 companies) and, for the company side, searches every need's
companies in it; then, under the write lock, the writes made meanwhile are laid over it as its
new delta and it is swapped in with those candidates kept. Without it (the command line, an
index being built) and when the delta grows to INLINE_MERGE_FACTOR times its share, the write
merges itself.

Files in `data_dir`: `embeddings.sqlite` (the embedding cache) and `index/` (saved snapshots,
see persistence.py), written atomically by save().
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from app.matching import persistence
from app.matching.ann import HnswPassageSearch
from app.matching.encoders import Encoder
from app.matching.explain import explain_match, explanation_texts, word_forms
from app.matching.fusion import (
    FUSION_WEIGHTS,
    CandidateScores,
    FusionWeights,
    fuse,
    language_conditions,
    top_order,
)
from app.matching.materialised import DEFAULT_BUDGET_BYTES, MaterialisedMatches
from app.matching.ranking import (
    CandidateDetails,
    QueryView,
    Ranking,
    SegmentCandidates,
    best_passage_pairs,
    combine,
    score_candidates,
    score_rows,
    segment_candidates,
)
from app.matching.segment import ANN_MIN_PASSAGES, Segment
from app.matching.store import (
    SIDES,
    Document,
    EmbeddingCache,
    Side,
    SideSnapshot,
    StoredDocument,
    content_hash,
    prepare_document,
)
from app.matching.text import TEXT_RULES_VERSION, detect_language, split_passages, tokenize
from app.matching.vectors import encode_missing

logger = logging.getLogger(__name__)

__all__ = ["Document", "Match", "MatchEngine", "SyncReport"]

FREE_TEXT_ID = -1  # never a database id
_TARGET_ALIASES = {"company": "company", "companies": "company", "need": "need", "needs": "need"}
# Merge policy: a side below MERGE_ALWAYS_BELOW passages is rebuilt whole on every write (it
# costs milliseconds there, and keeps BM25 statistics exact); above it, writes go to the delta
# segment until it holds more than DELTA_SHARE of the main segment's passages.
MERGE_ALWAYS_BELOW = 5_000
DELTA_SHARE = 0.02
# With merges in the background, a delta that grows to this many times its share while one
# runs (a bulk catch-up) is merged by the write itself: every search scores the delta whole.
INLINE_MERGE_FACTOR = 2
# The background precompute of every need's companies searches this much deeper than a
# request (candidate_pool) and keeps the PRECOMPUTE_KEEP best of what it finds by fused score,
# plus each signal's PRECOMPUTE_KEEP_PER_SIGNAL best, which fix the scaling (fusion.py).
# Measured on 80 needs at 100,000 bench companies, recall of the top 10 against an exhaustive
# scan: pool 1,000 0.981 (33 ms a need), 2,000 0.990 (50 ms), 4,000 0.991 (83 ms).
PRECOMPUTE_POOL = 2_000
DEFAULT_LIMIT = 10  # the first page of matches the endpoints show
PRECOMPUTE_KEEP = 300
PRECOMPUTE_KEEP_PER_SIGNAL = 64
# A write of at most this many needs precomputes them before it returns (see _apply).
PRECOMPUTE_ON_WRITE = 10
# Documents per side whose word forms are kept for explanations (about 6 KB per need, 3 KB per
# company profile of 1,000 characters).
WORD_FORMS_KEPT = {"need": 8192, "company": 2048}


@dataclass
class Match:
    id: int
    score: float
    explanation: dict


@dataclass
class SyncReport:
    side: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    passages_encoded: int = 0
    seconds: float = 0.0
    merged: bool = False


def release_freed_memory() -> None:
    """Hand the heap memory freed by a load back to the system (glibc keeps it otherwise):
    reading the saved index and the database's 100,000 companies leaves about 20 MB."""
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


class MatchEngine:
    def __init__(
        self,
        data_dir: Path,
        dense: Encoder | None,
        multilingual: Encoder | None,
        *,
        weights: FusionWeights | None = None,
        candidate_pool: int = 200,
        merge_always_below: int = MERGE_ALWAYS_BELOW,
        delta_share: float = DELTA_SHARE,
        ann_factory: Callable | None = None,
        ann_min_passages: int = ANN_MIN_PASSAGES,
        materialised_bytes: int = DEFAULT_BUDGET_BYTES,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.encoders: dict[str, Encoder] = {
            name: enc for name, enc in (("dense", dense), ("multilingual", multilingual)) if enc is not None
        }
        self.weights = weights or FUSION_WEIGHTS
        # Passages taken from each signal per query vector before exact re-scoring.
        self.candidate_pool = candidate_pool
        self.merge_always_below = merge_always_below
        self.delta_share = delta_share
        # vectors → ann.PassageSearch for a big main segment. None: FAISS HNSW (ann.py); a
        # pgvector_ann.PgvectorStore keeps them in PostgreSQL and is closed with the engine.
        self.ann_factory = ann_factory
        self.ann_min_passages = ann_min_passages
        self._cache = EmbeddingCache(self.data_dir / "embeddings.sqlite")
        self._write_lock = threading.Lock()
        self._snapshots: dict[str, SideSnapshot] = {side: self._empty_snapshot(side) for side in SIDES}
        # Stored queries' candidates and explanation texts, kept between matches (materialised.py);
        # a budget of 0 keeps nothing.
        self._materialised = MaterialisedMatches(materialised_bytes)
        # Per side the word forms of the documents explained lately (explain.word_forms): a
        # need's are read for every company it matches, so the need side keeps all of them.
        self._word_forms = {side: lru_cache(maxsize=WORD_FORMS_KEPT[side])(word_forms) for side in SIDES}
        self._precompute_wanted = threading.Event()
        self._precompute_thread: threading.Thread | None = None
        self._background_merges = False
        self._merge_threads: dict[str, threading.Thread] = {}
        self._closed = False
        self.precomputed = 0  # needs whose companies the last precompute pass found kept

    # ---------- writing ----------
    def upsert(self, docs: Sequence[Document]) -> None:
        """Add or replace documents; a changed text is re-encoded, an unchanged one is not."""
        for side in SIDES:
            batch = [d for d in docs if d.side == side]
            if batch:
                self._apply(side, batch, removals=(), progress=False)

    def remove(self, side: str, ids: Iterable[int]) -> None:
        """Erase these documents: vectors, passages and cached embeddings, and their text in the saved index."""
        gone = set(ids)
        self._apply(self._side(side), (), removals=gone, progress=False)
        with self._write_lock:  # not while a save writes the folder
            persistence.forget_documents(self.data_dir / "index", self._side(side), gone)

    def sync(self, side: str, docs: Iterable[Document], progress: bool = False) -> SyncReport:
        """Make the side hold exactly `docs`: add missing, re-encode changed, drop the rest."""
        side = self._side(side)
        # Removals are decided from the state before the write lock is taken: a document that
        # a concurrent upsert adds meanwhile is kept rather than silently dropped.
        current = self._snapshots[side].documents
        # `docs` is read once, keeping only what differs from the index: at start-up the whole
        # database (100,000 companies) is compared with a loaded index, and holding every
        # unchanged document as well was the peak of a server's memory.
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
        report = self._apply(side, list(differing.values()), removals=set(current) - seen, progress=progress)
        report.unchanged = len(seen) - report.added - report.updated
        return report

    def _apply(self, side: Side, docs: Sequence[Document], removals: Collection[int], progress: bool) -> SyncReport:
        started = time.perf_counter()
        report = SyncReport(side)
        with self._write_lock:
            old = self._snapshots[side]
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
                fresh = encode_missing(self._cache, self.encoders, changed, side, progress)
                report.passages_encoded = fresh.encoded
                replaced = gone | {d.document.id for d in changed}
                snapshot, report.merged = self._next_snapshot(old, replaced, changed, fresh.vectors)
                self._swap(snapshot)
                if self._background_merges and self._delta_outgrown(snapshot):
                    self._merge_in_background(side)
                dropped = [old.documents[i] for i in replaced if i in old.documents]
                self._forget_unused_embeddings(dropped, changed)
        if side == "need" and self._precompute_thread is not None and len(changed) <= PRECOMPUTE_ON_WRITE:
            # A need written through the API is searched for at once (about 50 ms at 100,000
            # companies), so that its first ask is answered from kept candidates like any other
            # need's; a bigger batch is left to the background pass.
            for stored in changed:
                self._precompute_need(stored)
        report.seconds = time.perf_counter() - started
        return report

    def _next_snapshot(
        self,
        old: SideSnapshot,
        replaced: set[int],
        changed: list[StoredDocument],
        fresh: Mapping[str, dict],
        merge: bool | None = None,
        ann_threads: int = 2,
    ) -> tuple[SideSnapshot, bool]:
        """The side after a write: a new delta segment, or everything merged into a new main.
        `merge` None: as the merge policy says; `ann_threads`: for building FAISS graphs."""
        def vectors_of(documents: Sequence[StoredDocument], source: Segment | None) -> dict[str, np.ndarray]:
            return {
                signal: np.concatenate(
                    [source.vectors_of(d.document.id)[signal] for d in documents] if source is not None
                    else [np.stack([fresh[signal][h] for h in d.passage_hashes]) for d in documents]
                ) if documents else np.zeros((0, encoder.dim), np.float32)
                for signal, encoder in self.encoders.items()
            }

        kept_delta = [d for i, d in old.delta.documents.items() if i not in replaced]
        delta_docs = kept_delta + changed
        delta_passages = sum(len(d.passages) for d in delta_docs)
        main_live = old.main_live.copy()
        for document_id in replaced:
            row = old.main.row_of.get(document_id)
            if row is not None:
                main_live[row] = False
        live_passages = int(old.main.passage_count[main_live].sum()) + delta_passages
        if merge is None:
            factor = INLINE_MERGE_FACTOR if self._background_merges else 1
            merge = (
                live_passages < self.merge_always_below
                or self._delta_over_share(delta_passages, old.main.passage_total, factor)
            )
        parts = []  # (documents, their vectors)
        if merge:
            main_docs = [d for d, alive in zip(old.main.documents.values(), main_live, strict=True) if alive]
            if main_docs:
                keep = main_live[old.main.passage_rows]
                parts.append((main_docs, {s: v[keep] for s, v in old.main.vectors.items()}))
        if kept_delta:
            parts.append((kept_delta, vectors_of(kept_delta, old.delta)))
        if changed:
            parts.append((changed, vectors_of(changed, None)))
        documents = [d for part, _ in parts for d in part]
        vectors = {
            s: np.concatenate([v[s] for _, v in parts]) if parts else np.zeros((0, e.dim), np.float32)
            for s, e in self.encoders.items()
        }
        if merge:
            # The main segment's documents may hold no stems (a big segment's postings do).
            tokens = [t for d in documents for t in (
                d.passage_tokens if d.passage_tokens is not None else old.main.tokens_of(d.document.id))]
            factory = self.ann_factory or functools.partial(HnswPassageSearch.build, threads=ann_threads)
            main = Segment.build(documents, vectors, with_ann=True, ann_factory=factory,
                                 ann_min_passages=self.ann_min_passages, tokens=tokens)
            return SideSnapshot.build(old.side, main, self._empty_segment()), True
        delta = Segment.build(documents, vectors, statistics=old.main.lexical.statistics)
        live = dict(old.documents)
        for document_id in replaced:
            live.pop(document_id, None)
        live.update((d.document.id, d) for d in changed)
        return old.with_delta(delta, main_live, live), False

    def merge(self, side: str) -> None:
        """Fold the side's delta segment into a new main segment now (also done automatically)."""
        side = self._side(side)
        with self._write_lock:
            old = self._snapshots[side]
            if len(old.delta.document_ids) or not old.main_live.all():
                self._swap(self._next_snapshot(old, set(), [], {}, merge=True)[0])

    # ---------- merging in the background ----------
    def enable_background_merges(self) -> None:
        """From now on a write that lets the delta outgrow DELTA_SHARE returns at once and the
        merge runs in a thread (the server, once its index is loaded); a delta loaded already
        too big is merged now."""
        with self._write_lock:
            self._background_merges = True
            for side, snapshot in self._snapshots.items():
                if self._delta_outgrown(snapshot):
                    self._merge_in_background(side)

    def wait_for_merges(self, timeout: float | None = None) -> bool:
        """Wait until no merge runs in the background; False if one still does after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._merge_threads.values()):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.merging()

    def merging(self) -> bool:
        """Whether a merge runs in the background now."""
        return any(thread.is_alive() for thread in self._merge_threads.values())

    def _delta_outgrown(self, snapshot: SideSnapshot) -> bool:
        return self._delta_over_share(snapshot.delta.passage_total, snapshot.main.passage_total)

    def _delta_over_share(self, delta_passages: int, main_passages: int, factor: float = 1) -> bool:
        return delta_passages > factor * self.delta_share * max(1, main_passages)

    def _merge_in_background(self, side: Side) -> None:
        """Start the side's merge thread unless it runs (called holding the write lock)."""
        running = self._merge_threads.get(side)
        if self._closed or (running is not None and running.is_alive()):
            return
        thread = threading.Thread(
            target=self._merge_loop, args=(side,), name=f"matching-merge-{side}", daemon=True)
        self._merge_threads[side] = thread
        thread.start()

    def _merge_loop(self, side: Side) -> None:
        try:
            while not self._closed and self._delta_outgrown(self._snapshots[side]):
                started = time.perf_counter()
                self._merge_once(side)
                seconds = time.perf_counter() - started
                logger.info("merged the %s side in the background in %.1f s", side, seconds)
        except Exception:  # the delta goes on holding the writes; the next write that outgrows it tries again
            logger.exception("merging the %s side in the background failed", side)

    def _merge_once(self, side: Side) -> None:
        """Build the merged main segment off the write lock, then swap it in with the writes made
        meanwhile as its delta. Building the FAISS graphs takes one core: the other serves."""
        base = self._snapshots[side]
        merged, _ = self._next_snapshot(base, set(), [], {}, merge=True, ann_threads=1)
        staged = self._deep_candidates_of_every_need(merged) if side == "company" else {}
        with self._write_lock:
            current = self._snapshots[side]
            if self._closed or current.main is not base.main:  # a write merged itself meanwhile
                for index in merged.main.ann.values():
                    index.close()
                return
            self._swap(self._with_writes_since(base, current, merged), staged)

    def _with_writes_since(
        self, base: SideSnapshot, current: SideSnapshot, merged: SideSnapshot
    ) -> SideSnapshot:
        """`merged` (made from `base`) with what was written to the side since `base`: the
        replaced or erased documents' rows masked, the written ones as the new delta. A write
        makes new StoredDocuments and a snapshot shares the unchanged ones, so identity tells."""
        written = [d for i, d in current.documents.items() if base.documents.get(i) is not d]
        replaced = (set(base.documents) - set(current.documents)) | {d.document.id for d in written}
        live = np.ones(len(merged.main.document_ids), bool)
        for document_id in replaced:
            row = merged.main.row_of.get(document_id)
            if row is not None:
                live[row] = False
        vectors = {
            signal: np.concatenate([current.vectors_of(d.document.id)[signal] for d in written])
            if written else np.zeros((0, encoder.dim), np.float32)
            for signal, encoder in self.encoders.items()
        }
        delta = Segment.build(written, vectors, statistics=merged.main.lexical.statistics)
        return SideSnapshot.build(base.side, merged.main, delta, live)

    def _deep_candidates_of_every_need(self, companies: SideSnapshot) -> dict[tuple, SegmentCandidates]:
        """The precompute's candidates of every need in a company side not yet swapped in, so
        that no need is left to a first ask's search once it is (empty when nothing precomputes)."""
        if self._precompute_thread is None or not len(companies.main.document_ids):
            return {}
        staged = {}
        for stored in list(self._snapshots["need"].documents.values()):
            if self._closed:
                break
            view = self.query_view(stored.document)
            if view is not None:
                key = self._materialised_key(stored.document, "company", None, self.candidate_pool)
                staged[key] = self._deep_candidates(view, companies)
        return staged

    def _swap(self, snapshot: SideSnapshot, staged: Mapping[tuple, SegmentCandidates] | None = None) -> None:
        """Make `snapshot` current; a main segment it replaces lets go of its ANN index (a
        search still running on the old snapshot is then answered exactly). `staged`: candidates
        the precompute found in the new main segment before it was swapped in."""
        old = self._snapshots[snapshot.side]
        self._snapshots[snapshot.side] = snapshot
        self._materialised.retire(snapshot.side, snapshot.main, staged)
        if snapshot.main is not old.main:
            for index in old.main.ann.values():
                index.close()
        if snapshot.side == "need" or snapshot.main is not old.main:
            self._precompute_wanted.set()  # new needs, or every need's companies to find again

    def _forget_unused_embeddings(self, dropped: Sequence[StoredDocument], kept: Sequence[StoredDocument]) -> None:
        """Delete the cached vectors of the passages of replaced or erased documents, except those
        the new versions still use (an edit keeps most passages). Not scanning every document
        keeps a write cheap at 100,000 companies; the price is that a passage text two different
        documents share is encoded again at the next rebuild."""
        candidates = {h for d in dropped for h in d.passage_hashes}
        candidates -= {h for d in kept for h in d.passage_hashes}
        if candidates:
            self._cache.delete(candidates)

    # ---------- searching ----------
    def match(
        self,
        query: Document | str,
        *,
        target: str,
        allowed_ids: Collection[int] | None = None,
        excluded_ids: Collection[int] = (),
        limit: int = 10,
    ) -> list[Match]:
        """The best `limit` documents of `target` for a stored document or a free text.

        `allowed_ids` (None: all) and `excluded_ids` are database ids of the target side.
        """
        snapshot = self._snapshots[self._side(target)]
        if limit <= 0:
            return []
        excluded = set(excluded_ids)
        if isinstance(query, Document) and query.side == snapshot.side:
            excluded.add(query.id)
        pool = max(self.candidate_pool, limit)
        key = self._materialised_key(query, snapshot.side, allowed_ids, pool)
        view = self.query_view(query)
        if view is None:
            return []
        ranking_key = (snapshot.version, frozenset(excluded), limit)
        ranking = self._materialised.ranking(key, ranking_key) if key is not None else None
        if ranking is None:
            candidates, details = self._scores(view, snapshot, allowed_ids, excluded, pool, key)
            if not len(candidates):
                return []
            ranking = self._rank(view, candidates, details, limit)
            if key is not None:
                self._materialised.keep_ranking(key, ranking_key, ranking)
        return self._explained(view, snapshot, ranking, key)

    def _rank(
        self, view: QueryView, candidates: CandidateScores, details: CandidateDetails, limit: int
    ) -> Ranking:
        fused = fuse(candidates, self.weights)
        order = top_order(fused.total, candidates.document_ids, limit)
        pairs = best_passage_pairs(view, details, order, fused)
        return Ranking(
            ids=tuple(int(i) for i in candidates.document_ids[order]),
            scores=tuple(round(float(total), 6) for total in fused.total[order]),
            pairs=tuple(pairs),
            contributions=fused.contributions[order],
            visible=fused.visible[order],
            bonus=fused.bonus[order],
        )

    def _explained(
        self, view: QueryView, snapshot: SideSnapshot, ranking: Ranking, key: tuple | None
    ) -> list[Match]:
        """The ranked matches with their explanations; the quotes come from what was kept for
        the query where they were made before."""
        query_stems = frozenset(t for tokens in view.tokens for t in tokens)
        matches = []
        for position, (document_id, (query_passage, match_passage)) in enumerate(
                zip(ranking.ids, ranking.pairs, strict=True)):
            stored = snapshot.documents[document_id]
            text_key = (document_id, stored.content_hash, query_passage, match_passage)
            texts = self._materialised.text(key, text_key) if key is not None else None
            if texts is None:
                texts = explanation_texts(
                    query_text=view.document.text,
                    query_language=view.language,
                    query_passage=view.passages[query_passage],
                    query_stems=query_stems,
                    match_text=stored.document.text,
                    match_language=stored.language,
                    match_passage=stored.passages[match_passage],
                    match_forms=self._word_forms[snapshot.side](stored.document.text, stored.language),
                    document_frequency=snapshot.document_frequency,
                )
                if key is not None:
                    self._materialised.keep_text(key, text_key, texts)
            explanation = explain_match(
                texts=texts,
                query_language=view.language,
                match_language=stored.language,
                shared_nld_areas=sorted(set(view.document.nld_areas) & set(stored.document.nld_areas)),
                shared_sectors=sorted(set(view.document.sectors) & set(stored.document.sectors)),
                contributions=ranking.contributions[position],
                visible=ranking.visible[position],
                bonus=float(ranking.bonus[position]),
            )
            matches.append(Match(document_id, ranking.scores[position], explanation))
        return matches

    @staticmethod
    def _materialised_key(query: Document | str, target: Side, allowed_ids, pool: int) -> tuple | None:
        """The key a stored query's kept candidates go by (materialised.py); None: keep nothing.

        Only unfiltered queries and filters given as a frozenset (the needs a company may see,
        one shared object per filter) are kept: a key holds its filter."""
        if not isinstance(query, Document) or query.id == FREE_TEXT_ID:
            return None
        if allowed_ids is not None and not isinstance(allowed_ids, frozenset):
            return None
        if pool > PRECOMPUTE_POOL:  # an exhaustive scan (the evaluation's anchor) is not kept
            return None
        return (target, query.side, query.id, content_hash(query), allowed_ids, pool)

    # ---------- precomputing ----------
    def start_precompute(self) -> None:
        """Keep every need's companies materialised from now on, in a background thread: once
        now, and again after each merge of the company side or write to the needs."""
        if self._precompute_thread is None:
            self._precompute_thread = threading.Thread(
                target=self._precompute_loop, name="matching-precompute", daemon=True)
            self._precompute_thread.start()
        self._precompute_wanted.set()

    def forget_materialised(self) -> None:
        """Drop everything kept (the benchmark's first asks start from nothing)."""
        self._materialised.clear()

    def materialised_bytes(self) -> int:
        return self._materialised.nbytes

    def _precompute_loop(self) -> None:
        while not self._closed:
            self._precompute_wanted.wait()
            self._precompute_wanted.clear()
            if self._closed:
                return
            try:
                self.precompute(yield_to_writes=True)
            except Exception:  # a request finds the candidates itself meanwhile
                logger.exception("precomputing the needs' companies failed")

    def precompute(self, yield_to_writes: bool = False) -> int:
        """Find and keep the main-segment candidates of every need's companies with the deeper
        search (PRECOMPUTE_POOL); returns how many needs it searched. A need already done for
        the current main segment is skipped. `yield_to_writes` (the background thread): a merge
        or need write meanwhile ends the pass, and the next one starts at once."""
        self.read_need_word_forms()
        searched = done = 0
        for stored in list(self._snapshots["need"].documents.values()):
            if self._closed or (yield_to_writes and self._precompute_wanted.is_set()):
                break
            outcome = self._precompute_need(stored)
            searched += outcome == "searched"
            done += outcome != "skipped"
            self.precomputed = max(self.precomputed, done)
        self.precomputed = done
        return searched

    def _precompute_need(self, stored: StoredDocument) -> str:
        """Keep one need's companies as the precompute does: "searched", "done" already (or no
        companies to search), or "skipped" (nothing to search with)."""
        companies = self._snapshots["company"]
        main = companies.main
        key = self._materialised_key(stored.document, "company", None, self.candidate_pool)
        if not len(main.document_ids) or self._materialised.is_thorough(key, main):
            return "done"
        view = self.query_view(stored.document)
        if view is None:
            return "skipped"
        self._materialised.keep(key, self._deep_candidates(view, companies), thorough=True)
        # The first page of matches too, so that its explanations' quotes are kept as well.
        self.match(stored.document, target="company", limit=DEFAULT_LIMIT)
        return "searched"

    def read_need_word_forms(self) -> None:
        """Keep every need's word forms, which each explanation of a company's needs reads
        (0.3 s for the benchmark's 2,000 needs; up to 1.6 s while the stemmer's cache is cold)."""
        forms = self._word_forms["need"]
        for stored in list(self._snapshots["need"].documents.values()):
            if self._closed:
                return
            forms(stored.document.text, stored.language)

    def _deep_candidates(self, view: QueryView, companies: SideSnapshot) -> SegmentCandidates:
        """A need's candidates in the companies' main segment as the precompute keeps them."""
        found = segment_candidates(view, companies.main, companies.main_live, PRECOMPUTE_POOL, 1.0)
        return self._best_of(view, found)

    def _best_of(self, view: QueryView, found: SegmentCandidates) -> SegmentCandidates:
        """The part of a deep search worth keeping: the best PRECOMPUTE_KEEP by fused score and
        each signal's best PRECOMPUTE_KEEP_PER_SIGNAL (they set the scale of the scores)."""
        if len(found.rows) <= PRECOMPUTE_KEEP:
            return found
        candidates, _ = self._with_conditions(view, *combine(view, [found]))  # found holds the scores
        fused = fuse(candidates, self.weights)
        keep = np.zeros(len(found.rows), dtype=bool)
        keep[np.argpartition(-fused.total, PRECOMPUTE_KEEP - 1)[:PRECOMPUTE_KEEP]] = True
        for column in range(found.best.shape[1]):
            scores = np.nan_to_num(found.best[:, column], nan=-np.inf)
            keep[np.argpartition(-scores, PRECOMPUTE_KEEP_PER_SIGNAL - 1)[:PRECOMPUTE_KEEP_PER_SIGNAL]] = True
        return SegmentCandidates(found.segment, found.rows[keep], found.best[keep], found.second[keep])

    def weekly_pairs(self, **kwargs) -> dict:
        """Per need its top companies and per company its top needs, in one batch (weekly.py)."""
        from app.matching.weekly import weekly_pairs

        return weekly_pairs(self, **kwargs)

    def candidate_scores(
        self,
        view: QueryView,
        snapshot: SideSnapshot,
        allowed_ids: Collection[int] | None,
        excluded_id: int | None = None,
        pool: int | None = None,
    ) -> tuple[CandidateScores, CandidateDetails]:
        """Raw per-signal evidence for the candidates of a query (the evaluation uses it directly)."""
        excluded = {excluded_id} if excluded_id is not None else set()
        return self._scores(view, snapshot, allowed_ids, excluded, pool or self.candidate_pool)

    def _scores(
        self, view, snapshot, allowed_ids, excluded, pool, key=None
    ) -> tuple[CandidateScores, CandidateDetails]:
        if key is None:
            return self._with_conditions(view, *score_candidates(view, snapshot, allowed_ids, excluded, pool))

        def main_candidates(view, segment, allowed, pool, share) -> SegmentCandidates:
            if not segment.ann:  # scored whole (ranking.py): nothing a search found to keep
                return segment_candidates(view, segment, allowed, pool, share)
            kept = self._materialised.candidates(key, segment)
            if kept is None:
                kept = segment_candidates(view, segment, allowed, pool, share)
                self._materialised.keep(key, kept)
            return kept

        return self._with_conditions(
            view, *score_candidates(view, snapshot, allowed_ids, excluded, pool, main_candidates))

    def scores_of_rows(
        self, view: QueryView, chosen: Sequence[tuple[Segment, np.ndarray]]
    ) -> tuple[CandidateScores, CandidateDetails]:
        """Per-signal evidence for documents already chosen, as (segment, rows) pairs (weekly.py)."""
        return self._with_conditions(view, *score_rows(view, chosen))

    def _with_conditions(self, view, candidates, details) -> tuple[CandidateScores, CandidateDetails]:
        candidates.conditions = language_conditions(view.language, details.languages)
        candidates.dense_cross_lingual = bool(getattr(self.encoders.get("dense"), "cross_lingual", False))
        return candidates, details

    def snapshot(self, side: str) -> SideSnapshot:
        """The current immutable state of a side (for the evaluation and diagnostics)."""
        return self._snapshots[self._side(side)]

    def query_view(self, query: Document | str) -> QueryView | None:
        """The query's passages, tokens and vectors; a stored document reuses its own."""
        # Free text is encoded as a query (e5 models read a prefix); a document as a passage,
        # the way the documents it is compared with were encoded.
        kind = "query" if isinstance(query, str) else "passage"
        if isinstance(query, str):
            query = Document("need", FREE_TEXT_ID, query)
        if not query.text.strip():
            return None
        # One snapshot for both the document and its vectors: a write may swap it meanwhile.
        side_snapshot = self._snapshots[query.side]
        existing = side_snapshot.documents.get(query.id)
        if existing is not None and existing.document.text == query.text:
            vectors = side_snapshot.vectors_of(query.id)
            return QueryView(query, existing.language, list(existing.passages),
                             [list(t) for t in side_snapshot.tokens_of(query.id)], vectors)
        language = detect_language(query.text)
        passages = split_passages(query.text)
        vectors = {s: e.encode([p.text for p in passages], kind=kind) for s, e in self.encoders.items()}
        return QueryView(query, language, passages, [tokenize(p.text, language) for p in passages], vectors)

    # ---------- persistence ----------
    def _manifest_expectation(self) -> dict:
        return {
            "text_rules_version": TEXT_RULES_VERSION,
            "encoders": {
                name: {"model_id": enc.model_id, "dim": enc.dim} for name, enc in sorted(self.encoders.items())
            },
        }

    def save(self) -> None:
        """Write all sides to `data_dir/index/` atomically (temp folder, fsync, rename)."""
        with self._write_lock:
            kept = {side: [] for side in self._snapshots}
            for side, snapshot in self._snapshots.items():
                for key, candidates in self._materialised.thorough(side, snapshot.main):
                    _, query_side, query_id, query_hash, allowed_ids, pool = key  # see _materialised_key
                    if allowed_ids is None:
                        query = persistence.KeptQuery(query_side, query_id, query_hash, pool)
                        kept[side].append((query, candidates))
            persistence.save(self.data_dir / "index", dict(self._snapshots), self._manifest_expectation(),
                             self.counts(), kept)

    def load_or_build(
        self,
        documents: Mapping[str, Iterable[Document]] | Callable[[str], Iterable[Document]] | None = None,
        progress: bool = False,
    ) -> dict[str, SyncReport]:
        """Load the saved index if it is present and made by the same encoders, then bring each
        side in step with `documents` (the database's view) and save if anything changed.

        A missing or stale index is rebuilt; thanks to the embedding cache, only texts that were
        never encoded are encoded.
        """
        loaded = persistence.load(self.data_dir / "index", self._manifest_expectation(), self.encoders,
                                  self.ann_factory, ann_min_passages=self.ann_min_passages)
        if loaded is not None:
            with self._write_lock:
                for snapshot in loaded.snapshots.values():
                    self._swap(snapshot)
                self._keep_loaded(loaded.kept)
        reports: dict[str, SyncReport] = {}
        if documents is not None:
            for side in SIDES:
                docs = documents(side) if callable(documents) else documents.get(side, ())
                reports[side] = self.sync(side, docs, progress=progress)
        changed = any(r.added or r.updated or r.removed for r in reports.values())
        if changed or loaded is None:
            self.save()
        release_freed_memory()
        return reports

    def _keep_loaded(self, kept: Mapping[str, persistence.KeptCandidates]) -> None:
        """Keep the precompute's saved candidates again, for the queries whose text is still the
        one they were found for: the precompute then skips them."""
        for target, entries in kept.items():
            for query, candidates in entries:
                stored = self._snapshots[query.side].documents.get(query.id)
                if stored is not None and stored.content_hash == query.content_hash:
                    # The layout of _materialised_key, unfiltered.
                    key = (target, query.side, query.id, query.content_hash, None, query.pool)
                    self._materialised.keep(key, candidates, thorough=True)

    # ---------- helpers ----------
    def _empty_segment(self) -> Segment:
        return Segment.empty({name: enc.dim for name, enc in self.encoders.items()})

    def _empty_snapshot(self, side: Side) -> SideSnapshot:
        return SideSnapshot.build(side, self._empty_segment(), self._empty_segment())

    @staticmethod
    def _side(name: str) -> Side:
        try:
            return _TARGET_ALIASES[name]  # type: ignore[return-value]
        except KeyError:
            raise ValueError(f"side must be 'company' or 'need', not {name!r}") from None

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            side: {"documents": len(s.documents), "passages": sum(len(d.passages) for d in s.documents.values()),
                   "delta_documents": len(s.delta.document_ids)}
            for side, s in self._snapshots.items()
        }

    def close(self) -> None:
        """Close the embedding cache and the vector store. Indexes kept outside the process
        (pgvector) stay for the next start: only a merge retires them."""
        self._closed = True
        self._precompute_wanted.set()
        if self._precompute_thread is not None:
            self._precompute_thread.join(timeout=60)
        # A merge in a FAISS build cannot be stopped: it finishes and is dropped (the saved
        # index holds its delta); waiting is bounded.
        self.wait_for_merges(timeout=60)
        self._cache.close()
        close_store = getattr(self.ann_factory, "close", None)
        if close_store is not None:
            close_store()
