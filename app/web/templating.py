"""Jinja2 for the web pages: autoescaping always on, Dutch labels for the vocabularies, and the
helpers the templates share (highlighting shared terms in a quote, signal shares, bar charts)."""

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from app import labels
from app.core.errors import InvalidInput
from app.domain import (
    CompanyStatus,
    DefenceExperience,
    Fit,
    ListLineChange,
    NeedStatus,
    PipelineStatus,
    Role,
    Visibility,
)
from app.matching.explain import Explanation
from app.services.fit import fit_of
from app.taxonomy import VocabularyEntry, get_taxonomy

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# The Dutch label of every member of the domain's enums (app/labels.py; tests/web/test_labels.py checks each).
DEFENCE_EXPERIENCE_LABELS: dict[DefenceExperience, str] = labels.DEFENCE_EXPERIENCE
ROLE_LABELS: dict[Role, str] = labels.ROLES
SIGNAL_LABELS = {
    "bm25": "Woorden (BM25)",
    "dense": "Betekenis (Engels model)",
    "multilingual": "Betekenis (meertalig)",
}
PIPELINE_LABELS: dict[PipelineStatus, str] = labels.PIPELINE
CHANGE_LABELS: dict[ListLineChange, str] = labels.CHANGE
STATUS_LABELS: dict[CompanyStatus | NeedStatus, str] = labels.STATUS


def _labels(entries: Iterable[VocabularyEntry]) -> dict[str, str]:
    return {entry["slug"]: entry["nl"] for entry in entries}


def nld_label(slug: str) -> str:
    return _labels(get_taxonomy().nld_areas).get(slug, slug)


def sector_label(slug: str) -> str:
    return _labels(get_taxonomy().sectors).get(slug, slug)


def kind_label(slug: str) -> str:
    return labels.need_kind(slug)


MONTH_NAMES = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
               "november", "december")


def month_name(month: str) -> str:
    """'2026-11' as 'november 2026'."""
    year, number = month.split("-")
    return f"{MONTH_NAMES[int(number) - 1]} {year}" if 1 <= int(number) <= 12 else month


def fit_label(score: float | None) -> str:
    """The band of a score in words: sterk, redelijk or zwak."""
    return labels.FIT[fit_of(score)]


# The `passend` choices of the pages' match lists: the weakest band they show.
FIT_CHOICES = {"sterk": Fit.strong, "redelijk": Fit.fair, "alle": Fit.weak}


def min_fit_of(passend: str) -> Fit:
    """The band a page's `passend` parameter asks for at least."""
    if passend not in FIT_CHOICES:
        raise InvalidInput(f"passend must be one of {', '.join(FIT_CHOICES)}", code="fit_unknown")
    return FIT_CHOICES[passend]


def weaker_url(request: Request, passend: str) -> str | None:
    """The same page asking for every match, weak ones too (None when it already does)."""
    return None if passend == "alle" else str(request.url.include_query_params(passend="alle"))


def highlight(text: str, terms: Sequence[str] | None) -> Markup:
    """``text`` escaped, with each whole-word occurrence of ``terms`` wrapped in <mark>."""
    words = sorted({t for t in (terms or []) if t and t.strip()}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile(r"(?<!\w)(" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)
    pieces: list[str] = []
    last = 0
    for found in pattern.finditer(text):
        pieces.append(escape(text[last : found.start()]))
        pieces.append(Markup("<mark>") + escape(found.group(0)) + Markup("</mark>"))
        last = found.end()
    pieces.append(escape(text[last:]))
    return Markup("").join(pieces)


def signal_shares(explanation: Explanation) -> list[dict[str, str | bool | int]]:
    """Each signal's share of the text score, in percent (rounded), for the signals that took part."""
    signals = explanation.signals
    positive = {name: max(0.0, part.contribution) for name, part in signals.items() if part.used}
    total = sum(positive.values())
    shares: list[dict[str, str | bool | int]] = []
    for name, part in signals.items():
        value = positive.get(name, 0.0)
        shares.append(
            {
                "name": name,
                "label": SIGNAL_LABELS.get(name, name),
                "used": part.used,
                "percent": round(100 * value / total) if total > 0 else 0,
            }
        )
    return shares


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(nld=nld_label, sector=sector_label, kind=kind_label, highlight=highlight, month_name=month_name)
    env.globals.update(
        defence_labels=DEFENCE_EXPERIENCE_LABELS,
        role_labels=ROLE_LABELS,
        status_labels=STATUS_LABELS,
        pipeline_labels=PIPELINE_LABELS,
        change_labels=CHANGE_LABELS,
        Visibility=Visibility,
        signal_shares=signal_shares,
        fit_label=fit_label,
        taxonomy=get_taxonomy,
    )
    return env


templates = Jinja2Templates(env=_environment())
