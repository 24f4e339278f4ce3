"""The figures the desk reports to the province: matches by status, NLD area and sub-region, and
introductions per month."""

from collections import Counter

from sqlmodel import Session, col, select

from app.domain import PipelineStatus
from app.models import Company, Match, MatchEvent, Need
from app.schemas_pipeline import Dashboard
from app.taxonomy import get_taxonomy


def figures(session: Session) -> Dashboard:
    taxonomy = get_taxonomy()
    sub_regions = {"Noord-Drenthe", "Zuidoost-Drenthe", "Zuidwest-Drenthe"}
    rows = session.exec(
        select(Match.status, Need.nld_areas, Company.municipality)
        .join(Need, col(Need.id) == Match.need_id)
        .join(Company, col(Company.id) == Match.company_id)
    ).all()
    by_status = Counter(status for status, _, _ in rows)
    by_area = Counter(area for _, areas, _ in rows for area in areas)
    by_region: Counter[str] = Counter()
    for _, _, municipality in rows:
        found = taxonomy.municipality(municipality) if municipality else None
        regions = [r for r in found.regions if r in sub_regions] if found else []
        by_region.update(regions or ["buiten Drenthe of onbekend"])
    introduced = session.exec(select(MatchEvent.at).where(MatchEvent.to_status == PipelineStatus.introduced)).all()
    per_month = Counter(moment.strftime("%Y-%m") for moment in introduced)
    return Dashboard(
        matches_total=len(rows),
        matches_by_status={status: by_status.get(status, 0) for status in PipelineStatus},
        matches_by_nld_area={area["slug"]: by_area.get(area["slug"], 0) for area in taxonomy.nld_areas},
        matches_by_sub_region=dict(sorted(by_region.items())),
        introductions_per_month=dict(sorted(per_month.items())),
    )
