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

A key starts with the target side, then names the query by side, id and content hash (an
edited need is a new key), the filter (allowed ids) and the candidate pool. Entries are evicted
least recently used first, bounded by bytes, those a request made before those the precompute
made. The engine's background precompute (engine.MatchEngine.precompute) fills them for every
need after a start or a merge, with a deeper candidate search than a request can afford; they
are saved with the index and kept again when the same main segment is loaded.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field

from app.matching.ranking import Ranking, SegmentCandidates
from app.matching.segment import Segment

# A precomputed need holds about 13 KB of candidates (464 at most, 28 bytes each) and 15 KB of
# explanation texts at 100,000 bench companies: 64 MB holds 2,000 needs and some companies.
DEFAULT_BUDGET_BYTES = 64 * 2**20
TEXT_BYTES = 1536  # the quotes and shared words of one explanation, about (tracemalloc)
TEXTS_PER_QUERY = 32
RANKINGS_PER_QUERY = 4  # first pages of one query kept at once (other limits, dismissed companies)


@dataclass
class _Entry:
    # None: no candidates to keep (a side scored whole, ranking.py), only rankings and texts
    candidates: SegmentCandidates | None
    thorough: bool  # found by the precompute's deeper search (never None then)
    # (match id, its content hash, query passage, match passage) → explain.explanation_texts
    texts: dict = field(default_factory=dict)
    # (snapshot version, excluded ids, limit) → Ranking, for the newest snapshot version only
    rankings: dict = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        ranked = sum(ranking.nbytes for ranking in self.rankings.values())
        found = self.candidates.nbytes if self.candidates is not None else 0
        return found + TEXT_BYTES * len(self.texts) + ranked


class MaterialisedMatches:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._entries: dict[Hashable, _Entry] = {}
        # Least recently used first, one order per kind: a request's own entries are evicted
        # before the precompute's deeper ones, without looking at every entry.
        self._recency: dict[bool, OrderedDict[Hashable, None]] = {False: OrderedDict(), True: OrderedDict()}
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def candidates(self, key: Hashable, main: Segment) -> SegmentCandidates | None:
        """The kept main-segment candidates of `key`, if they were found in this main segment."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.candidates is None or entry.candidates.segment is not main:
                self.misses += 1
                return None
            self._recency[entry.thorough].move_to_end(key)
            self.hits += 1
            return entry.candidates

    def is_thorough(self, key: Hashable, main: Segment) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.thorough and entry.candidates.segment is main

    def keep(self, key: Hashable, candidates: SegmentCandidates, thorough: bool = False) -> None:
        if self.budget_bytes <= 0:
            return
        with self._lock:
            old = self._entries.get(key)
            same_segment = old is not None and old.candidates is not None and (
                old.candidates.segment is candidates.segment)
            if same_segment and old.thorough and not thorough:
                return  # a request's quick search never replaces the precompute's deeper one
            self._drop(key)
            self._entries[key] = _Entry(candidates, thorough)
            self._recency[thorough][key] = None
            self._bytes += candidates.nbytes
            self._evict()

    def thorough(self, side: str, main: Segment) -> list[tuple[Hashable, SegmentCandidates]]:
        """The precompute's candidates kept in `main`, the main segment of `side` (to be saved
        with it, so that a restart does not search them again)."""
        with self._lock:
            return [(key, entry.candidates) for key, entry in self._entries.items()
                    if key[0] == side and entry.thorough and entry.candidates.segment is main]

    def text(self, key: Hashable, text_key: Hashable) -> dict | None:
        """The explanation texts kept for one match of `key` (explain.explanation_texts)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry.texts.get(text_key) if entry is not None else None

    def keep_text(self, key: Hashable, text_key: Hashable, texts: dict) -> None:
        def add(entry: _Entry) -> None:
            if len(entry.texts) >= TEXTS_PER_QUERY:
                entry.texts.clear()  # stale ones (matches that left the list) go with the rest
            entry.texts[text_key] = texts

        self._grow(key, add)

    def ranking(self, key: Hashable, ranking_key: tuple) -> Ranking | None:
        """The first page ranked for `key` under ``ranking_key`` (snapshot version, excluded
        ids, limit), if it was ranked on that version of the side."""
        with self._lock:
            entry = self._entries.get(key)
            ranking = entry.rankings.get(ranking_key) if entry is not None else None
            if ranking is not None:
                self._recency[entry.thorough].move_to_end(key)
                self.hits += 1
            return ranking

    def keep_ranking(self, key: Hashable, ranking_key: tuple, ranking: Ranking) -> None:
        def add(entry: _Entry) -> None:
            version = ranking_key[0]
            if len(entry.rankings) >= RANKINGS_PER_QUERY or any(k[0] != version for k in entry.rankings):
                entry.rankings = {}  # ranked on a snapshot a write has replaced since, or too many
            entry.rankings[ranking_key] = ranking

        self._grow(key, add)

    def _grow(self, key: Hashable, add) -> None:
        """``add(entry)`` to the entry of `key` (a new one without candidates if there is
        none), keeping the bytes counted."""
        if self.budget_bytes <= 0:
            return
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:  # evicted only below, once it holds what it is made for
                entry = self._entries[key] = _Entry(None, thorough=False)
                self._recency[False][key] = None
            self._bytes -= entry.nbytes
            add(entry)
            self._bytes += entry.nbytes
            self._evict()

    def retire(
        self, side: str, main: Segment, staged: Mapping[Hashable, SegmentCandidates] | None = None
    ) -> None:
        """`side` has a new snapshot with main segment `main`: candidates kept for any other main
        segment are stale (and would keep a replaced segment in memory). `staged`: the
        precompute's candidates found in `main` before it was swapped in, kept from now on; an
        entry they replace keeps its explanation texts (they name document versions, not rows)."""
        staged = staged or {}
        with self._lock:
            for key, entry in list(self._entries.items()):
                stale = entry.candidates is not None and entry.candidates.segment is not main
                if key[0] == side and stale and key not in staged:
                    self._drop(key)
            for key, candidates in staged.items():
                old = self._entries.get(key)
                self._drop(key)
                if self.budget_bytes > 0:
                    entry = self._entries[key] = _Entry(candidates, True, texts=old.texts if old else {})
                    self._recency[True][key] = None
                    self._bytes += entry.nbytes
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

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.nbytes
            del self._recency[entry.thorough][key]
