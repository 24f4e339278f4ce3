"""BM25 over passages, with Dutch and English stemming chosen per passage (tokens come in stemmed).

The scores are those of bm25s's default ("lucene" BM25, k1 = 1.5, b = 0.75; a test checks
they agree), computed here as one sparse matrix of per-(passage, stem) weights so that
- the engine can score only the candidate passages of a query (a sparse row slice), instead
  of every passage of the side;
- candidates can be found from a query's most distinctive stems only (`top_passages`): a
  common stem ("defensie") has a posting list as long as the corpus and adds little;
- a small segment of recent writes can be weighted with the statistics of the big one
  (`LexicalIndex(tokens, statistics=big.statistics)`), so its scores are comparable without
  rebuilding the big one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

K1, B = 1.5, 0.75
# An empty passage is indexed as one placeholder token no query produces (as bm25s needs).
EMPTY_PASSAGE_TOKEN = " "


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
        token_ids, lengths = [], np.zeros(self.size, dtype=np.float32)
        for position, tokens in enumerate(passage_tokens):
            tokens = tokens or (EMPTY_PASSAGE_TOKEN,)
            lengths[position] = len(tokens)
            token_ids.append([self.vocabulary.setdefault(t, len(self.vocabulary)) for t in tokens])
        flat = np.fromiter((t for ids in token_ids for t in ids), dtype=np.int64)
        rows = np.repeat(np.arange(self.size, dtype=np.int64), [len(ids) for ids in token_ids])
        pairs, term_frequency = np.unique(rows * max(1, len(self.vocabulary)) + flat, return_counts=True)
        pair_rows, pair_terms = np.divmod(pairs, max(1, len(self.vocabulary)))
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
        shape = (self.size, len(self.vocabulary))
        self.by_passage = sparse.csr_matrix((weights.astype(np.float32), (pair_rows, pair_terms)), shape=shape)
        self.by_term = self.by_passage.tocsc()

    def query_counts(self, token_lists: Sequence[Sequence[str]]) -> sparse.csr_matrix:
        """(queries, vocabulary) counts of the known stems of each token list."""
        data, rows, cols = [], [], []
        for row, tokens in enumerate(token_lists):
            for token in tokens:
                column = self.vocabulary.get(token)
                if column is not None:
                    rows.append(row)
                    cols.append(column)
                    data.append(1.0)
        return sparse.csr_matrix(
            (np.array(data, np.float32), (rows, cols)), shape=(len(token_lists), len(self.vocabulary))
        )

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of each passage (float32, zeros when nothing overlaps or nothing is indexed)."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        return self.scores_of(np.arange(self.size), [query_tokens])[:, 0]

    def scores_of(self, positions: np.ndarray, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
        """(len(positions), len(token_lists)) BM25 scores of the given passages only."""
        if not len(positions) or not len(token_lists) or not self.vocabulary:
            return np.zeros((len(positions), len(token_lists)), dtype=np.float32)
        counts = self.query_counts(token_lists)
        return np.asarray((self.by_passage[positions] @ counts.T).todense(), dtype=np.float32)

    def distinctive_terms(self, tokens: Sequence[str], limit: int) -> np.ndarray:
        """Vocabulary ids of the `limit` rarest known stems among `tokens`."""
        ids = np.unique([self.vocabulary[t] for t in tokens if t in self.vocabulary]).astype(np.int64)
        if len(ids) > limit:
            ids = ids[np.argsort(-self.idf[ids], kind="stable")[:limit]]
        return ids

    def top_passages(self, tokens: Sequence[str], limit: int, max_terms: int) -> tuple[np.ndarray, np.ndarray]:
        """Candidate passages: the best `limit` by the summed weights of the query's most
        distinctive stems (positions, scores); only passages with some overlap."""
        terms = self.distinctive_terms(tokens, max_terms)
        if not len(terms):
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        summed = np.asarray(self.by_term[:, terms].sum(axis=1)).ravel()
        hits = np.flatnonzero(summed)
        if len(hits) > limit:
            hits = hits[np.argpartition(-summed[hits], limit - 1)[:limit]]
        return hits, summed[hits].astype(np.float32)
