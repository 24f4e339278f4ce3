"""Dutch labels for the vocabularies in ``app/domain.py``: what the web interface and the
spreadsheet exports show in place of the stored codes (a test checks every member has one)."""

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from app.domain import CompanyStatus, DefenceExperience, Fit, ListLineChange, NeedStatus, PipelineStatus, Role
from app.taxonomy import get_taxonomy

E = TypeVar("E", bound=StrEnum)

DEFENCE_EXPERIENCE: dict[DefenceExperience, str] = {
    DefenceExperience.none: "Nooit met Defensie gewerkt",
    DefenceExperience.indirect: "Indirect (via een keten of hoofdaannemer)",
    DefenceExperience.supplier: "Leverancier van Defensie",
}
ROLES: dict[Role, str] = {
    Role.admin: "beheerder", Role.adviser: "adviseur", Role.scout: "scout", Role.regioteam: "Regioteam",
}
PIPELINE: dict[PipelineStatus, str] = {
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
# How a weekly list's line compares with the week before.
CHANGE: dict[ListLineChange, str] = {
    ListLineChange.new: "nieuw",
    ListLineChange.changed: "gewijzigd",
    ListLineChange.unchanged: "ongewijzigd",
    ListLineChange.gone: "vervallen",
}
# Companies' and needs' statuses share one lookup: their members' values differ.
STATUS: dict[CompanyStatus | NeedStatus, str] = {
    CompanyStatus.pending: "in behandeling",
    CompanyStatus.active: "actief",
    CompanyStatus.archived: "gearchiveerd",
    NeedStatus.open: "open",
    NeedStatus.closed: "gesloten",
}
FIT: dict[Fit, str] = {Fit.strong: "sterk", Fit.fair: "redelijk", Fit.weak: "zwak"}


def dutch(table: Mapping[E, str], code: str) -> str:
    """The Dutch label of a stored code (the code itself when the table lacks it)."""
    for member, label in table.items():
        if member == code:
            return label
    return code


def need_kind(slug: str) -> str:
    return {entry["slug"]: entry["nl"] for entry in get_taxonomy().need_kinds}.get(slug, slug)
