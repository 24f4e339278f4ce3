"""What the engine keeps between matches of stored companies and needs ("materialised" matches).

A stored need asks for its companies again and again (an adviser's screen, the scouts, the
pipeline), and at 100,000 companies finding the candidates is most of the cost: two HNSW
searches and BM25 over long posting lists (about 15 ms). The answer changes far less often
than it is asked for, so per stored query the engine keeps:

- its *candidates in the main segment* of the other side, scored exactly. A write does not
  change them: it goes to the delta segment (scored afresh on every match: it is small) and
  only kills main rows, which are dropped from the kept candidates. They stay valid until the
  main segment itself is replaced by a merge. BM25 statistics are the main segment's, so the
  kept scores are the ones a fresh search would compute.
- the quotes and shared words of its explanations, per matched document version and passage
  pair: a match fuses the kept candidates with the delta's afresh (about 1 ms), and most
  explanations then only need new numbers.
- its first page of matches as ranked (ranking.Ranking), for as long as the side it was
  ranked on is the same snapshot: any write makes a new one, and the page is ranked afresh.
- a stored need's pair evidence against its main-segment candidates (pair_scoring.KeptEvidence),
  which ranking the page afresh after a write then reads instead of computing again.

Entries (`MaterialisedKey`) are evicted least recently used first, bounded by bytes, those a
request made before those the precompute made. The engine's background precompute
(precompute.py) fills them for every need after a start or a merge, with a deeper candidate
search than a request can afford; they are saved with the index and kept again when the same
main segment is loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from app.matching.explain import ExplanationTexts
from app.matching.pair_scoring import KeptEvidence
from app.matching.ranking import Ranking, SegmentCandidates
from app.matching.segment import Segment
from app.matching.store import FREE_TEXT_ID, Document, Side, content_hash

# A precomputed need holds about 13 KB of candidates (464 at most, 28 bytes each), 10 KB of
# explanation texts and 10 KB of evidence against its candidates at 100,000 bench companies:
# 96 MB holds 2,000 needs and some companies.
DEFAULT_BUDGET_BYTES = 96 * 2**20
# The quotes and shared words of one explanation with its key: about 830 bytes on the bench's
# corpus (tracemalloc, 2,000 explanations), counted as 1 KB.
TEXT_BYTES = 1024
TEXTS_PER_QUERY = 32
RANKINGS_PER_QUERY = 4  # first pages of one query kept at once (other limits, dismissed companies)
# The precompute searches every need's companies this deep (candidate pool) and keeps what it
# finds; deeper searches (an exhaustive scan, the evaluation's anchor) are never kept. Measured
# on 80 needs at 100,000 bench companies, recall of the top 10 against an exhaustive scan: pool
# 1,000 0.981 (33 ms a need), 2,000 0.990 (50 ms), 4,000 0.991 (83 ms).
PRECOMPUTE_POOL = 2_000


class MaterialisedKey(NamedTuple):
    """Whose kept matches an entry holds: a stored query (by side, id and content hash, so an
    edited need is a new key) asking for matches on the target side with a filter and a pool."""

    target: Side
    query_side: Side
    query_id: int
    content_hash: str
    # None: unfiltered. A filter is kept only as a frozenset (the needs a company may see are
    # one shared object per filter): a key holds its filter.
    allowed_ids: frozenset[int] | None
    pool: int

    @classmethod
    def of(
        cls, query: Document | str, target: Side, allowed_ids: Collection[int] | None, pool: int
    ) -> MaterialisedKey | None:
        """The key of a query's kept matches; None: nothing is kept for it (free text, a filter
        that is not a frozenset, or a search deeper than the precompute's)."""
        if not isinstance(query, Document) or query.id == FREE_TEXT_ID:
            return None
        if allowed_ids is not None and not isinstance(allowed_ids, frozenset):
            return None
        if pool > PRECOMPUTE_POOL:
            return None
        return cls(target, query.side, query.id, content_hash(query), allowed_ids, pool)


class TextKey(NamedTuple):
    """One explained match of a kept query: the matched document's version and passage pair."""

    match_id: int
    content_hash: str
    query_passage: int
    match_passage: int


class RankingKey(NamedTuple):
    """One first page of a kept query: ranked on this version of the side, with these ids
    excluded and this many matches."""

    version: int
    excluded_ids: frozenset[int]
    limit: int


@dataclass
class _Entry:
    # None: no candidates to keep (a side scored whole, ranking.py), only rankings and texts
    candidates: SegmentCandidates | None
    thorough: bool  # found by the precompute's deeper search (never None then)
    texts: dict[TextKey, ExplanationTexts] = field(default_factory=dict)
    # For the newest snapshot version only
    rankings: dict[RankingKey, Ranking] = field(default_factory=dict)
    evidence: KeptEvidence | None = None  # a stored need's, against companies of the main segment
    # What the entry adds to the budget's count: its nbytes when last counted. What it holds
    # may grow in place (a need's kept evidence), so the count takes back what it added.
    counted: int = 0

    @property
    def nbytes(self) -> int:
        ranked = sum(ranking.nbytes for ranking in self.rankings.values())
        found = self.candidates.nbytes if self.candidates is not None else 0
        evidence = self.evidence.nbytes if self.evidence is not None else 0
        return found + TEXT_BYTES * len(self.texts) + ranked + evidence


class MaterialisedMatches:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._entries: dict[MaterialisedKey, _Entry] = {}
        # Least recently used first, one order per kind: a request's own entries are evicted
        # before the precompute's deeper ones, without looking at every entry.
        self._recency: dict[bool, OrderedDict[MaterialisedKey, None]] = {False: OrderedDict(), True: OrderedDict()}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def candidates(self, key: MaterialisedKey, main: Segment) -> SegmentCandidates | None:
        """The kept main-segment candidates of `key`, if they were found in this main segment."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.candidates is None or entry.candidates.segment is not main:
                self.misses += 1
                return None
            self._recency[entry.thorough].move_to_end(key)
            self.hits += 1
            return entry.candidates

    def is_thorough(self, key: MaterialisedKey | None, main: Segment) -> bool:
        """Whether the precompute's candidates of `key` in `main` are kept."""
        if key is None:
            return False
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.thorough and entry.candidates is not None and (
                entry.candidates.segment is main)

    def keep(self, key: MaterialisedKey, candidates: SegmentCandidates, thorough: bool = False) -> None:
        if self.budget_bytes <= 0:
            return
        with self._lock:
            old = self._entries.get(key)
            if old is not None and old.thorough and not thorough and old.candidates is not None and (
                    old.candidates.segment is candidates.segment):
                return  # a request's quick search never replaces the precompute's deeper one
            self._drop(key)
            entry = self._entries[key] = _Entry(candidates, thorough)
            self._recency[thorough][key] = None
            self._count(entry)
            self._evict()

    def thorough(self, side: Side, main: Segment) -> dict[MaterialisedKey, SegmentCandidates]:
        """The precompute's candidates kept in `main`, the main segment of `side` (to be saved
        with it, so that a restart does not search them again)."""
        with self._lock:
            return {key: entry.candidates for key, entry in self._entries.items()
                    if key.target == side and entry.thorough and entry.candidates is not None
                    and entry.candidates.segment is main}

    def text(self, key: MaterialisedKey, text_key: TextKey) -> ExplanationTexts | None:
        """The explanation texts kept for one match of `key` (explain.explanation_texts)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry.texts.get(text_key) if entry is not None else None

    def keep_text(self, key: MaterialisedKey, text_key: TextKey, texts: ExplanationTexts) -> None:
        def add(entry: _Entry) -> None:
            if len(entry.texts) >= TEXTS_PER_QUERY:
                entry.texts.clear()  # stale ones (matches that left the list) go with the rest
            entry.texts[text_key] = texts

        self._grow(key, add)

    def ranking(self, key: MaterialisedKey, ranking_key: RankingKey) -> Ranking | None:
        """The first page ranked for `key` under `ranking_key`, if it was ranked on that version
        of the side."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or ranking_key not in entry.rankings:
                return None
            self._recency[entry.thorough].move_to_end(key)
            self.hits += 1
            return entry.rankings[ranking_key]

    def keep_ranking(self, key: MaterialisedKey, ranking_key: RankingKey, ranking: Ranking) -> None:
        def add(entry: _Entry) -> None:
            version = ranking_key.version
            if len(entry.rankings) >= RANKINGS_PER_QUERY or any(k.version != version for k in entry.rankings):
                entry.rankings = {}  # ranked on a snapshot a write has replaced since, or too many
            entry.rankings[ranking_key] = ranking

        self._grow(key, add)

    def evidence(self, key: MaterialisedKey, segment: Segment) -> KeptEvidence | None:
        """The pair evidence kept for `key` against companies of `segment`, if there is some."""
        with self._lock:
            entry = self._entries.get(key)
            kept = entry.evidence if entry is not None else None
        return kept if kept is not None and kept.segment is segment else None

    def keep_evidence(self, key: MaterialisedKey, evidence: KeptEvidence) -> None:
        """Keep the pair evidence of `key` (again, once it holds more: it is counted anew)."""

        def add(entry: _Entry) -> None:
            entry.evidence = evidence

        self._grow(key, add)

    def _grow(self, key: MaterialisedKey, add: Callable[[_Entry], None]) -> None:
        """``add(entry)`` to the entry of `key` (a new one without candidates if there is
        none), keeping the bytes counted."""
        if self.budget_bytes <= 0:
            return
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:  # evicted only below, once it holds what it is made for
                entry = self._entries[key] = _Entry(None, thorough=False)
                self._recency[False][key] = None
            add(entry)
            self._count(entry)
            self._evict()

    def retire(
        self, side: Side, main: Segment, staged: Mapping[MaterialisedKey, SegmentCandidates] | None = None
    ) -> None:
        """`side` has a new snapshot with main segment `main`: candidates kept for any other main
        segment are stale (and would keep a replaced segment in memory). `staged`: the
        precompute's candidates found in `main` before it was swapped in, kept from now on; an
        entry they replace keeps its explanation texts (they name document versions, not rows)."""
        staged = staged or {}
        with self._lock:
            for key, entry in list(self._entries.items()):
                stale = entry.candidates is not None and entry.candidates.segment is not main
                if key.target == side and stale and key not in staged:
                    self._drop(key)
            for key, candidates in staged.items():
                old = self._entries.get(key)
                self._drop(key)
                if self.budget_bytes > 0:
                    entry = self._entries[key] = _Entry(candidates, True, texts=old.texts if old else {})
                    self._recency[True][key] = None
                    self._count(entry)
            self._evict()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            for order in self._recency.values():
                order.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def _evict(self) -> None:
        for thorough in (False, True):  # a request's own entries first, least recently used first
            order = self._recency[thorough]
            while self._bytes > self.budget_bytes and order:
                self._drop(next(iter(order)))

    def _count(self, entry: _Entry) -> None:
        """Count `entry` at what it holds now (the lock is held)."""
        now = entry.nbytes
        self._bytes += now - entry.counted
        entry.counted = now

    def _drop(self, key: MaterialisedKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.counted
            del self._recency[entry.thorough][key]
