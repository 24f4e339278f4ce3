"""The province's KPIs per month, against their targets (seed/loket.yaml), for the dashboard and
the province's reporting (CSV for Dutch Excel and XLSX, Dutch headers).

- IBDO-trajecten: cases whose trajectory started that month (an adviser took it on or wrote the
  articulated question); target 550 a year.
- MKB Advies Vouchers: companies whose voucher application was granted that month; target ca. 100.
- Geholpen richting Defensie: companies referred to a defence organisation, or introduced for a
  defence need or call, that month (each company once per month, once in the year's total).
- Introducties: matches introduced that month, and where those introductions stand now.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from app.core.errors import InvalidInput
from app.domain import ApplicationStatus, NeedKind, PipelineStatus
from app.models import CaseProgramme, CaseReferral, LoketCase, Match, MatchEvent, Need, Organisation
from app.schemas_loket import KpiMonth, KpiReport, KpiTargetOut
from app.services import spreadsheets
from app.services.loket_rules import get_rules
from app.services.spreadsheets import Cell, Column

DEFENCE_KINDS = (NeedKind.defence_need, NeedKind.call)
# Where an introduction can stand now, in the order of the pipeline.
INTRODUCTION_OUTCOMES = (
    PipelineStatus.introduced, PipelineStatus.meeting, PipelineStatus.pilot, PipelineStatus.subsidy_applied,
    PipelineStatus.won, PipelineStatus.lost, PipelineStatus.parked,
)
OUTCOME_TITLES = {
    "introduced": "nog geen vervolg", "meeting": "gesprek", "pilot": "pilot", "subsidy_applied": "subsidie aangevraagd",
    "won": "gewonnen", "lost": "verloren", "parked": "geparkeerd",
}
MONTH_NAMES = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
               "november", "december")
FIRST_YEAR, LAST_YEAR = 2000, 2100


def report(session: Session, year: int) -> KpiReport:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidInput(f"year must be between {FIRST_YEAR} and {LAST_YEAR}, not {year}")
    start, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    trajectories = _month_counts(session.exec(select(LoketCase.trajectory_started_at).where(
        col(LoketCase.trajectory_started_at) >= start, col(LoketCase.trajectory_started_at) < end)).all())
    vouchers = _companies_per_month(_voucher_grants(session, start, end))
    defence = _companies_per_month(
        _defence_referrals(session, start, end) + _defence_introductions(session, start, end))
    introductions = session.exec(
        select(MatchEvent.at, Match.status).join(Match, col(Match.id) == MatchEvent.match_id)
        .where(MatchEvent.to_status == PipelineStatus.introduced, col(MatchEvent.at) >= start, col(MatchEvent.at) < end)
    ).all()
    introduced: Counter[int] = Counter()
    outcomes: dict[int, Counter[str]] = defaultdict(Counter)
    for moment, status in introductions:
        introduced[moment.month] += 1
        outcomes[moment.month][status] += 1
    months = [
        KpiMonth(month=f"{year}-{month:02d}", trajectories=trajectories[month], advice_vouchers=len(vouchers[month]),
                 defence_helped=len(defence[month]), introductions=introduced[month],
                 introduction_outcomes={s: outcomes[month][s] for s in INTRODUCTION_OUTCOMES})
        for month in range(1, 13)
    ]
    totals = KpiMonth(
        month=str(year), trajectories=sum(trajectories.values()),
        advice_vouchers=len(set().union(*vouchers.values())), defence_helped=len(set().union(*defence.values())),
        introductions=sum(introduced.values()),
        introduction_outcomes={s: sum(outcomes[m][s] for m in outcomes) for s in INTRODUCTION_OUTCOMES},
    )
    targets = {name: KpiTargetOut(**target.model_dump()) for name, target in get_rules().kpi_targets.items()}
    return KpiReport(year=year, targets=targets, months=months, totals=totals)


def _month_counts(moments: Sequence[datetime | None]) -> Counter[int]:
    return Counter(moment.month for moment in moments if moment is not None)


def _companies_per_month(found: list[tuple[datetime, str]]) -> dict[int, set[str]]:
    per_month: dict[int, set[str]] = defaultdict(set)
    for moment, company in found:
        per_month[moment.month].add(company)
    return per_month


def _company_key(company_id: int | None, case_id: int | None) -> str:
    """A company by its profile; one without a profile (yet) by its case."""
    return f"company:{company_id}" if company_id is not None else f"case:{case_id}"


def _voucher_grants(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    rows = session.exec(
        select(CaseProgramme.decided_at, LoketCase.company_id, LoketCase.id)
        .join(LoketCase, col(LoketCase.id) == CaseProgramme.case_id).join(Need, col(Need.id) == CaseProgramme.need_id)
        .where(Need.slug == get_rules().advice_voucher_programme, CaseProgramme.status == ApplicationStatus.granted,
               col(CaseProgramme.decided_at) >= start, col(CaseProgramme.decided_at) < end)
    ).all()
    return [(moment, _company_key(company_id, case_id)) for moment, company_id, case_id in rows if moment]


def _defence_referrals(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    rows = session.exec(
        select(CaseReferral.at, LoketCase.company_id, LoketCase.id)
        .join(LoketCase, col(LoketCase.id) == CaseReferral.case_id)
        .join(Organisation, col(Organisation.id) == CaseReferral.organisation_id)
        .where(col(Organisation.slug).in_(get_rules().defence_organisations),
               col(CaseReferral.at) >= start, col(CaseReferral.at) < end)
    ).all()
    return [(moment, _company_key(company_id, case_id)) for moment, company_id, case_id in rows]


def _defence_introductions(session: Session, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
    rows = session.exec(
        select(MatchEvent.at, Match.company_id).join(Match, col(Match.id) == MatchEvent.match_id)
        .join(Need, col(Need.id) == Match.need_id)
        .where(MatchEvent.to_status == PipelineStatus.introduced, col(Need.kind).in_(DEFENCE_KINDS),
               col(MatchEvent.at) >= start, col(MatchEvent.at) < end)
    ).all()
    return [(moment, _company_key(company_id, None)) for moment, company_id in rows]


# --- exports -----------------------------------------------------------------------------------


def columns() -> list[Column]:
    targets = get_rules().kpi_targets
    columns = [
        Column("maand", "Maand", 16),
        Column("trajectories", "IBDO-trajecten", 15),
        Column("trajectories_to_date", "IBDO-trajecten t/m maand", 24),
        Column("trajectories_target", f"Streefwaarde t/m maand (jaardoel {targets['trajectories'].per_year})", 34),
        Column("advice_vouchers", "Bedrijven met MKB Advies Voucher", 30),
        Column("advice_vouchers_target",
               f"Streefwaarde vouchers t/m maand (jaardoel ca. {targets['advice_vouchers'].per_year})", 40),
        Column("defence_helped", "Bedrijven geholpen richting Defensie", 34),
        Column("introductions", "Introducties", 13),
    ]
    columns += [Column(f"outcome_{s}", f"Introducties: {OUTCOME_TITLES[s]}", 22) for s in INTRODUCTION_OUTCOMES]
    return columns


def rows(kpis: KpiReport) -> list[dict[str, Cell]]:
    """One row per month, the trajectories and vouchers beside their pro-rata targets; then the year."""
    targets = kpis.targets
    out: list[dict[str, Cell]] = []
    to_date = 0
    for number, month in enumerate(kpis.months, start=1):
        to_date += month.trajectories
        out.append({"maand": f"{MONTH_NAMES[number - 1]} {kpis.year}", **_figures(month),
                    "trajectories_to_date": to_date,
                    "trajectories_target": _pro_rata(targets["trajectories"].per_year, number),
                    "advice_vouchers_target": _pro_rata(targets["advice_vouchers"].per_year, number)})
    out.append({"maand": f"totaal {kpis.year}", **_figures(kpis.totals), "trajectories_to_date": to_date,
                "trajectories_target": targets["trajectories"].per_year,
                "advice_vouchers_target": targets["advice_vouchers"].per_year})
    return out


def _figures(month: KpiMonth) -> dict[str, Cell]:
    figures: dict[str, Cell] = {"trajectories": month.trajectories, "advice_vouchers": month.advice_vouchers,
                                "defence_helped": month.defence_helped, "introductions": month.introductions}
    figures.update({f"outcome_{s}": month.introduction_outcomes.get(s, 0) for s in INTRODUCTION_OUTCOMES})
    return figures


def _pro_rata(per_year: int | None, months: int) -> int | None:
    return None if per_year is None else round(per_year * months / 12)


def as_csv(kpis: KpiReport) -> bytes:
    return spreadsheets.as_csv(columns(), rows(kpis))


def as_xlsx(kpis: KpiReport, created: datetime) -> bytes:
    return spreadsheets.as_xlsx(columns(), rows(kpis), title=f"Koppelkans KPI's {kpis.year}",
                                sheet_name=f"KPI {kpis.year}", created=created)
