"""The figures the desk reports to the province, over worked matches only (a match record with at
least one event): the pipeline as a funnel, matches by status, NLD area and sub-region, and
introductions per month."""

from collections import Counter
from datetime import date

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.domain import MatchEventKind, PipelineStatus
from app.models import Company, Match, MatchEvent, Need
from app.schemas_pipeline import Dashboard
from app.taxonomy import get_taxonomy

SUB_REGIONS = ("Noord-Drenthe", "Zuidoost-Drenthe", "Zuidwest-Drenthe")
OUTSIDE_DRENTHE = "buiten Drenthe of onbekend"
MONTHS_SHOWN = 12
# The funnel's stages in order; a match that reached a later stage passed the earlier ones.
FUNNEL = (
    PipelineStatus.triaged,
    PipelineStatus.intro_proposed,
    PipelineStatus.consented,
    PipelineStatus.introduced,
    PipelineStatus.meeting,
    PipelineStatus.won,
)
_STAGE = {
    PipelineStatus.new: 0,
    PipelineStatus.triaged: 1,
    PipelineStatus.intro_proposed: 2,
    PipelineStatus.consented: 3,
    PipelineStatus.introduced: 4,
    PipelineStatus.meeting: 5,
    PipelineStatus.pilot: 5,
    PipelineStatus.subsidy_applied: 5,
    PipelineStatus.won: 6,
}

_WORKED = select(MatchEvent.match_id).where(MatchEvent.match_id == Match.id).exists()


def figures(session: Session, today: date | None = None) -> Dashboard:
    taxonomy = get_taxonomy()
    # SQLAlchemy's select: SQLModel's types at most four columns (hence execute, not exec).
    rows = session.execute(
        sa_select(col(Match.id), col(Match.status), col(Match.relevant), col(Need.nld_areas),
                  col(Company.municipality))
        .join(Need, col(Need.id) == Match.need_id)
        .join(Company, col(Company.id) == Match.company_id)
        .where(_WORKED)
    ).tuples().all()
    by_status = Counter(status for _, status, _, _, _ in rows)
    by_area = Counter(area for _, _, _, areas, _ in rows for area in areas)
    by_region: Counter[str] = Counter()
    for *_, municipality in rows:
        found = taxonomy.municipality(municipality) if municipality else None
        regions = [r for r in found.regions if r in SUB_REGIONS] if found else []
        by_region.update(regions or [OUTSIDE_DRENTHE])
    introduced = session.exec(select(MatchEvent.at).where(MatchEvent.to_status == PipelineStatus.introduced)).all()
    per_month = Counter(moment.strftime("%Y-%m") for moment in introduced)
    return Dashboard(
        matches_total=len(rows),
        matches_by_status={status: by_status.get(status, 0) for status in PipelineStatus},
        matches_by_nld_area={area["slug"]: by_area.get(area["slug"], 0) for area in taxonomy.nld_areas},
        matches_by_sub_region={region: by_region.get(region, 0) for region in (*SUB_REGIONS, OUTSIDE_DRENTHE)},
        introductions_per_month={month: per_month.get(month, 0) for month in _last_months(today, per_month)},
        funnel=_funnel(session, [(match_id, status, relevant) for match_id, status, relevant, _, _ in rows]),
    )


def _funnel(session: Session, matches: list[tuple[int | None, str, bool | None]]) -> dict[str, int]:
    """How many matches reached each stage, by their furthest status so far (a lost or parked match
    counts for the stages it passed); matches marked "not relevant" stay out."""
    furthest = {match_id: _STAGE.get(PipelineStatus(status), 0) for match_id, status, relevant in matches
                if relevant is not False}
    reached = session.exec(
        select(MatchEvent.match_id, MatchEvent.to_status).where(MatchEvent.kind == MatchEventKind.status)
    ).all()
    for match_id, to_status in reached:
        if match_id in furthest and to_status is not None:
            furthest[match_id] = max(furthest[match_id], _STAGE.get(PipelineStatus(to_status), 0))
    return {stage: sum(1 for value in furthest.values() if value >= _STAGE[stage]) for stage in FUNNEL}


def _last_months(today: date | None, seen: Counter[str]) -> list[str]:
    """The last ``MONTHS_SHOWN`` months up to this one (a trend shows its empty months too), and any
    earlier month with introductions."""
    today = today or date.today()
    months = []
    year, month = today.year, today.month
    for _ in range(MONTHS_SHOWN):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(set(months) | set(seen))
