"""Staff feedback as labels for the pair model (app/matching/tuning.py): a pair an admin marked
"relevant" or "niet relevant" for everyone (``Match.relevant``), and a pair an organisation
marked "niet relevant" (``MatchDismissal``). A pair judged both ways counts as relevant when
anyone found it so for everyone, else as not relevant."""

from sqlmodel import Session, col, select

from app.matching.tuning import Judgement
from app.models import Match, MatchDismissal


def judgements(session: Session) -> list[Judgement]:
    labels: dict[tuple[int, int], bool] = {}
    for company_id, need_id in session.exec(select(MatchDismissal.company_id, MatchDismissal.need_id)).all():
        labels[(need_id, company_id)] = False
    judged = session.exec(select(Match.company_id, Match.need_id, Match.relevant)
                          .where(col(Match.relevant).is_not(None))).all()
    for company_id, need_id, relevant in judged:
        labels[(need_id, company_id)] = bool(relevant)
    return [Judgement(need_id, company_id, relevant) for (need_id, company_id), relevant in sorted(labels.items())]
