"""How well a pair fits, as a band (``Fit``), and the one check every list that shows only
"fair or better" goes through (match lists, the match inbox, the weekly list, the loket).

A pair's score is its calibrated probability of fit (app/matching/pair_scoring.py); the bands
are the documented thresholds of the pair model (app/data/pair_model.json, ``bands``), which
a refit by ``koppelkans tune`` keeps.
"""

from functools import lru_cache

from app.domain import Fit
from app.matching.pair_model import Bands, PairModel

_ORDER = {Fit.weak: 0, Fit.fair: 1, Fit.strong: 2}


@lru_cache(maxsize=1)
def bands() -> Bands:
    """The thresholds: ``strong`` and ``fair`` are lower bounds of the probability of fit."""
    return PairModel.load().bands


def fit_of(score: float | None) -> Fit:
    if score is None:
        return Fit.weak
    if score >= bands().strong:
        return Fit.strong
    if score >= bands().fair:
        return Fit.fair
    return Fit.weak


def at_least(fit: Fit, min_fit: Fit) -> bool:
    """True when ``fit`` is ``min_fit`` or better."""
    return _ORDER[fit] >= _ORDER[min_fit]


def fits(score: float | None, min_fit: Fit = Fit.fair) -> bool:
    """True when the pair's band is ``min_fit`` or better."""
    return at_least(fit_of(score), min_fit)
