"""BM25 over passages (bm25s), with Dutch and English stemming chosen per passage.

bm25s has no incremental add, so a `LexicalIndex` is immutable and rebuilt from its passages
whenever they change; tokens are kept so the rebuild costs only the BM25 statistics.
"""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np


class LexicalIndex:
    """BM25 scores of a query against every passage, by passage position."""

    def __init__(self, passage_tokens: Sequence[Sequence[str]]) -> None:
        self.size = len(passage_tokens)
        self._retriever: bm25s.BM25 | None = None
        self._vocabulary: dict[str, int] = {}
        # Document frequency of each stem (in passages), used to rank shared terms by rarity.
        self.document_frequency: dict[str, int] = {}
        for tokens in passage_tokens:
            for token in set(tokens):
                self.document_frequency[token] = self.document_frequency.get(token, 0) + 1
        if self.size and any(passage_tokens):
            retriever = bm25s.BM25()
            # bm25s wants every passage to hold at least one token; an empty one gets a
            # placeholder that no query produces (queries never contain a space).
            retriever.index([list(t) if t else [" "] for t in passage_tokens], show_progress=False)
            self._retriever = retriever
            self._vocabulary = retriever.vocab_dict

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of each passage (float32, zeros when nothing overlaps or nothing is indexed)."""
        if self._retriever is None:
            return np.zeros(self.size, dtype=np.float32)
        token_ids = [self._vocabulary[t] for t in query_tokens if t in self._vocabulary]
        if not token_ids:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._retriever.get_scores_from_ids(token_ids), dtype=np.float32)
