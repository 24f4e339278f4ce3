"""Dutch labels for the vocabularies in ``app/domain.py``: what the web interface and the
spreadsheet exports show in place of the stored codes."""

from app.domain import CompanyStatus, DefenceExperience, Fit, NeedStatus, PipelineStatus, Role
from app.taxonomy import get_taxonomy

DEFENCE_EXPERIENCE = {
    DefenceExperience.none: "Nooit met Defensie gewerkt",
    DefenceExperience.indirect: "Indirect (via een keten of hoofdaannemer)",
    DefenceExperience.supplier: "Leverancier van Defensie",
}
ROLES = {Role.admin: "beheerder", Role.adviser: "adviseur", Role.scout: "scout", Role.regioteam: "Regioteam"}
PIPELINE = {
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
CHANGE = {"new": "nieuw", "changed": "gewijzigd", "unchanged": "ongewijzigd", "gone": "vervallen"}
STATUS = {
    CompanyStatus.pending: "in behandeling",
    CompanyStatus.active: "actief",
    CompanyStatus.archived: "gearchiveerd",
    NeedStatus.open: "open",
    NeedStatus.closed: "gesloten",
}
FIT = {Fit.strong: "sterk", Fit.fair: "redelijk", Fit.weak: "zwak"}


def need_kind(slug: str) -> str:
    return {entry["slug"]: entry["nl"] for entry in get_taxonomy().need_kinds}.get(slug, slug)
