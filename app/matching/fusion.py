"""Fusing the per-signal scores of a query's candidates into one ranking. Pure functions.

Three signals score each (query, candidate document) pair: BM25 on stemmed words, a dense
English model and a multilingual model. A signal can be *blind* for a pair:
- the English-only dense model when query and document are in different languages;
- BM25 when the pair is not in one known language and no word overlaps (a Dutch query has
  nothing to say lexically about an English call).
A blind signal is left out of that pair's weighted mean instead of counting as a zero, so it
never drags a good match down. Across languages shared words are one-sided evidence: BM25
joins a pair's mean only where it lifts it (see `fuse`), so a weak or chance shared stem never
lowers a pair below what the other signals give it. Weights depend on the pair's language
condition and were tuned on the development split (see `FUSION_WEIGHTS`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

SIGNALS = ("bm25", "dense", "multilingual")
BM25, DENSE, MULTILINGUAL = range(3)

# Language condition of a (query, document) pair.
SAME_LANGUAGE, CROSS_LANGUAGE, UNKNOWN_LANGUAGE = 0, 1, 2


def language_conditions(query_language: str, document_languages: np.ndarray) -> np.ndarray:
    """SAME/CROSS/UNKNOWN_LANGUAGE for each document, given its detected language code."""
    document_languages = np.asarray(document_languages)
    conditions = np.full(len(document_languages), UNKNOWN_LANGUAGE, dtype=np.int8)
    if query_language == "unknown":
        return conditions
    known = document_languages != "unknown"
    conditions[known & (document_languages == query_language)] = SAME_LANGUAGE
    conditions[known & (document_languages != query_language)] = CROSS_LANGUAGE
    return conditions


@dataclass(frozen=True)
class SignalWeights:
    bm25: float
    dense: float
    multilingual: float

    def as_array(self) -> np.ndarray:
        return np.array([self.bm25, self.dense, self.multilingual], dtype=np.float32)


@dataclass(frozen=True)
class FusionWeights:
    """All tunable numbers of the ranking in one place."""

    same_language: SignalWeights
    cross_language: SignalWeights
    unknown_language: SignalWeights
    # Added to the fused score (0–1) per shared NLD area / sector, each count capped at 2.
    shared_nld_bonus: float = 0.0
    shared_sector_bonus: float = 0.0
    # A document scores its best passage plus this share of its second best.
    second_passage_share: float = 0.0

    def by_condition(self) -> np.ndarray:
        """Rows SAME/CROSS/UNKNOWN_LANGUAGE × columns SIGNALS."""
        return np.stack(
            [self.same_language.as_array(), self.cross_language.as_array(), self.unknown_language.as_array()]
        )


# Tuned by `python scripts/eval_tune.py eval/dev.yaml` (coordinate search from equal weights
# on the 32 dev queries of the development set, multilingual weight fixed at 1 as the common
# scale); the run, the held-out test numbers and the ablations are in eval/RESULTS.md. Reading
# them:
# - same language: the three signals count equally (leaning on one gained nothing on dev);
# - cross language: the English model is blind by rule (the 1.0 below is never used unless the
#   dense model is multilingual); BM25 counts only where it lifts the pair (see `fuse`), and
#   then it counts three times as much as the multilingual model: a rare name or term both
#   texts use ("post-quantum") is strong evidence across languages. Anything from 2 to 10
#   scores within 0.001 of the tuned objective;
# - unknown language (one-line profiles): BM25 as heavy as the multilingual model where it
#   lifts the pair, the English model a little;
# - a shared sector lifts a match by 0.05 per sector (at most two); shared NLD areas did not
#   help on the dev queries; a document is scored by its best passage alone.
FUSION_WEIGHTS = FusionWeights(
    same_language=SignalWeights(bm25=1.0, dense=1.0, multilingual=1.0),
    cross_language=SignalWeights(bm25=3.0, dense=1.0, multilingual=1.0),
    unknown_language=SignalWeights(bm25=1.0, dense=0.25, multilingual=1.0),
    shared_nld_bonus=0.0,
    shared_sector_bonus=0.05,
    second_passage_share=0.0,
)

MAX_COUNTED_SHARED = 2


@dataclass
class CandidateScores:
    """Raw evidence for the candidates of one query (one row per candidate document)."""

    document_ids: np.ndarray  # (n,) int64
    best: np.ndarray  # (n, 3) best passage-pair score per signal (NaN: signal not available)
    second: np.ndarray  # (n, 3) second-best document passage score per signal (0 when none)
    conditions: np.ndarray  # (n,) SAME/CROSS/UNKNOWN_LANGUAGE
    shared_nld_areas: np.ndarray  # (n,) count
    shared_sectors: np.ndarray  # (n,) count
    dense_cross_lingual: bool = False  # the dense encoder reads across languages

    def __len__(self) -> int:
        return len(self.document_ids)


@dataclass
class FusedScores:
    total: np.ndarray  # (n,) final score
    contributions: np.ndarray  # (n, 3) each signal's part of the weighted mean
    shares: np.ndarray  # (n, 3) each signal's weight in the pair's mean (0 when blind)
    bonus: np.ndarray  # (n,) structured bonus
    visible: np.ndarray = field(repr=False)  # (n, 3) whether the signal saw the pair and counted in its score
    # Per signal the low end and spread its scores were scaled with (normalisation_bounds).
    low: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(len(SIGNALS), np.float32))
    spread: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(len(SIGNALS), np.float32))


def document_scores(candidates: CandidateScores, second_passage_share: float) -> np.ndarray:
    """Raw per-signal document scores: best passage plus a share of the second best."""
    if not second_passage_share:
        return candidates.best
    scores: np.ndarray = candidates.best + second_passage_share * np.nan_to_num(candidates.second)
    return scores


# Cosine scores are scaled from the score of this many-th best candidate, not from the worst:
# the worst depends on how many candidates were looked at (every document in an exhaustive
# scan, a few hundred from the ANN), the NORMALISATION_DEPTH-th best hardly does, so both
# give the same ranking. Anything below it scales to 0.
NORMALISATION_DEPTH = 50


def normalisation_bounds(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per signal column: the low end and the spread used to scale it to 0–1 for this query.

    BM25 is scaled from zero (a zero score means "no shared words", not "the worst of this
    list"); cosine scores from the NORMALISATION_DEPTH-th best candidate (the lowest when there
    are fewer). A column without spread gets spread 0.
    """
    low = np.zeros(raw.shape[1], dtype=np.float32)
    spread = np.zeros(raw.shape[1], dtype=np.float32)
    for column in range(raw.shape[1]):
        values = raw[:, column][np.isfinite(raw[:, column])]
        if not len(values):
            continue
        if column != BM25:
            depth = min(NORMALISATION_DEPTH, len(values))
            low[column] = np.partition(values, len(values) - depth)[len(values) - depth]
        spread[column] = values.max() - low[column]
    return low, spread


def scale(values: np.ndarray, low: float, spread: float) -> np.ndarray:
    """Scale raw scores of one signal to 0–1 with a query's bounds. Without spread, every
    positive score is 1: a lone candidate is as good as the best one."""
    values = np.asarray(values, dtype=np.float32)
    values = np.where(np.isnan(values), np.float32(0.0), values)  # np.nan_to_num costs 20 µs a call
    if spread > 1e-9:
        return np.clip((values - low) / spread, 0.0, 1.0)
    return (values > 0).astype(np.float32)


def normalise_per_query(raw: np.ndarray, bounds: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Min–max scale each signal column over the query's candidates (see normalisation_bounds):
    `scale` on every column, in one pass over the matrix."""
    low, spread = bounds if bounds is not None else normalisation_bounds(raw)
    values = np.asarray(raw, dtype=np.float32)
    values = np.where(np.isnan(values), np.float32(0.0), values)
    has_spread = spread > 1e-9
    normalised: np.ndarray = np.clip((values - low) / np.where(has_spread, spread, np.float32(1.0)), 0.0, 1.0)
    for column in np.flatnonzero(~has_spread):
        normalised[:, column] = values[:, column] > 0
    return normalised


def row_sums(matrix: np.ndarray) -> np.ndarray:
    """Sums of the rows of a tall matrix of a few columns, added column by column: the same
    additions in the same order as matrix.sum(axis=1), which numpy does ten times slower."""
    total = matrix[:, 0].copy()
    for column in range(1, matrix.shape[1]):
        total += matrix[:, column]
    return total


def visibility(candidates: CandidateScores) -> np.ndarray:
    """(n, 3) booleans: can each signal judge each pair at all?"""
    visible: np.ndarray = np.isfinite(candidates.best)
    if not candidates.dense_cross_lingual:
        visible[:, DENSE] &= candidates.conditions != CROSS_LANGUAGE
    overlap = candidates.best[:, BM25] > 0  # NaN: BM25 not available
    visible[:, BM25] &= overlap | (candidates.conditions == SAME_LANGUAGE)
    return visible


def structured_bonus(candidates: CandidateScores, weights: FusionWeights) -> np.ndarray:
    bonus: np.ndarray = (
        weights.shared_nld_bonus * np.minimum(candidates.shared_nld_areas, MAX_COUNTED_SHARED)
        + weights.shared_sector_bonus * np.minimum(candidates.shared_sectors, MAX_COUNTED_SHARED)
    ).astype(np.float32)
    return bonus


def _mean_shares(pair_weights: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """Each counted signal's share of the pair's weighted mean (rows sum to 1, or 0 when none)."""
    pair_weights = pair_weights * counted
    # A tuned zero means "the other signals know better"; where no weighted signal can see
    # the pair, the counted ones count equally rather than the evidence being thrown away.
    unweighted = (pair_weights.sum(axis=1) == 0) & counted.any(axis=1)
    pair_weights[unweighted] = counted[unweighted]
    weight_sums = pair_weights.sum(axis=1, keepdims=True)
    shares: np.ndarray = np.divide(pair_weights, weight_sums, out=np.zeros_like(pair_weights), where=weight_sums > 0)
    return shares


_PATTERNS = np.array([[(code >> signal) & 1 for signal in range(len(SIGNALS))] for code in range(8)], bool)


@lru_cache(maxsize=8)
def _share_table(weights: FusionWeights) -> np.ndarray:
    """The shares of every (language condition, set of counted signals): 3 × 8 rows, so that a
    query's thousands of pairs look theirs up instead of computing them."""
    return np.vstack([_mean_shares(np.tile(row, (len(_PATTERNS), 1)), _PATTERNS.astype(np.float32))
                      for row in weights.by_condition()])


def mean_shares(weights: FusionWeights, conditions: np.ndarray, counted: np.ndarray) -> np.ndarray:
    """(n, 3) each counted signal's share of each pair's weighted mean under its condition."""
    rows = conditions.astype(np.int64) * len(_PATTERNS)
    for signal in range(counted.shape[1]):  # the row of the set of counted signals, bit by bit
        rows += counted[:, signal].astype(np.int64) << signal
    return np.take(_share_table(weights), rows, axis=0)  # four times faster than indexing


def fuse(candidates: CandidateScores, weights: FusionWeights) -> FusedScores:
    """Weighted mean of the visible, normalised signals per pair, plus the structured bonus.

    Across languages (and for text of unknown language) shared words are one-sided evidence:
    a name or cognate both texts use speaks for a match, but few or weak shared words say
    nothing against one, since the texts are written in different words anyway. So there BM25
    joins a pair's mean only where it raises it. Averaged in regardless, a chance stem (Dutch
    "trainen" / English "training") would pull the right answer below a pair that shares no
    word at all and is scored by the multilingual model alone.
    """
    raw = document_scores(candidates, weights.second_passage_share)
    low, spread = normalisation_bounds(raw)
    normalised = normalise_per_query(raw, (low, spread))
    visible = visibility(candidates)
    shares = mean_shares(weights, candidates.conditions, visible)
    one_sided = visible[:, BM25] & (candidates.conditions != SAME_LANGUAGE)
    if one_sided.any():
        without_words = visible.copy()
        without_words[one_sided, BM25] = False
        shares_without = mean_shares(weights, candidates.conditions, without_words)
        lowers = one_sided & (row_sums(shares * normalised) < row_sums(shares_without * normalised))
        shares[lowers] = shares_without[lowers]
        visible[lowers, BM25] = False
    contributions = shares * normalised
    bonus = structured_bonus(candidates, weights)
    return FusedScores(row_sums(contributions) + bonus, contributions, shares, bonus, visible, low, spread)


def single_signal_scores(
    candidates: CandidateScores, signal: int, second_passage_share: float = 0.0
) -> np.ndarray:
    """One signal alone, as the baseline rankings of the evaluation use it."""
    scores: np.ndarray = np.nan_to_num(document_scores(candidates, second_passage_share)[:, signal], nan=-np.inf)
    return scores


def top_order(scores: np.ndarray, document_ids: np.ndarray, limit: int) -> np.ndarray:
    """Positions of the best `limit` scores, ties broken by document id for stable results."""
    if not len(scores) or limit <= 0:
        return np.zeros(0, dtype=np.int64)
    if len(scores) > 4 * limit:
        # Sort only what can make the page: every score at least the limit-th best (ties too).
        threshold = np.partition(scores, len(scores) - limit)[len(scores) - limit]
        within = np.flatnonzero(scores >= threshold)
        return within[np.lexsort((document_ids[within], -scores[within]))][:limit]
    order = np.lexsort((document_ids, -scores))
    return order[:limit]
