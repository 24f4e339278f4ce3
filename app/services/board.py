"""The pipeline board: match records with the company and need each is about, filtered and
newest change first, read with one query per page. The API's ``/matches`` and the web board
both come from here."""

from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from app.domain import DefenceExperience, NeedKind, PipelineStatus
from app.models import Company, Match, Need, User
from app.schemas_pipeline import CompanyRef, MatchDetail, MatchEventOut, MatchOut, NeedRef
from app.services import pipeline


@dataclass(frozen=True)
class BoardFilter:
    """Which matches a board shows; every given field narrows it."""

    status: PipelineStatus | None = None
    need_id: int | None = None
    company_id: int | None = None
    owner_user_id: int | None = None
    include_dismissed: bool = True  # pairs staff marked "not relevant"

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.status is not None:
            conditions.append(col(Match.status) == self.status)
        if self.need_id is not None:
            conditions.append(col(Match.need_id) == self.need_id)
        if self.company_id is not None:
            conditions.append(col(Match.company_id) == self.company_id)
        if self.owner_user_id is not None:
            conditions.append(col(Match.owner_user_id) == self.owner_user_id)
        if not self.include_dismissed:
            conditions.append(col(Match.relevant).is_not(False))
        return conditions


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
        sa_select(Match, col(Company.name), col(Company.municipality), col(Company.defence_experience),
                  col(Need.title), col(Need.kind), col(owner.username))
        .join(Company, col(Company.id) == Match.company_id)
        .join(Need, col(Need.id) == Match.need_id)
        .join(owner, col(owner.id) == Match.owner_user_id, isouter=True)
        .where(*board_filter.conditions())
        .order_by(col(Match.updated_at).desc(), col(Match.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return [BoardCard(*row) for row in session.execute(query).all()]


def count(session: Session, board_filter: BoardFilter) -> int:
    """How many matches the board holds in all its pages."""
    return session.exec(select(func.count()).select_from(Match).where(*board_filter.conditions())).one()


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
