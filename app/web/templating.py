"""Jinja2 for the web pages: autoescaping always on, Dutch labels for the vocabularies, and the
helpers the templates share (highlighting shared terms in a quote, signal shares, bar charts)."""

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

from app.domain import (
    CompanyStatus,
    DefenceExperience,
    ListLineChange,
    NeedStatus,
    PipelineStatus,
    Role,
    Visibility,
)
from app.matching.explain import Explanation
from app.taxonomy import VocabularyEntry, get_taxonomy

TEMPLATE_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# The Dutch label of every member of the domain's enums (tests/web/test_labels.py checks each has one).
DEFENCE_EXPERIENCE_LABELS: dict[DefenceExperience, str] = {
    DefenceExperience.none: "Nooit met Defensie gewerkt",
    DefenceExperience.indirect: "Indirect (via een keten of hoofdaannemer)",
    DefenceExperience.supplier: "Leverancier van Defensie",
}
ROLE_LABELS: dict[Role, str] = {
    Role.admin: "beheerder", Role.adviser: "adviseur", Role.scout: "scout", Role.regioteam: "Regioteam",
}
SIGNAL_LABELS = {
    "bm25": "Woorden (BM25)",
    "dense": "Betekenis (Engels model)",
    "multilingual": "Betekenis (meertalig)",
}
PIPELINE_LABELS: dict[PipelineStatus, str] = {
    PipelineStatus.new: "Nieuw",
    PipelineStatus.triaged: "Beoordeeld",
    PipelineStatus.intro_proposed: "Introductie voorgesteld",
    PipelineStatus.consented: "Toestemming gegeven",
    PipelineStatus.introduced: "Geïntroduceerd",
    PipelineStatus.meeting: "Gesprek",
    PipelineStatus.pilot: "Pilot",
    PipelineStatus.subsidy_applied: "Subsidie aangevraagd",
    PipelineStatus.won: "Gewonnen",
    PipelineStatus.lost: "Verloren",
    PipelineStatus.parked: "Geparkeerd",
}
CHANGE_LABELS: dict[ListLineChange, str] = {
    ListLineChange.new: "nieuw",
    ListLineChange.changed: "gewijzigd",
    ListLineChange.unchanged: "ongewijzigd",
    ListLineChange.gone: "vervallen",
}
# Companies' and needs' statuses share one lookup: their members' values differ.
STATUS_LABELS: dict[CompanyStatus | NeedStatus, str] = {
    CompanyStatus.pending: "in behandeling",
    CompanyStatus.active: "actief",
    CompanyStatus.archived: "gearchiveerd",
    NeedStatus.open: "open",
    NeedStatus.closed: "gesloten",
}


def _labels(entries: Iterable[VocabularyEntry]) -> dict[str, str]:
    return {entry["slug"]: entry["nl"] for entry in entries}


def nld_label(slug: str) -> str:
    return _labels(get_taxonomy().nld_areas).get(slug, slug)


def sector_label(slug: str) -> str:
    return _labels(get_taxonomy().sectors).get(slug, slug)


def kind_label(slug: str) -> str:
    return _labels(get_taxonomy().need_kinds).get(slug, slug)


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


def bar_chart(
    rows: list[tuple[str, int]], *, width: int = 480, bar_height: int = 22, label_width: int = 170
) -> dict[str, Any]:
    """Geometry for a horizontal SVG bar chart (drawn by the template, no inline styles)."""
    largest = max((count for _, count in rows), default=0) or 1
    room = width - label_width - 50
    bars = []
    for index, (label, count) in enumerate(rows):
        bars.append(
            {
                "label": label,
                "count": count,
                "y": index * (bar_height + 8),
                "width": max(1, round(room * count / largest)) if count else 0,
            }
        )
    return {
        "bars": bars,
        "width": width,
        "height": max(1, len(rows)) * (bar_height + 8),
        "bar_height": bar_height,
        "label_width": label_width,
    }


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
        Visibility=Visibility,
        signal_shares=signal_shares,
        bar_chart=bar_chart,
        taxonomy=get_taxonomy,
    )
    return env


templates = Jinja2Templates(env=_environment())
