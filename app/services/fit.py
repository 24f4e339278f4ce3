"""How well a pair fits, as a band (``Fit``), and the one check every list that shows only
"fair or better" goes through (the match inbox, the weekly list).

The bands come from the score as the engine gives it, cut at named thresholds; calibrated
scores replace the thresholds here and nowhere else.
"""

from app.domain import Fit

# Scores at or above these count as a strong or a fair fit (the engine's fused score, 0 … 1).
STRONG_SCORE = 0.75
FAIR_SCORE = 0.45

_ORDER = {Fit.weak: 0, Fit.fair: 1, Fit.strong: 2}


def fit_of(score: float | None) -> Fit:
    if score is None:
        return Fit.weak
    if score >= STRONG_SCORE:
        return Fit.strong
    if score >= FAIR_SCORE:
        return Fit.fair
    return Fit.weak


def fits(score: float | None, min_fit: Fit = Fit.fair) -> bool:
    """True when the pair's band is ``min_fit`` or better."""
    return _ORDER[fit_of(score)] >= _ORDER[min_fit]
