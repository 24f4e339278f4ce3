"""A staff member's match inbox: new suggestions for the needs and companies they own or follow
(pairs nobody worked on yet, `fair` or better), and the matches they own.

Accepting a suggestion triages it with the person as owner; dismissing it is "not relevant"
feedback with a reason. Both open the pair's match record (app/services/pipeline.py).
"""

from dataclasses import dataclass

from sqlmodel import Session

from app.domain import Fit, PipelineStatus
from app.matching.engine import MatchEngine
from app.matching.explain import Explanation
from app.models import Match, User
from app.schemas import CompanyOut, NeedOut
from app.services import board, feedback, follows, match_views, pipeline
from app.services import companies as company_service
from app.services import needs as need_service
from app.services.access import Caller
from app.services.board import BoardCard, BoardFilter
from app.services.fit import fits

WATCHED_PER_SIDE = 25  # needs, and companies, whose suggestions the inbox reads
SUGGESTIONS_PER_WATCHED = 5
FINAL_STATUSES = (PipelineStatus.won, PipelineStatus.lost)


@dataclass(frozen=True)
class Suggestion:
    company: CompanyOut
    need: NeedOut
    score: float
    explanation: Explanation

    @property
    def pair(self) -> tuple[int, int]:
        return self.company.id, self.need.id


def suggestions(
    *, session: Session, engine: MatchEngine, caller: Caller, min_fit: Fit = Fit.fair
) -> list[Suggestion]:
    """New suggestions for what ``caller`` owns or follows, best first; each pair once."""
    user = caller.user
    if user is None:
        return []
    found: dict[tuple[int, int], Suggestion] = {}
    need_ids = follows.watched_need_ids(session, user, WATCHED_PER_SIDE)
    for need_id, need in need_service.get_many(session=session, need_ids=need_ids).items():
        companies = match_views.companies_for_need_page(session=session, engine=engine, caller=caller, need=need,
                                                        limit=SUGGESTIONS_PER_WATCHED)
        need_out = need_service.to_out(session=session, need=need)
        for company_item in companies.items:
            if company_item.pipeline_status is None and fits(company_item.score, min_fit):
                found.setdefault((company_item.company.id, need_id), Suggestion(
                    company_item.company, need_out, company_item.score, company_item.explanation))
    company_ids = follows.watched_company_ids(session, user, WATCHED_PER_SIDE)
    for company_id, company in company_service.rows_by_id(session=session, company_ids=company_ids).items():
        company_out = company_service.to_out(session=session, caller=caller, company=company, audited=[])
        needs = match_views.needs_for_company_page(session=session, engine=engine, caller=caller, company=company,
                                                   limit=SUGGESTIONS_PER_WATCHED)
        for need_item in needs.items:
            if need_item.pipeline_status is None and fits(need_item.score, min_fit):
                found.setdefault((company_id, need_item.need.id), Suggestion(
                    company_out, need_item.need, need_item.score, need_item.explanation))
    return sorted(found.values(), key=lambda suggestion: -suggestion.score)


def accept(session: Session, caller: Caller, company_id: int, need_id: int, score: float | None) -> Match:
    """Takes a suggestion on: triaged, with the person who accepted it as its owner."""
    match = pipeline.get_or_create(session, company_id, need_id, score=score)
    status = PipelineStatus.triaged if match.status == PipelineStatus.new else None
    owner_id = caller.user.id if caller.user else None
    return pipeline.change(session, caller, match, status=status, owner_user_id=owner_id, owner_given=True)


def dismiss(session: Session, caller: Caller, company_id: int, need_id: int, reason: str,
            score: float | None) -> Match:
    """Marks a suggestion "not relevant" with the reason, for the person's organisation (an admin
    without one: for everyone): it leaves their lists of matches."""
    match = pipeline.get_or_create(session, company_id, need_id, score=score)
    return feedback.set_feedback(session, caller, match, relevant=False, reason=reason)


def owned(session: Session, user: User, limit: int = 50) -> list[BoardCard]:
    """The matches a person owns that are still going, most recently changed first."""
    cards = board.cards(session, BoardFilter(owner_user_id=user.id, include_dismissed=False), limit=limit)
    return [card for card in cards if card.match.status not in FINAL_STATUSES]
