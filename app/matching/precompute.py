"""Every need's companies found in advance: a serving engine keeps them materialised
(materialised.py), found with a deeper search than a request can afford, so that a need's first
ask is answered from kept candidates like any other.

A background thread searches every need once the index is loaded, and again after each merge of
the company side (a new main segment) or write to the needs; a need written through the API is
searched when its write is applied (writes.py).

Several processes share the work through `SharedCandidates` (services/shared_precompute.py):
one of them searches and publishes the companies it kept per need; the others score those
companies in their own main segment (with the ones the searching process had not seen), which
costs a small share of a search.
"""

from __future__ import annotations

import logging
import threading
from enum import StrEnum
from typing import NamedTuple, Protocol

import numpy as np

from app.matching.fusion import fuse
from app.matching.materialised import PRECOMPUTE_POOL, MaterialisedKey
from app.matching.ranking import QueryView, SegmentCandidates, combine, exact_candidates, segment_candidates
from app.matching.search import Searcher
from app.matching.segment import Segment
from app.matching.state import EngineState
from app.matching.store import SideSnapshot, StoredDocument

logger = logging.getLogger(__name__)

# Of what the deep search (PRECOMPUTE_POOL) finds, the PRECOMPUTE_KEEP best by fused score are
# kept, plus each signal's PRECOMPUTE_KEEP_PER_SIGNAL best, which fix the scaling (fusion.py).
PRECOMPUTE_KEEP = 300
PRECOMPUTE_KEEP_PER_SIGNAL = 64
DEFAULT_LIMIT = 10  # the first page of matches the endpoints show
# A process that does not search asks again for what another found this often (seconds).
SHARED_POLL_SECONDS = 2.0


class PrecomputeOutcome(StrEnum):
    SEARCHED = "searched"  # its companies were searched and kept
    SHARED = "shared"  # the companies another process found were scored and kept
    WAITING = "waiting"  # another process searches it: not found there yet
    DONE = "done"  # kept already for the current main segment, or no companies to search
    SKIPPED = "skipped"  # nothing to search with (a need without text)


class Found(NamedTuple):
    """What the process that searches found for a need: the companies to score (`company_ids`),
    or `wait` (not yet found), or neither (this process searches itself)."""

    company_ids: np.ndarray | None = None
    wait: bool = False


class SharedCandidates(Protocol):
    """The precompute of several processes that share it."""

    def searching(self) -> bool:
        """Whether this process searches (and publishes) rather than taking what another found."""
        ...

    def found(self, need: StoredDocument, main: Segment) -> Found:
        """The companies of ``main`` to score for ``need`` as another process found them."""
        ...

    def publish(self, need: StoredDocument, main: Segment, company_ids: np.ndarray) -> None:
        """The companies this process kept for ``need``, searched in ``main``."""
        ...

    def flush(self) -> None:
        """Publish what ``publish`` gathered."""
        ...


class Precomputer:
    def __init__(self, state: EngineState, searcher: Searcher) -> None:
        self.state = state
        self.searcher = searcher
        self._thread: threading.Thread | None = None
        self.precomputed = 0  # needs whose companies the last pass found kept
        self.shared: SharedCandidates | None = None  # several processes share the work
        self.searched = self.taken = 0  # needs searched here, and taken from another process, so far
        self._waiting = False  # the last pass waited for another process's companies
        self._was_searching = False
        self._stopping = False

    @property
    def running(self) -> bool:
        """Whether the background thread keeps every need's companies (a serving engine)."""
        return self._thread is not None

    def start(self) -> None:
        """Keep every need's companies materialised from now on, in a background thread: once
        now, and again after each merge of the company side or write to the needs."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="matching-precompute", daemon=True)
            self._thread.start()
        self.state.precompute_wanted.set()

    def join(self, timeout: float) -> None:
        """Wait for the background thread to end (the engine is closing)."""
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def stop(self, timeout: float) -> None:
        """End the background thread and wait for it, the engine staying open: a process that
        lets go of the shared work must not take it back with its next look at the lease."""
        self._stopping = True
        self.state.precompute_wanted.set()  # also ends a pass under way (it yields as to a write)
        self.join(timeout)
        if self._thread is not None and not self._thread.is_alive():
            self._thread, self._stopping = None, False

    def _ending(self) -> bool:
        return self.state.closed or self._stopping

    def _loop(self) -> None:
        wanted = self.state.precompute_wanted
        while not self._ending():
            # Shared: look again now and then (what another process found, whether it still searches).
            woken = wanted.wait(SHARED_POLL_SECONDS if self.shared is not None else None)
            wanted.clear()
            if self._ending():
                return
            try:
                if self.shared is not None:
                    was_searching = self.shared.searching()  # also keeps (or takes over) the work
                    if not (woken or self._waiting or was_searching != self._was_searching):
                        continue
                    self._was_searching = was_searching
                self.run(yield_to_writes=True)
            except Exception:  # a request finds the candidates itself meanwhile
                logger.exception("precomputing the needs' companies failed")

    def run(self, yield_to_writes: bool = False) -> int:
        """Find and keep the main-segment candidates of every need's companies with the deeper
        search (PRECOMPUTE_POOL); returns how many needs it searched. A need already done for
        the current main segment is skipped. `yield_to_writes` (the background thread): a merge
        or need write meanwhile ends the pass, and the next one starts at once."""
        self.read_needs_for_company_pages()
        searched = done = 0
        outcomes: set[PrecomputeOutcome] = set()
        try:
            for stored in list(self.state.snapshots["need"].documents.values()):
                if self.state.closed or (yield_to_writes and self.state.precompute_wanted.is_set()):
                    break
                outcome = self.need(stored)
                outcomes.add(outcome)
                searched += outcome == PrecomputeOutcome.SEARCHED
                done += outcome not in (PrecomputeOutcome.SKIPPED, PrecomputeOutcome.WAITING)
                self.precomputed = max(self.precomputed, done)
        finally:
            if self.shared is not None:
                self.shared.flush()
        self.precomputed = done
        self._waiting = PrecomputeOutcome.WAITING in outcomes
        return searched

    def need(self, stored: StoredDocument) -> PrecomputeOutcome:
        """Keep one need's companies as the precompute does."""
        companies = self.state.snapshots["company"]
        main = companies.main
        key = self.key_of(stored)
        # No key: requests search deeper than the precompute would, so it keeps nothing.
        if key is None or not len(main.document_ids):
            return PrecomputeOutcome.DONE
        if self.state.materialised.is_thorough(key, main):
            self._publish_kept(stored, key, main)
            # Candidates loaded with a saved index come without the first page, its quotes and
            # the need's context: made here, not by the need's first ask (a no-op once kept).
            self.searcher.match(stored.document, target="company", limit=DEFAULT_LIMIT)
            return PrecomputeOutcome.DONE
        view = self.searcher.query_view(stored.document)
        if view is None:
            return PrecomputeOutcome.SKIPPED
        candidates, outcome = self._candidates(stored, view, companies)
        if candidates is None:
            return outcome
        self.state.materialised.keep(key, candidates, thorough=True)
        # The first page of matches too, so that its explanations' quotes are kept as well.
        self.searcher.match(stored.document, target="company", limit=DEFAULT_LIMIT)
        return outcome

    def _candidates(
        self, stored: StoredDocument, view: QueryView, companies: SideSnapshot
    ) -> tuple[SegmentCandidates | None, PrecomputeOutcome]:
        """A need's kept companies in the main segment of ``companies``: taken from the process
        that searches when the work is shared, else searched here (and published)."""
        if self.shared is not None and not self.shared.searching():
            found = self.shared.found(stored, companies.main)
            if found.wait:
                return None, PrecomputeOutcome.WAITING
            if found.company_ids is not None:
                self.taken += 1
                return self.scored(view, companies, found.company_ids), PrecomputeOutcome.SHARED
        candidates = self.deep_candidates(view, companies)
        self.searched += 1
        if self.shared is not None and self.shared.searching():
            self.shared.publish(stored, companies.main, candidates.segment.document_ids[candidates.rows])
        return candidates, PrecomputeOutcome.SEARCHED

    def _publish_kept(self, stored: StoredDocument, key: MaterialisedKey, main: Segment) -> None:
        """Publish candidates kept already (found before a restart, or taken over from another
        process), when this process is the one that searches."""
        if self.shared is not None and self.shared.searching():
            kept = self.state.materialised.candidates(key, main)
            if kept is not None:
                self.shared.publish(stored, main, main.document_ids[kept.rows])

    def scored(self, view: QueryView, companies: SideSnapshot, company_ids: np.ndarray) -> SegmentCandidates:
        """These companies of the main segment, the live ones, scored exactly and kept as the
        precompute keeps what it searched."""
        main = companies.main
        rows = np.array(sorted({main.row_of[i] for i in company_ids.tolist() if i in main.row_of}), dtype=np.int64)
        rows = rows[companies.main_live[rows]] if len(rows) else rows
        return self._best_of(view, exact_candidates(view, main, rows))

    def key_of(self, stored: StoredDocument) -> MaterialisedKey | None:
        """The key a request for this need's companies finds its kept matches by."""
        return MaterialisedKey.of(stored.document, "company", None, self.state.candidate_pool)

    def read_needs_for_company_pages(self) -> None:
        """Keep what every company's page reads of the needs: their word forms, for the
        explanations (0.3 s for the benchmark's 2,000 needs; up to 1.6 s while the stemmer's
        cache is cold), and every need as a query against the companies' main segment
        (pair_scoring.need_side), which the first company page after a start or a merge would
        otherwise make (0.28 s at 10,000 companies against 12–23 ms for the next pages)."""
        needs = self.state.snapshots["need"]
        forms = self.state.word_forms["need"]
        for stored in list(needs.documents.values()):
            if self.state.closed:
                return
            forms(stored.document.text, stored.language)
        self.state.pairs.need_side(needs, self.state.snapshots["company"])

    def stage(self, companies: SideSnapshot) -> dict[MaterialisedKey, SegmentCandidates]:
        """The precompute's candidates of every need in a company side not yet swapped in, so
        that no need is left to a first ask's search once it is (empty when nothing precomputes)."""
        if not self.running or not len(companies.main.document_ids):
            return {}
        staged = {}
        try:
            for stored in list(self.state.snapshots["need"].documents.values()):
                if self.state.closed:
                    break
                view = self.searcher.query_view(stored.document)
                key = self.key_of(stored)
                if view is not None and key is not None:
                    candidates, _ = self._candidates(stored, view, companies)
                    if candidates is not None:
                        staged[key] = candidates
        finally:
            if self.shared is not None:
                self.shared.flush()
        return staged

    @property
    def waiting(self) -> bool:
        """Whether the last pass left needs for another process to find first."""
        return self._waiting

    def deep_candidates(self, view: QueryView, companies: SideSnapshot) -> SegmentCandidates:
        """A need's candidates in the companies' main segment as the precompute keeps them."""
        found = segment_candidates(view, companies.main, companies.main_live, PRECOMPUTE_POOL, 1.0)
        return self._best_of(view, found)

    def _best_of(self, view: QueryView, found: SegmentCandidates) -> SegmentCandidates:
        """The part of a deep search worth keeping: the best PRECOMPUTE_KEEP by fused score and
        each signal's best PRECOMPUTE_KEEP_PER_SIGNAL (they set the scale of the scores)."""
        if len(found.rows) <= PRECOMPUTE_KEEP:
            return found
        scored = self.searcher.with_conditions(view, combine(view, [found]))  # found holds the scores
        fused = fuse(scored.scores, self.state.weights)
        keep = np.zeros(len(found.rows), dtype=bool)
        keep[np.argpartition(-fused.total, PRECOMPUTE_KEEP - 1)[:PRECOMPUTE_KEEP]] = True
        for column in range(found.best.shape[1]):
            scores = np.nan_to_num(found.best[:, column], nan=-np.inf)
            keep[np.argpartition(-scores, PRECOMPUTE_KEEP_PER_SIGNAL - 1)[:PRECOMPUTE_KEEP_PER_SIGNAL]] = True
        return SegmentCandidates(found.segment, found.rows[keep], found.best[keep], found.second[keep])
