"""Weekly match lists for the Regioteam: built once per ISO week, stored, compared with the week before.

A list, once built, reads the same forever (the stored JSON is the source of every export); building
the same week again changes nothing. The one exception is erasure: an erased company's name is
redacted from stored lists (``companies.erase``), because its right to be forgotten outweighs the
list's stability.
"""

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import labels
from app.core.errors import InvalidInput, NotFound
from app.domain import Fit, ListLineChange
from app.matching.engine import MatchEngine
from app.models import Company, MatchList, Need, id_of
from app.schemas_pipeline import MatchListWeek
from app.services import feedback, match_mail, pipeline, spreadsheets
from app.services.fit import fit_of, fits
from app.services.matchable import allowed_company_ids, allowed_need_ids
from app.services.spreadsheets import Column

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
COMPANIES_PER_NEED = 5
NEEDS_PER_COMPANY = 5
# A score that moved at least this much (or a new rank) marks a line as changed.
SCORE_CHANGE = 0.01

COLUMNS = [
    Column(key, title, width) for key, title, width in (
        ("week", "week", 10), ("direction", "richting", 18), ("change", "wijziging", 11),
        ("need_id", "behoefte_id", 11), ("need_title", "behoefte", 60), ("need_kind", "soort", 13),
        ("company_id", "bedrijf_id", 10), ("company_name", "bedrijf", 40), ("municipality", "gemeente", 18),
        ("defence_experience", "defensie_ervaring", 17), ("rank", "rang", 6), ("score", "score", 8),
        ("fit", "passend", 9),
    )
]

# The stored codes a spreadsheet shows in Dutch.
DUTCH_VALUES: dict[str, Callable[[str], str]] = {
    "change": lambda code: labels.dutch(labels.CHANGE, code),
    "need_kind": labels.need_kind,
    "defence_experience": lambda code: labels.dutch(labels.DEFENCE_EXPERIENCE, code),
    "fit": lambda code: labels.dutch(labels.FIT, code),
}

ListLine = dict[str, Any]  # one line of a list: the COLUMNS' keys, as stored in the list's JSON
LineKey = tuple[str, int, int]  # direction, need id, company id: the same pair in two weeks


def current_week(today: date | None = None) -> str:
    year, week, _ = (today or date.today()).isocalendar()
    return f"{year}-W{week:02d}"


def check_week(week: str) -> str:
    found = WEEK_PATTERN.match(week)
    if found:
        try:
            date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
            return week
        except ValueError:
            pass
    raise InvalidInput(f"week must look like 2026-W48 (ISO year and week number), not {week!r}",
                       code="week_invalid")


def first_day(week: str) -> date:
    """The Monday of an ISO week such as 2026-W48."""
    year, number = check_week(week)[:4], week[-2:]
    return date.fromisocalendar(int(year), int(number), 1)


def build(session: Session, engine: MatchEngine, week: str, workers: int = 1) -> tuple[MatchList, bool]:
    """The list of `week`, built now if it does not exist yet. Returns (list, whether it was built now).

    `workers` > 1 scores in forked processes: only from the command line, never in the server.
    """
    check_week(week)
    existing = find(session, week)
    if existing is not None:
        return existing, False
    dismissed = feedback.dismissed_pairs(session)
    company_ids = allowed_company_ids(session)
    # A list is read during its week: a call that closes before the week begins is not in it.
    need_ids = allowed_need_ids(session, include_staff_only=True, as_of=max(date.today(), first_day(week)))
    needs: dict[int, Need] = {}
    if need_ids:
        needs = {id_of(n): n for n in session.exec(select(Need).where(col(Need.id).in_(need_ids))).all()}
    companies: dict[int, Company] = {}
    if company_ids:
        listed = session.exec(select(Company).where(col(Company.id).in_(company_ids))).all()
        companies = {id_of(c): c for c in listed}

    # One batch for both directions (candidates from one matrix product, exact re-scoring of the
    # best of them) instead of one search per need and per company; pairs marked "not relevant"
    # never enter it.
    batch = engine.weekly_pairs(companies_per_need=COMPANIES_PER_NEED, needs_per_company=NEEDS_PER_COMPANY,
                                company_ids=company_ids, need_ids=need_ids, dismissed=dismissed, workers=workers)
    lines: list[ListLine] = []
    for found in batch["need_to_companies"]:
        if found.match_id in companies and found.query_id in needs:
            lines.append(_line(week, "behoefte→bedrijf", needs[found.query_id], companies[found.match_id],
                               found.rank, found.score))
    for found in batch["company_to_needs"]:
        if found.match_id in needs and found.query_id in companies:
            lines.append(_line(week, "bedrijf→behoefte", needs[found.match_id], companies[found.query_id],
                               found.rank, found.score))

    lines = _compare_with_previous(session, week, lines)
    content = json.dumps({"week": week, "lines": lines}, ensure_ascii=False, sort_keys=True, indent=1)
    match_list = MatchList(week=week, content=content)
    session.add(match_list)
    try:
        session.flush()
    except IntegrityError:  # built at the same moment elsewhere: that one counts
        session.rollback()
        return get(session, week), False
    current = [(line["company_id"], line["need_id"], line["score"])
               for line in lines if line["change"] != ListLineChange.gone]
    pipeline.refresh_scores(session, current)
    match_mail.queue_for_week(session, week, lines)
    return match_list, True


def _line(week: str, direction: str, need: Need, company: Company, rank: int, score: float) -> ListLine:
    return {
        "week": week, "direction": direction, "need_id": need.id, "need_title": need.title, "need_kind": need.kind,
        "company_id": company.id, "company_name": company.name, "municipality": company.municipality or "",
        "defence_experience": company.defence_experience, "rank": rank, "score": round(score, 4),
        "fit": fit_of(score).value,
    }


def _compare_with_previous(session: Session, week: str, lines: list[ListLine]) -> list[ListLine]:
    previous = session.exec(
        select(MatchList).where(col(MatchList.week) < week).order_by(col(MatchList.week).desc())
    ).first()
    before: dict[LineKey, ListLine] = {}
    if previous is not None:
        stored: list[ListLine] = json.loads(previous.content)["lines"]
        before = {_key(line): line for line in stored if line["change"] != ListLineChange.gone}
    now = {_key(line) for line in lines}
    for line in lines:
        old = before.get(_key(line))
        if old is None:
            line["change"] = ListLineChange.new
        elif old["rank"] != line["rank"] or abs(old["score"] - line["score"]) >= SCORE_CHANGE:
            line["change"] = ListLineChange.changed
        else:
            line["change"] = ListLineChange.unchanged
    gone = [{**old, "week": week, "change": ListLineChange.gone, "rank": None}
            for key, old in before.items() if key not in now]
    return sorted(lines + gone, key=_reading_order)


def _reading_order(line: ListLine) -> tuple[str, int, int, int, int]:
    """Grouped by direction, then per need (or per company) by rank; gone lines last in their group."""
    group = line["need_id"] if line["direction"].startswith("behoefte") else line["company_id"]
    return line["direction"], group, line["rank"] or 999, line["company_id"], line["need_id"]


def _key(line: ListLine) -> LineKey:
    return line["direction"], line["need_id"], line["company_id"]


def find(session: Session, week: str) -> MatchList | None:
    check_week(week)
    return session.exec(select(MatchList).where(MatchList.week == week)).first()


def get(session: Session, week: str) -> MatchList:
    found = find(session, week)
    if found is None:
        raise NotFound(f"no match list for week {week}: it is built by `koppelkans weekly-list --week {week}`",
                       code="week_missing", params={"week": week})
    return found


def weeks(session: Session) -> list[MatchListWeek]:
    rows = session.exec(select(MatchList).order_by(col(MatchList.week).desc())).all()
    return [MatchListWeek(week=r.week, built_at=r.built_at, lines=len(json.loads(r.content)["lines"])) for r in rows]


# --- exports -------------------------------------------------------------------------------


def as_json(match_list: MatchList, lines: list[ListLine] | None = None) -> bytes:
    if lines is None:
        return match_list.content.encode("utf-8")
    return json.dumps({"week": match_list.week, "lines": lines}, ensure_ascii=False, sort_keys=True,
                      indent=1).encode("utf-8")


def lines_of(match_list: MatchList) -> list[ListLine]:
    """The list's lines, each with its band (``fit``) from its score."""
    lines: list[ListLine] = json.loads(match_list.content)["lines"]
    for line in lines:
        line.setdefault("fit", fit_of(line.get("score")).value)
    return lines


def fitting(lines: list[ListLine], min_fit: Fit = Fit.fair) -> list[ListLine]:
    """The lines whose pair fits at least ``min_fit`` (what an export holds by default)."""
    return [line for line in lines if fits(line.get("score"), min_fit)]


def in_dutch(lines: list[ListLine]) -> list[ListLine]:
    """The lines as a spreadsheet shows them: the stored codes in Dutch."""
    return [{key: DUTCH_VALUES[key](value) if key in DUTCH_VALUES and isinstance(value, str) else value
             for key, value in line.items()} for line in lines]


def as_csv(match_list: MatchList, lines: list[ListLine] | None = None) -> bytes:
    """CSV for Dutch Excel: `;` between columns, decimal comma, UTF-8 with BOM, no formulas, codes in
    Dutch. ``lines``: a selection of the list's lines (default: all of them)."""
    return spreadsheets.as_csv(COLUMNS, in_dutch(lines_of(match_list) if lines is None else lines))


def as_xlsx(match_list: MatchList, lines: list[ListLine] | None = None) -> bytes:
    return spreadsheets.as_xlsx(COLUMNS, in_dutch(lines_of(match_list) if lines is None else lines),
                                title=f"Koppelkans matchlijst {match_list.week}", sheet_name=match_list.week,
                                created=match_list.built_at)
