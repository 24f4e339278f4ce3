"""The evidence about one need × company pair, computed the same way whichever side asks.

Every number here is a function of the pair alone (and of corpus statistics that are the
same from both sides), never of the other candidates of a query: so the pair model
(pair_model.py) gives a pair one score on the need page, the company page, in a search
and in an export.

Canonical direction: the need is the query and the company the document; BM25 is weighted
with the company side's statistics. A free-text search is the query and the searched side's
record the document. Cosines are symmetric.

Per pair, from the passage-pair scores of each signal:
- `dense`, `multilingual`: the best passage-pair cosine of each encoder;
- `bm25`: the best passage-pair BM25 (as the engine's ranking computes it);
- `bm25_fraction`: the best over passage pairs of BM25 divided by the query passage's IDF
  mass (the sum of the IDF of its stems, its most a BM25 score can be), so 0–1 and
  comparable between queries; within one query it orders like BM25 where the query has one
  passage;
- `conditions`: the pair's language condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from app.matching.lexical import CorpusStatistics

# Language condition of a pair (need language × company language): both texts Dutch, both
# English, one of each, or at least one text whose language is not known (a one-line
# profile). Both directions across languages share one condition: the development data hold
# too few pairs of each to tell them apart.
DUTCH, ENGLISH, CROSS_LANGUAGE, UNKNOWN_LANGUAGE = 0, 1, 2, 3
CONDITION_NAMES = ("nl-nl", "en-en", "cross", "unknown")


def pair_conditions(query_language: str, document_languages: np.ndarray) -> np.ndarray:
    """The condition code of each document's pair with a query of `query_language`."""
    document_languages = np.asarray(document_languages)
    conditions = np.full(len(document_languages), UNKNOWN_LANGUAGE, dtype=np.int8)
    if query_language not in ("nl", "en"):
        return conditions
    known = np.isin(document_languages, ("nl", "en"))
    same = known & (document_languages == query_language)
    conditions[same] = DUTCH if query_language == "nl" else ENGLISH
    conditions[known & ~same] = CROSS_LANGUAGE
    return conditions


def query_mass(statistics: CorpusStatistics, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """Per query passage the sum of the IDF of its stems (each as often as it occurs), under
    the document side's statistics; a stem the side never saw counts with the highest IDF.

    It bounds BM25 from above (each stem adds at most its IDF here: lexical.py has no
    (k1 + 1) factor), so BM25 / mass is in [0, 1). It depends on the query and the side's
    statistics only: a need's mass is the same for every company and can be kept per need.
    """
    frequency = statistics.document_frequency
    masses = np.zeros(len(token_lists), dtype=np.float32)
    for position, tokens in enumerate(token_lists):
        if tokens:
            counts = np.fromiter((frequency.get(t, 0) for t in tokens), dtype=np.float32, count=len(tokens))
            masses[position] = float(statistics.idf(counts).sum())
    return masses


@dataclass(frozen=True)
class PairEvidence:
    """Raw per-pair evidence for n pairs (one row per pair)."""

    dense: np.ndarray  # (n,) best passage-pair cosine, NaN where the signal is missing
    multilingual: np.ndarray  # (n,)
    bm25: np.ndarray  # (n,) best passage-pair BM25
    bm25_fraction: np.ndarray  # (n,) best BM25 / query passage mass, 0–1
    conditions: np.ndarray  # (n,) condition codes (CONDITION_NAMES)

    def __len__(self) -> int:
        return len(self.bm25)

    def take(self, rows: np.ndarray) -> PairEvidence:
        return PairEvidence(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @classmethod
    def concatenate(cls, parts: Sequence[PairEvidence]) -> PairEvidence:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


def per_document_maxima(scores: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(documents, query passages) maxima of a (document passages, query passages) matrix
    whose rows are laid out document after document, `counts` rows each (every count ≥ 1)."""
    starts = np.cumsum(counts) - counts
    if not scores.shape[1]:
        return np.zeros((len(counts), 0), np.float32)
    return np.maximum.reduceat(scores, starts, axis=0)


def bm25_evidence(maxima: np.ndarray, mass: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best BM25 and best fraction of the query passage's mass per document, from its
    per-query-passage maxima (documents, query passages) and the query passages' masses."""
    if not maxima.shape[1]:
        return np.zeros(len(maxima), np.float32), np.zeros(len(maxima), np.float32)
    safe = np.where(mass > 0, mass, np.float32(1.0))
    fraction = np.where(mass > 0, maxima / safe, 0.0).max(axis=1)
    return maxima.max(axis=1).astype(np.float32), fraction.astype(np.float32)


def pair_evidence(
    passage_scores: Mapping[str, np.ndarray],
    counts: np.ndarray,
    mass: np.ndarray,
    conditions: np.ndarray,
) -> PairEvidence:
    """Evidence for documents from their passage-pair scores against one query.

    `passage_scores`: signal ("bm25", "dense", "multilingual") → (document passages, query
    passages) raw scores, rows document after document with `counts` rows each; `mass`: the
    query passages' IDF masses (query_mass); `conditions`: per document.
    """
    n = len(counts)

    def best_cosine(signal: str) -> np.ndarray:
        scores = passage_scores.get(signal)
        if scores is None or not scores.size:
            return np.full(n, np.nan, dtype=np.float32)
        best: np.ndarray = per_document_maxima(scores, counts).max(axis=1).astype(np.float32)
        return best

    bm25_scores = passage_scores.get("bm25")
    if bm25_scores is None:
        bm25_scores = np.zeros((int(counts.sum()), len(mass)), np.float32)
    best, fraction = bm25_evidence(per_document_maxima(bm25_scores, counts), mass)
    return PairEvidence(best_cosine("dense"), best_cosine("multilingual"), best, fraction,
                        np.asarray(conditions, dtype=np.int8))
