"""BM25 over passages (bm25s), with Dutch and English stemming chosen per passage.

bm25s has no incremental add, so a `LexicalIndex` is immutable and rebuilt from its passages
whenever they change; tokens are kept so the rebuild costs only the BM25 statistics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import bm25s
import numpy as np

logger = logging.getLogger(__name__)


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

    def overlaps(self, query_tokens: Sequence[str]) -> bool:
        """Whether any query stem occurs in the indexed passages at all."""
        return any(t in self._vocabulary for t in query_tokens)

    def top_k(self, query_tokens: Sequence[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions and scores of the best k passages with a score above zero, best first."""
        scores = self.scores(query_tokens)
        k = max(0, min(k, self.size))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return top.astype(np.int64), scores[top]
