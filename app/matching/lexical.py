"""BM25 over passages, with Dutch and English stemming chosen per passage (tokens come in stemmed).

The scores are those of bm25s's default ("lucene" BM25, k1 = 1.5, b = 0.75; a test checks
they agree), computed here from the per-(passage, stem) weights, held twice as plain arrays
(by passage and by stem, like a sparse matrix in CSR and CSC form) so that
- the engine can score only the candidate passages of a query, instead of every passage of
  the side;
- candidates can be found from a query's most distinctive stems only (`top_passages`): a
  common stem ("defensie") has a posting list as long as the corpus and adds little;
- a small segment of recent writes can be weighted with the statistics of the big one
  (`LexicalIndex(tokens, statistics=big.statistics)`), so its scores are comparable without
  rebuilding the big one.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

K1, B = 1.5, 0.75
# Up to this many token lists (query passages) BM25 sums one list at a time (measured on the
# bench's needs: 0.15 ms against 0.29 for a profile's two passages; 2.9 against 0.85 ms for a
# call's fourteen).
FEW_LISTS = 3
# An empty passage is indexed as one placeholder token no query produces (as bm25s indexes it,
# so that the scores stay equal to bm25s's).
EMPTY_PASSAGE_TOKEN = " "
FAST_ORDER_MAX_KEYS = 4_000_000  # postings sorted the faster way (_stable_order): 32 MB of keys


class PassageHits(NamedTuple):
    positions: np.ndarray  # passage positions, in no particular order
    scores: np.ndarray  # their summed BM25 weights


@dataclass(frozen=True)
class CorpusStatistics:
    """What BM25 weights depend on besides the passage itself."""

    passages: int
    mean_length: float
    document_frequency: dict[str, int]  # stem → passages containing it

    def idf(self, frequency: np.ndarray) -> np.ndarray:
        return np.log(1.0 + (self.passages - frequency + 0.5) / (frequency + 0.5)).astype(np.float32)


class LexicalIndex:
    """BM25 weights of every (passage, stem), by passage position."""

    def __init__(
        self, passage_tokens: Sequence[Sequence[str]], statistics: CorpusStatistics | None = None
    ) -> None:
        self.size = len(passage_tokens)
        self.vocabulary: dict[str, int] = {}
        self._terms: list[str] | None = None  # vocabulary ids → stems, made when first asked
        passage_tokens = [tokens or (EMPTY_PASSAGE_TOKEN,) for tokens in passage_tokens]
        counts = np.fromiter(map(len, passage_tokens), dtype=np.int64, count=self.size)
        pair_rows, pair_terms, term_frequency = self._passage_stem_pairs(passage_tokens, counts)
        self._weigh(pair_rows, pair_terms, term_frequency, counts.astype(np.float32), statistics)

    def extended(
        self, keep: np.ndarray, added: Sequence[Sequence[str]], statistics: CorpusStatistics | None = None
    ) -> LexicalIndex:
        """The index of this one's kept passages (`keep`: a bool per passage) followed by the
        `added` ones: what `LexicalIndex(kept passages' tokens + added, statistics)` holds, up to
        the order of its vocabulary ids, without reading the kept passages' stems again (a write
        to the segment of recent writes would otherwise re-read all of it)."""
        index = LexicalIndex.__new__(LexicalIndex)
        kept = int(keep.sum())
        index.size = kept + len(added)
        index.vocabulary = dict(self.vocabulary)
        index._terms = None
        pair_passage = np.repeat(np.arange(self.size), np.diff(self.passage_start))
        kept_pairs = keep[pair_passage]
        added = [tokens or (EMPTY_PASSAGE_TOKEN,) for tokens in added]
        counts = np.fromiter(map(len, added), dtype=np.int64, count=len(added))
        added_rows, added_terms, added_frequency = index._passage_stem_pairs(added, counts)
        renumbered_rows = np.cumsum(keep) - 1
        pair_rows = np.concatenate([renumbered_rows[pair_passage[kept_pairs]], added_rows + kept]).astype(np.int32)
        pair_terms = np.concatenate([self.term_of[kept_pairs], added_terms]).astype(np.int32)
        term_frequency = np.concatenate([self.frequency_of[kept_pairs].astype(np.float32), added_frequency])
        used = np.bincount(pair_terms, minlength=len(index.vocabulary)) > 0
        if not used.all():  # stems only the dropped passages had leave the vocabulary
            renumbered = np.cumsum(used) - 1
            pair_terms = renumbered[pair_terms].astype(np.int32)
            index.vocabulary = {term: int(renumbered[i]) for term, i in index.vocabulary.items() if used[i]}
        lengths = np.bincount(pair_rows, weights=term_frequency, minlength=index.size).astype(np.float32)
        index._weigh(pair_rows, pair_terms, term_frequency, lengths, statistics)
        return index

    def _weigh(
        self, pair_rows: np.ndarray, pair_terms: np.ndarray, term_frequency: np.ndarray, lengths: np.ndarray,
        statistics: CorpusStatistics | None,
    ) -> None:
        """Every (passage, stem) pair's BM25 weight, held by passage and by stem. The pairs come
        in passage order; `lengths` is each passage's number of tokens."""
        own_frequency = np.bincount(pair_terms, minlength=len(self.vocabulary))
        terms = list(self.vocabulary)
        # Rarity of each stem in these passages (explanations sort shared words by it).
        self.document_frequency = {t: int(own_frequency[i]) for i, t in enumerate(terms) if t != EMPTY_PASSAGE_TOKEN}
        self.statistics = statistics or CorpusStatistics(
            self.size, float(lengths.mean()) if self.size else 1.0, self.document_frequency
        )
        if statistics is None:
            frequency = own_frequency.astype(np.float32)
        else:  # a stem the big segment never saw counts with its frequency here
            frequency = np.array(
                [statistics.document_frequency.get(t, own_frequency[i]) for i, t in enumerate(terms)], np.float32
            )
        self.idf = self.statistics.idf(frequency)
        length_norm = K1 * (1 - B + B * lengths[pair_rows] / self.statistics.mean_length)
        weights = self.idf[pair_terms] * term_frequency / (length_norm + term_frequency)
        # By passage: the stems of passage p are term_of[passage_start[p]:passage_start[p + 1]],
        # each occurring frequency_of[…] times in it.
        self.passage_start = _starts(pair_rows, self.size)
        self.term_of = pair_terms.astype(np.int32)
        self.frequency_of = term_frequency.astype(np.uint16)
        self.weight_by_passage = weights.astype(np.float32)
        # By stem: the passages of stem t are passage_of[term_start[t]:term_start[t + 1]].
        by_term = _stable_order(pair_terms)
        self.term_start = _starts(pair_terms[by_term], len(self.vocabulary))
        self.passage_of = pair_rows[by_term].astype(np.int32)
        self.weight_by_term = self.weight_by_passage[by_term]

    # The arrays of a saved index besides its stems and their frequencies (see `saved`).
    SAVED_ARRAYS = ("idf", "passage_start", "term_of", "frequency_of", "weight_by_passage", "term_start",
                    "passage_of", "weight_by_term")

    def saved(self) -> dict[str, np.ndarray]:
        """The index as arrays to save (np.savez), for `from_saved`: building the postings of
        100,000 companies at load took 160 MiB above what the index keeps, the start-up peak
        of the server's memory. Only for an index weighted with its own statistics."""
        terms = list(self.vocabulary)
        return {
            "size": np.array(self.size),
            "mean_length": np.array(self.statistics.mean_length),
            "terms": np.array(terms, dtype=str),
            "frequency": np.array([self.document_frequency.get(t, 0) for t in terms], dtype=np.int64),
            **{name: getattr(self, name) for name in self.SAVED_ARRAYS},
        }

    @classmethod
    def from_saved(cls, arrays: Mapping[str, np.ndarray]) -> LexicalIndex:
        """The index `saved` gave these arrays of (ValueError when they do not fit together)."""
        index = cls.__new__(cls)  # nothing to build: every field comes from the arrays
        index.size = int(arrays["size"])
        terms = [sys.intern(str(term)) for term in arrays["terms"]]
        index.vocabulary = {term: i for i, term in enumerate(terms)}
        index._terms = terms
        index.document_frequency = {
            term: int(frequency) for term, frequency in zip(terms, arrays["frequency"], strict=True)
            if term != EMPTY_PASSAGE_TOKEN
        }
        mean_length = float(arrays["mean_length"])
        index.statistics = CorpusStatistics(index.size, mean_length, index.document_frequency)
        for name in cls.SAVED_ARRAYS:
            setattr(index, name, arrays[name])
        pairs = len(index.term_of)
        fits = (
            len(index.passage_start) == index.size + 1 and index.passage_start[-1] == pairs
            and len(index.term_start) == len(terms) + 1 and index.term_start[-1] == pairs
            and len(index.idf) == len(terms)
            and len(index.weight_by_passage) == len(index.passage_of) == len(index.weight_by_term) == pairs
            and len(index.frequency_of) == pairs
        )
        if not fits:
            raise ValueError("saved BM25 arrays do not fit together")
        return index

    def stems_of(self, position: int) -> tuple[str, ...]:
        """The stems of one passage as a bag: each as often as it occurs there, grouped rather
        than in reading order. Everything that reads a passage's stems counts them (BM25, its
        rarest stems, the stems two passages share), so a bag answers exactly what the
        tokenized text would."""
        if self._terms is None:
            self._terms = list(self.vocabulary)
        start, end = self.passage_start[position], self.passage_start[position + 1]
        terms = self._terms
        ids = np.repeat(self.term_of[start:end], self.frequency_of[start:end])
        stems = tuple(terms[i] for i in ids.tolist())
        return () if stems == (EMPTY_PASSAGE_TOKEN,) else stems

    def _passage_stem_pairs(
        self, passage_tokens: Sequence[Sequence[str]], counts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every distinct (passage, stem) with the stem's count in the passage, in passage order,
        filling the vocabulary on the way.

        Built in place on one array of 20 million keys at 100,000 companies: a Python int per
        token, or np.unique's copies, made this the peak of loading a saved index.
        """
        new_id = self.vocabulary.setdefault
        keys = np.fromiter(
            (new_id(t, len(self.vocabulary)) for tokens in passage_tokens for t in tokens),
            dtype=np.int64, count=int(counts.sum()),
        )
        stems = max(1, len(self.vocabulary))
        keys += np.repeat(np.arange(len(counts), dtype=np.int64) * stems, counts)  # passage * stems + stem
        keys.sort()
        first = np.empty(len(keys), dtype=bool)
        first[:1] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        del first
        term_frequency = np.diff(starts, append=len(keys)).astype(np.float32)
        pair_rows, pair_terms = np.divmod(keys[starts], stems)
        return pair_rows.astype(np.int32), pair_terms.astype(np.int32), term_frequency

    def query_counts(self, token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The known stems of the token lists (sorted vocabulary ids) and how often each list
        has each of them: (stems, (stems, lists) counts)."""
        pairs = [(self.vocabulary[t], column) for column, tokens in enumerate(token_lists)
                 for t in tokens if t in self.vocabulary]
        if not pairs:
            return np.zeros(0, np.int64), np.zeros((0, len(token_lists)), np.float32)
        ids, columns = np.array(pairs, dtype=np.int64).T
        stems, local = np.unique(ids, return_inverse=True)
        counts = np.zeros((len(stems), len(token_lists)), np.float32)
        np.add.at(counts, (local, columns), 1.0)
        return stems, counts

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of each passage (float32, zeros when nothing overlaps or nothing is indexed)."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        return self.scores_of(np.arange(self.size), [query_tokens])[:, 0]

    def scores_of(self, positions: np.ndarray, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """(len(positions), len(token_lists)) BM25 scores of the given passages only (positions
        without repeats).

        Read from whichever side is shorter: the stems of those passages, or the passages of
        the query's stems (most of a small segment, or a query of rare stems)."""
        if not len(positions) or not len(token_lists) or not self.vocabulary:
            return np.zeros((len(positions), len(token_lists)), dtype=np.float32)
        stems, counts = self.query_counts(token_lists)
        if not len(stems):
            return np.zeros((len(positions), len(token_lists)), dtype=np.float32)
        postings = int((self.term_start[stems + 1] - self.term_start[stems]).sum())
        if postings < int((self.passage_start[positions + 1] - self.passage_start[positions]).sum()):
            entries, local = ranges_of(self.term_start, stems)
            slot = np.full(self.size, -1, dtype=np.int64)
            slot[positions] = np.arange(len(positions))
            owner = slot[self.passage_of[entries]]
            wanted = owner >= 0
            owner, local, weights = owner[wanted], local[wanted], self.weight_by_term[entries[wanted]]
        else:
            entries, owner = ranges_of(self.passage_start, positions)
            terms = self.term_of[entries]
            local = np.minimum(np.searchsorted(stems, terms), len(stems) - 1)
            hit = stems[local] == terms
            owner, local, weights = owner[hit], local[hit], self.weight_by_passage[entries[hit]]
        return _summed_per_list(owner, local, weights, counts, len(positions))

    def distinctive_terms(self, tokens: Sequence[str], limit: int, max_postings: int | None = None) -> np.ndarray:
        """Vocabulary ids of the `limit` rarest known stems among `tokens`; with `max_postings`,
        only as many of them (rarest first) as occur in at most that many passages together."""
        ids = np.unique([self.vocabulary[t] for t in tokens if t in self.vocabulary]).astype(np.int64)
        ids = ids[np.argsort(-self.idf[ids], kind="stable")[:limit]]
        if max_postings is not None and len(ids):
            postings = np.cumsum(self.term_start[ids + 1] - self.term_start[ids])
            ids = ids[: max(1, int(np.searchsorted(postings, max_postings, side="right")))]
        return ids

    def top_passages(
        self, tokens: Sequence[str], limit: int, max_terms: int, max_postings: int | None = None
    ) -> PassageHits:
        """Candidate passages: the best `limit` by the summed weights of the query's most
        distinctive stems; only passages with some overlap.

        `max_postings` bounds the work at any corpus size: the rarest stems are read first, and
        reading stops before the posting lists together exceed it.
        """
        terms = self.distinctive_terms(tokens, max_terms, max_postings)
        if not len(terms):
            return PassageHits(np.zeros(0, np.int64), np.zeros(0, np.float32))
        entries, _ = ranges_of(self.term_start, terms)
        summed = np.bincount(self.passage_of[entries], self.weight_by_term[entries], minlength=self.size)
        hits = np.flatnonzero(summed)
        if len(hits) > limit:
            hits = hits[np.argpartition(-summed[hits], limit - 1)[:limit]]
        return PassageHits(hits, summed[hits].astype(np.float32))


def _summed_per_list(
    owner: np.ndarray, local: np.ndarray, weights: np.ndarray, counts: np.ndarray, size: int
) -> np.ndarray:
    """(size, lists) sums of weight × count: each (owner, query stem `local`, weight) entry
    counts for every token list that has the stem, as often as it has it. One pass over the
    entries however many lists there are (a long call has thirty passages); for a few lists,
    one pass per list is cheaper."""
    lists = counts.shape[1]
    if lists <= FEW_LISTS:
        per_list = [np.bincount(owner, weights * counts[local, column], minlength=size) for column in range(lists)]
        return np.stack(per_list, axis=1).astype(np.float32)
    pair_stem, pair_list = np.nonzero(counts)  # the (stem, list) pairs with a count, by stem
    pair_count = counts[pair_stem, pair_list]
    pairs, entries = ranges_of(_starts(pair_stem, counts.shape[0]), local)  # each entry × its stem's pairs
    sums = np.bincount(owner[entries] * lists + pair_list[pairs], weights[entries] * pair_count[pairs],
                       minlength=size * lists)
    scores: np.ndarray = sums.reshape(size, lists).astype(np.float32)
    return scores


def _stable_order(keys: np.ndarray) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` of non-negative int32 keys. Each key with its position
    in the low 32 bits is unique, and sorting those numbers (not their order) is several times
    faster (a write to the segment of recent writes sorts its 300,000 postings: 21 → 3.6 ms); a
    big segment's 20 million keys sort stably instead of adding 160 MB to its build."""
    if len(keys) > FAST_ORDER_MAX_KEYS:
        return np.argsort(keys, kind="stable")
    order: np.ndarray = np.sort(keys.astype(np.int64) << 32 | np.arange(len(keys), dtype=np.int64)) & 0xFFFFFFFF
    return order


def _starts(sorted_keys: np.ndarray, size: int) -> np.ndarray:
    """Offsets (size + 1) of each key's run in `sorted_keys` (keys 0..size-1)."""
    starts = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(sorted_keys, minlength=size), out=starts[1:])
    return starts


def ranges_of(starts: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entry indices of the runs of `keys` (concatenated) and, per entry, its key's index in `keys`."""
    first, lengths = starts[keys], starts[keys + 1] - starts[keys]
    owner = np.repeat(np.arange(len(keys)), lengths)
    entries = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths) + first[owner]
    return entries, owner
