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
- its *finished results* (with explanations) per excluded-ids/limit, valid for as long as the
  other side's snapshot is the same object: no write at all since.

A key starts with the target side, then names the query by side, id and content hash (an edited need is a new key), the filter
(allowed ids) and the candidate pool. Entries are evicted least recently used first, bounded
by bytes. The engine's background precompute (engine.MatchEngine.precompute) fills them for
every need after a start or a merge, with a deeper candidate search than a request can afford.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field

from app.matching.ranking import SegmentCandidates
from app.matching.segment import Segment

# About 15 KB per need at 100,000 bench companies (a few hundred candidates, 28 bytes each):
# 64 MB holds every need several times over and a few thousand companies.
DEFAULT_BUDGET_BYTES = 64 * 2**20
RESULT_VARIANTS = 8  # finished results kept per query (excluded ids × limit)
MATCH_BYTES = 2048  # what one finished match with its explanation holds, about


@dataclass
class _Entry:
    candidates: SegmentCandidates
    thorough: bool  # found by the precompute's deeper search
    results: OrderedDict = field(default_factory=OrderedDict)  # variant → (snapshot, matches)

    @property
    def nbytes(self) -> int:
        return self.candidates.nbytes + MATCH_BYTES * sum(len(m) for _, m in self.results.values())


class MaterialisedMatches:
    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def candidates(self, key: Hashable, main: Segment) -> SegmentCandidates | None:
        """The kept main-segment candidates of `key`, if they were found in this main segment."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.candidates.segment is not main:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
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
            if old is not None and old.thorough and not thorough and old.candidates.segment is candidates.segment:
                return  # a request's quick search never replaces the precompute's deeper one
            self._drop(key)
            self._entries[key] = _Entry(candidates, thorough)
            self._bytes += candidates.nbytes
            self._evict()

    def result(self, key: Hashable, variant: Hashable, snapshot: object) -> list | None:
        """Finished matches of `key` for `variant`, if computed on this very snapshot."""
        with self._lock:
            entry = self._entries.get(key)
            found = entry.results.get(variant) if entry is not None else None
            if found is None or found[0] is not snapshot:
                return None
            self.hits += 1
            return found[1]

    def keep_result(self, key: Hashable, variant: Hashable, snapshot: object, matches: list) -> None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return
            self._bytes -= entry.nbytes
            entry.results[variant] = (snapshot, matches)
            entry.results.move_to_end(variant)
            while len(entry.results) > RESULT_VARIANTS:
                entry.results.popitem(last=False)
            self._bytes += entry.nbytes
            self._evict()

    def retire(self, side: str, main: Segment) -> None:
        """A write to `side` swapped in a new snapshot with main segment `main`: finished
        results on that side are stale, and so are candidates of any other main segment (they
        would also keep a replaced segment in memory)."""
        with self._lock:
            for key, entry in list(self._entries.items()):
                if key[0] != side:
                    continue
                if entry.candidates.segment is not main:
                    self._drop(key)
                elif entry.results:
                    self._bytes -= entry.nbytes
                    entry.results.clear()
                    self._bytes += entry.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def _evict(self) -> None:
        while self._bytes > self.budget_bytes and self._entries:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry.nbytes
