"""Jinja2 for the web pages: autoescaping always on, Dutch labels for the vocabularies, and the
helpers the templates share (highlighting shared terms in a quote, signal shares, bar charts)."""

import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from app import labels
from app.services.fit import fit_of
from app.taxonomy import get_taxonomy

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

DEFENCE_EXPERIENCE_LABELS = labels.DEFENCE_EXPERIENCE
ROLE_LABELS = labels.ROLES
SIGNAL_LABELS = {
    "bm25": "Woorden (BM25)",
    "dense": "Betekenis (Engels model)",
    "multilingual": "Betekenis (meertalig)",
}
PIPELINE_LABELS = labels.PIPELINE
CHANGE_LABELS = labels.CHANGE
STATUS_LABELS = labels.STATUS


def _labels(entries) -> dict[str, str]:
    return {entry["slug"]: entry["nl"] for entry in entries}


def nld_label(slug: str) -> str:
    return _labels(get_taxonomy().nld_areas).get(slug, slug)


def sector_label(slug: str) -> str:
    return _labels(get_taxonomy().sectors).get(slug, slug)


def kind_label(slug: str) -> str:
    return labels.need_kind(slug)


def fit_label(score: float | None) -> str:
    """The band of a score in words: sterk, redelijk or zwak."""
    return labels.FIT[fit_of(score)]


def highlight(text: str, terms: list[str] | None) -> Markup:
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


def signal_shares(explanation: dict) -> list[dict]:
    """Each signal's share of the text score, in percent (rounded), for the signals that took part."""
    signals = explanation.get("signals") or {}
    positive = {
        name: max(0.0, float(part.get("contribution", 0.0)))
        for name, part in signals.items()
        if part.get("used")
    }
    total = sum(positive.values())
    shares = []
    for name, part in signals.items():
        value = positive.get(name, 0.0)
        shares.append(
            {
                "name": name,
                "label": SIGNAL_LABELS.get(name, name),
                "used": bool(part.get("used")),
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
    env.filters.update(nld=nld_label, sector=sector_label, kind=kind_label, highlight=highlight)
    env.globals.update(
        defence_labels=DEFENCE_EXPERIENCE_LABELS,
        role_labels=ROLE_LABELS,
        status_labels=STATUS_LABELS,
        pipeline_labels=PIPELINE_LABELS,
        change_labels=CHANGE_LABELS,
        signal_shares=signal_shares,
        fit_label=fit_label,
        taxonomy=get_taxonomy,
    )
    return env


templates = Jinja2Templates(env=_environment())
