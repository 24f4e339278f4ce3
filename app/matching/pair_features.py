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
- `conditions`: the pair's language condition;
- `ranks`: per signal (RANK_SIGNALS) the reciprocal-rank-fusion term 1 / (RRF_K + rank) of the
  pair's value among the need's values over the whole company side (for a search: the text's
  over the side it searches), unfiltered. The rank is a number of the need, like its context
  (pair_model.py): the need keeps its RANK_DEPTH best values of each signal (`signal_tops`), a
  pair is ranked against them (`rank_terms`), and a value below all of them, or no evidence at
  all, ranks RANK_DEPTH + 1. So a pair has one rank from every side that asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

import numpy as np

from app.matching.calibration import RRF_K
from app.matching.lexical import CorpusStatistics

# Language condition of a pair (need language × company language): both texts Dutch, both
# English, one of each, or at least one text whose language is not known (a one-line
# profile). Both directions across languages share one condition: the development data hold
# too few pairs of each to tell them apart.
DUTCH, ENGLISH, CROSS_LANGUAGE, UNKNOWN_LANGUAGE = 0, 1, 2, 3
CONDITION_NAMES = ("nl-nl", "en-en", "cross", "unknown")

# The signals a pair is ranked by, and how deep a need's ranking of each is kept.
RANK_SIGNALS = ("bm25", "dense", "multilingual")
RANK_DEPTH = 50


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
    # (n, len(RANK_SIGNALS)) rank terms (see the module's doc); NaN until ranked (`ranked`)
    ranks: np.ndarray = field(default_factory=lambda: np.zeros((0, len(RANK_SIGNALS)), np.float32))

    def __post_init__(self) -> None:
        if len(self.ranks) != len(self.bm25):
            object.__setattr__(self, "ranks", np.full((len(self.bm25), len(RANK_SIGNALS)), np.nan, np.float32))

    def __len__(self) -> int:
        return len(self.bm25)

    def signal_values(self) -> np.ndarray:
        """(n, len(RANK_SIGNALS)) each pair's value of each ranked signal; -inf where the pair
        has no evidence of it (a missing cosine, no shared stem)."""
        values = np.column_stack([self.bm25, self.dense, self.multilingual]).astype(np.float32)
        values[:, 0][values[:, 0] <= 0] = -np.inf
        return np.where(np.isnan(values), np.float32(-np.inf), values)

    def ranked(self, tops: np.ndarray) -> PairEvidence:
        """These pairs with their rank terms against `tops` (signal_tops of their need: one
        array for all, or one per pair stacked)."""
        return replace(self, ranks=rank_terms(self.signal_values(), tops))

    def take(self, rows: np.ndarray) -> PairEvidence:
        return PairEvidence(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    @classmethod
    def concatenate(cls, parts: Sequence[PairEvidence]) -> PairEvidence:
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


def row_maxima(scores: np.ndarray) -> np.ndarray:
    """Maximum of each row of a tall matrix of a few columns, column by column (numpy's
    max(axis=1) is many times slower on such a matrix); 0 for rows of no columns."""
    if not scores.shape[1]:
        return np.zeros(len(scores), np.float32)
    best = scores[:, 0].astype(np.float32)
    for column in range(1, scores.shape[1]):
        np.maximum(best, scores[:, column], out=best)
    return best


def per_document_best(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The best of each document's passages, laid out document after document (counts ≥ 1)."""
    if len(values) == len(counts):  # one passage each: nothing to reduce
        return values
    best: np.ndarray = np.maximum.reduceat(values, np.cumsum(counts) - counts)
    return best


def pair_evidence(
    passage_scores: Mapping[str, np.ndarray],
    counts: np.ndarray,
    mass: np.ndarray,
    conditions: np.ndarray,
) -> PairEvidence:
    """Evidence for documents from their passage-pair scores against one query.

    `passage_scores`: signal ("bm25", "dense", "multilingual") → (document passages, query
    passages) raw scores, rows document after document with `counts` rows each (every count
    ≥ 1); `mass`: the query passages' IDF masses (query_mass); `conditions`: per document.
    """
    n = len(counts)

    def best_pair(scores: np.ndarray | None) -> np.ndarray:
        if scores is None or not scores.size:
            return np.full(n, np.nan, dtype=np.float32)
        return per_document_best(row_maxima(scores), counts)

    bm25_scores = passage_scores.get("bm25")
    bm25 = np.nan_to_num(best_pair(bm25_scores), nan=0.0)
    if bm25_scores is None or not bm25_scores.size:
        fraction = np.zeros(n, np.float32)
    else:
        # BM25 / mass of each query passage; a query passage without mass has no BM25 either.
        inverse = np.divide(np.float32(1.0), mass, out=np.zeros(len(mass), np.float32), where=mass > 0)
        fraction = per_document_best(row_maxima(bm25_scores * inverse[None, :]), counts)
    return PairEvidence(best_pair(passage_scores.get("dense")), best_pair(passage_scores.get("multilingual")),
                        bm25, fraction, np.asarray(conditions, dtype=np.int8))


def signal_tops(evidence: PairEvidence) -> np.ndarray:
    """(len(RANK_SIGNALS), RANK_DEPTH) a query's best values of each signal, highest first,
    from its evidence against the documents of a whole side that could be among them (every
    signal's best RANK_DEPTH at least); -inf where there are fewer."""
    values = evidence.signal_values()
    tops = np.full((len(RANK_SIGNALS), RANK_DEPTH), -np.inf, np.float32)
    depth = min(RANK_DEPTH, len(values))
    if depth:
        best = -np.sort(-values, axis=0)[:depth]
        tops[:, :depth] = best.T
    return tops


def rank_terms(values: np.ndarray, tops: np.ndarray) -> np.ndarray:
    """1 / (RRF_K + rank) per pair and signal, the rank being 1 + how many of the need's kept
    values are higher; a pair without evidence of a signal ranks RANK_DEPTH + 1.

    `values`: (n, signals) from PairEvidence.signal_values; `tops`: (signals, depth) for one
    need, or (n, signals, depth) one need per pair."""
    if tops.ndim == 3:
        higher = (tops > values[..., None]).sum(axis=-1)
    else:  # one need: a binary search per signal in its ascending values
        higher = np.column_stack([
            tops.shape[1] - np.searchsorted(tops[s][::-1], values[:, s], side="right")
            for s in range(tops.shape[0])]).reshape(values.shape)
    higher = np.where(np.isneginf(values), RANK_DEPTH, higher)
    terms: np.ndarray = (1.0 / (RRF_K + 1.0 + higher)).astype(np.float32)
    return terms
