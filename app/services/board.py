"""The pipeline board: match records with the company and need each is about, filtered in the
database (owner, status, organisation, need, company, NLD area, sub-region, month introduced) and newest change
first, read with one query per page. The API's ``/matches`` and the web board (one page per
status column, so it stays small with thousands of records) both come from here."""

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, exists, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.core.errors import InvalidInput
from app.domain import DefenceExperience, NeedKind, PipelineStatus
from app.models import Company, Match, MatchEvent, Need, User
from app.schemas_pipeline import CompanyRef, MatchDetail, MatchEventOut, MatchOut, NeedRef
from app.services import pipeline
from app.services.companies import json_list_contains
from app.taxonomy import get_taxonomy

CARDS_PER_COLUMN = 15


@dataclass(frozen=True)
class BoardFilter:
    """Which matches a board shows; every given field narrows it."""

    status: PipelineStatus | None = None
    need_id: int | None = None
    company_id: int | None = None
    owner_user_id: int | None = None
    unowned: bool = False  # only matches nobody owns yet
    organisation_id: int | None = None  # the owner's organisation or the need's
    nld_area: str | None = None  # the need's NLD area
    region: str | None = None  # the company's sub-region (or province)
    introduced_in: str | None = None  # "2026-11": moved to introduced in that month
    include_dismissed: bool = True  # pairs staff marked "not relevant"

    def conditions(self) -> list[ColumnElement[bool]]:
        """SQL on Match joined with its Company and Need (``joined``)."""
        conditions: list[ColumnElement[bool]] = []
        if self.status is not None:
            conditions.append(col(Match.status) == self.status)
        if self.need_id is not None:
            conditions.append(col(Match.need_id) == self.need_id)
        if self.company_id is not None:
            conditions.append(col(Match.company_id) == self.company_id)
        if self.owner_user_id is not None:
            conditions.append(col(Match.owner_user_id) == self.owner_user_id)
        if self.unowned:
            conditions.append(col(Match.owner_user_id).is_(None))
        if self.organisation_id is not None:
            conditions.append(or_(col(Match.owner_organisation_id) == self.organisation_id,
                                  col(Need.owner_organisation_id) == self.organisation_id))
        if self.nld_area is not None:
            conditions.append(json_list_contains(col(Need.nld_areas), self.nld_area))
        if self.region is not None:
            names = get_taxonomy().municipalities_in_region(self.region)
            if not names:
                raise InvalidInput(f"unknown region '{self.region}'", code="region_unknown")
            conditions.append(col(Company.municipality).in_(names))
        if self.introduced_in is not None:
            conditions.append(_introduced_in(self.introduced_in))
        if not self.include_dismissed:
            conditions.append(col(Match.relevant).is_not(False))
        return conditions


def _introduced_in(month: str) -> ColumnElement[bool]:
    """The match moved to introduced during ``month`` (YYYY-MM), as the dashboard's trend counts it."""
    try:
        start = date.fromisoformat(f"{month}-01")
    except ValueError as error:
        raise InvalidInput(f"month must look like 2026-11, not {month!r}", code="month_invalid") from error
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    moments = (datetime.combine(start, time(), UTC), datetime.combine(end, time(), UTC))
    return exists().where(col(MatchEvent.match_id) == Match.id,
                          col(MatchEvent.to_status) == PipelineStatus.introduced,
                          col(MatchEvent.at) >= moments[0], col(MatchEvent.at) < moments[1])


def joined(statement: Any) -> Any:
    """``statement`` over Match, joined with the company and the need the filters may look at."""
    return statement.join(Company, col(Company.id) == Match.company_id).join(Need, col(Need.id) == Match.need_id)


class BoardCard(NamedTuple):
    """One match on the board, with what the board shows of its company, need and owner."""

    match: Match
    company_name: str
    municipality: str | None
    defence_experience: DefenceExperience
    need_title: str
    need_kind: NeedKind
    owner: str | None  # the username of the staff member who owns the match

    @property
    def allowed_next(self) -> tuple[PipelineStatus, ...]:
        return pipeline.TRANSITIONS[self.match.status]


def cards(session: Session, board_filter: BoardFilter, *, limit: int, offset: int = 0) -> list[BoardCard]:
    """One page of the board, most recently changed first."""
    owner = aliased(User)
    # SQLAlchemy's select: SQLModel's types at most four columns (hence execute, not exec).
    query = (
        joined(sa_select(Match, col(Company.name), col(Company.municipality), col(Company.defence_experience),
                         col(Need.title), col(Need.kind), col(owner.username)))
        .join(owner, col(owner.id) == Match.owner_user_id, isouter=True)
        .where(*board_filter.conditions())
        .order_by(col(Match.updated_at).desc(), col(Match.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [BoardCard(*row) for row in session.execute(query).all()]


def count(session: Session, board_filter: BoardFilter) -> int:
    """How many matches the board holds in all its pages."""
    counted: int = session.exec(joined(select(func.count()).select_from(Match)).where(*board_filter.conditions())).one()
    return counted


def counts_by_status(session: Session, board_filter: BoardFilter) -> dict[PipelineStatus, int]:
    """How many matches pass the filter, per status (every status, zero included)."""
    statement = joined(sa_select(col(Match.status), func.count()).select_from(Match)).where(*board_filter.conditions())
    found: dict[str, int] = {status: number for status, number in session.execute(statement.group_by(Match.status))}
    return {status: found.get(status, 0) for status in PipelineStatus}


@dataclass
class Column:
    """One status of the board: how many matches it holds, and one page of their cards."""

    status: PipelineStatus
    total: int
    page: int
    cards: list[BoardCard]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // CARDS_PER_COLUMN))


def column(session: Session, board_filter: BoardFilter, status: PipelineStatus, page: int = 1,
           total: int | None = None) -> Column:
    """Page ``page`` of one status's cards, most recently changed first."""
    in_status = replace(board_filter, status=status)
    if total is None:
        total = count(session, in_status)
    pages = max(1, -(-total // CARDS_PER_COLUMN))
    page = min(max(1, page), pages)
    found = cards(session, in_status, limit=CARDS_PER_COLUMN, offset=(page - 1) * CARDS_PER_COLUMN)
    return Column(status=status, total=total, page=page, cards=found)


def columns(session: Session, board_filter: BoardFilter) -> list[Column]:
    """The board: the first page of every status (or only of the status filtered on)."""
    totals = counts_by_status(session, board_filter)
    shown = [board_filter.status] if board_filter.status is not None else list(PipelineStatus)
    return [column(session, board_filter, status, 1, totals[status]) for status in shown]


def match_out(card: BoardCard) -> MatchOut:
    match = card.match
    return MatchOut(
        company=CompanyRef(id=match.company_id, name=card.company_name, municipality=card.municipality,
                           defence_experience=card.defence_experience),
        need=NeedRef(id=match.need_id, title=card.need_title, kind=card.need_kind),
        allowed_next=list(card.allowed_next),
        **match.model_dump(exclude={"id", "company_id", "need_id"}),
    )


def match_detail(session: Session, match: Match) -> MatchDetail:
    """One match as the API shows it, with every event in order."""
    pair = BoardFilter(need_id=match.need_id, company_id=match.company_id)
    (card,) = cards(session, pair, limit=1)
    events = [MatchEventOut(**event.model_dump()) for event in pipeline.events(session, match)]
    return MatchDetail(**match_out(card).model_dump(), events=events)


def match_detail_for_company(session: Session, match: Match) -> MatchDetail:
    """``match_detail`` as the company itself reads it: shared notes only, no staff ids or feedback."""
    pair = BoardFilter(need_id=match.need_id, company_id=match.company_id)
    (card,) = cards(session, pair, limit=1)
    company_view = {**match_out(card).model_dump(), **pipeline.STAFF_ONLY_MATCH_FIELDS}
    events = [MatchEventOut(**event) for event in pipeline.events_for_company(pipeline.events(session, match))]
    return MatchDetail(**company_view, events=events)
