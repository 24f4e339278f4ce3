"""A stored weekly list as the Regioteam reads it: grouped by need or by company, filtered, each
group sorted by score, only `fair` and better unless asked for more (``app/services/fit.py``)."""

from dataclasses import dataclass, field
from enum import StrEnum

from app.domain import Fit
from app.services.fit import fits
from app.services.match_lists import ListLine
from app.taxonomy import get_taxonomy

GROUPS_PER_PAGE = 20


class Grouping(StrEnum):
    """Per need its best companies, or per company its best needs (the list's two directions)."""

    need = "behoefte"
    company = "bedrijf"


# The direction each grouping reads in a stored line.
DIRECTIONS = {Grouping.need: "behoefte→bedrijf", Grouping.company: "bedrijf→behoefte"}


@dataclass(frozen=True)
class WeeklyFilters:
    grouping: Grouping = Grouping.need
    text: str = ""  # in the need's title or the company's name
    kind: str | None = None
    region: str | None = None  # the company's sub-region or province
    defence_experience: str | None = None
    change: str | None = None
    min_fit: Fit = Fit.fair


@dataclass
class Group:
    """The lines of one need (or one company), best score first; vanished lines last."""

    key: int
    title: str
    subtitle: str
    lines: list[ListLine] = field(default_factory=list)

    @property
    def best_score(self) -> float:
        return max((line["score"] for line in self.lines if line["change"] != "gone"), default=0.0)


@dataclass(frozen=True)
class WeeklyPage:
    groups: list[Group]
    lines: int  # lines after the filters, on every page
    page: int
    pages: int


def selected_lines(lines: list[ListLine], filters: WeeklyFilters) -> list[ListLine]:
    """The lines of the chosen grouping that pass the filters."""
    direction = DIRECTIONS[filters.grouping]
    text = filters.text.strip().lower()
    in_region = _municipalities(filters.region)
    chosen = []
    for line in lines:
        if line["direction"] != direction or not fits(line.get("score"), filters.min_fit):
            continue
        if text and text not in line["need_title"].lower() and text not in line["company_name"].lower():
            continue
        if filters.kind and line["need_kind"] != filters.kind:
            continue
        if in_region is not None and (line.get("municipality") or "").lower() not in in_region:
            continue
        if filters.defence_experience and line["defence_experience"] != filters.defence_experience:
            continue
        if filters.change and line["change"] != filters.change:
            continue
        chosen.append(line)
    return chosen


def grouped(lines: list[ListLine], filters: WeeklyFilters, page: int = 1) -> WeeklyPage:
    """The selected lines in groups, the group with the best line first, one page of groups."""
    by_key: dict[int, Group] = {}
    for line in selected_lines(lines, filters):
        if filters.grouping is Grouping.need:
            key, title, subtitle = line["need_id"], line["need_title"], line["need_kind"]
        else:
            key, title, subtitle = line["company_id"], line["company_name"], line.get("municipality") or ""
        group = by_key.setdefault(key, Group(key=key, title=title, subtitle=subtitle))
        group.lines.append(line)
    groups = list(by_key.values())
    for group in groups:
        group.lines.sort(key=lambda line: (line["change"] == "gone", -(line.get("score") or 0.0)))
    groups.sort(key=lambda group: (-group.best_score, group.title.lower()))
    pages = max(1, -(-len(groups) // GROUPS_PER_PAGE))
    page = min(max(1, page), pages)
    start = (page - 1) * GROUPS_PER_PAGE
    return WeeklyPage(groups[start : start + GROUPS_PER_PAGE], sum(len(g.lines) for g in groups), page, pages)


def _municipalities(region: str | None) -> set[str] | None:
    if not region:
        return None
    return {name.lower() for name in get_taxonomy().municipalities_in_region(region)}
