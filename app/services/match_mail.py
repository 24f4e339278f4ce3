"""The weekly e-mail to a company about its new strong matches, sent only when it opted in
(``Company.weekly_match_mail``, a checkbox on its profile).

It follows the weekly list: once a week's list is built (app/services/match_lists.py), every
opted-in company whose lines in it are new this week and fit strongly gets one message naming those
needs, programmes and calls, each with its public page. A week with nothing new and strong sends
nothing; staff-only needs and closed ones never appear in it.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from app import labels
from app.core.config import get_settings
from app.domain import CompanyStatus, Fit, ListLineChange, NeedStatus, Visibility
from app.models import Company, Need, id_of
from app.services import mail
from app.services.fit import fits

PURPOSE = "weekly_match_mail"
SUBJECT = "Nieuwe kansen voor uw bedrijf op Koppelkans"
MAX_PER_MAIL = 10

ListLine = dict[str, Any]  # a line of a weekly list, as app/services/match_lists.py stores it


def new_strong_need_ids(lines: Iterable[ListLine]) -> dict[int, list[int]]:
    """Per company, the needs its lines of this week newly pair it with at a strong fit, best first."""
    best: dict[int, dict[int, float]] = defaultdict(dict)
    for line in lines:
        score = float(line["score"])
        if line["change"] != ListLineChange.new or not fits(score, Fit.strong):
            continue
        company_id, need_id = int(line["company_id"]), int(line["need_id"])
        best[company_id][need_id] = max(score, best[company_id].get(need_id, 0.0))
    return {company_id: sorted(scores, key=lambda need_id: -scores[need_id])
            for company_id, scores in best.items()}


def queue_for_week(session: Session, week: str, lines: Iterable[ListLine]) -> int:
    """Queues this week's message for every opted-in company with new strong matches (sent after
    the caller commits); returns how many were queued."""
    per_company = new_strong_need_ids(lines)
    if not per_company:
        return 0
    companies = session.exec(select(Company).where(
        col(Company.id).in_(per_company), col(Company.weekly_match_mail).is_(True),
        Company.status == CompanyStatus.active, col(Company.consent_matching).is_(True),
        col(Company.contact_email).is_not(None),
    )).all()
    wanted = {need_id for company in companies for need_id in per_company[id_of(company)]}
    needs = {id_of(need): need for need in session.exec(select(Need).where(
        col(Need.id).in_(wanted), Need.visibility == Visibility.public, Need.status == NeedStatus.open,
    )).all()} if wanted else {}
    queued = 0
    for company in companies:
        shown = [needs[need_id] for need_id in per_company[id_of(company)] if need_id in needs][:MAX_PER_MAIL]
        if shown and company.contact_email:
            mail.queue_mail(session, to=company.contact_email, subject=SUBJECT, body=_body(company, week, shown),
                            purpose=PURPOSE, company_id=company.id)
            queued += 1
    session.flush()
    return queued


def _body(company: Company, week: str, needs: list[Need]) -> str:
    base_url = get_settings().public_url
    listed = "\n\n".join(
        f"- {need.title} ({labels.need_kind(need.kind).lower()})\n  {base_url}/ui/behoefte/{need.id}" for need in needs
    )
    greeting = f"Beste {company.contact_name}," if company.contact_name else "Geachte heer, mevrouw,"
    return f"""{greeting}

Deze week (week {week}) passen deze behoeften, programma's en calls sterk bij het profiel van
{company.name}:

{listed}

Wilt u bij een behoefte worden voorgesteld, of wilt u weten waarom hij past? Open uw profiel met
uw bewerkingslink: daar ziet u per behoefte de reden en geeft u toestemming voor een introductie.
Bewerkingslink kwijt? Vraag een nieuwe aan via {base_url}/ui/link-kwijt

U krijgt deze e-mail omdat u dat in uw profiel aanzette. Uitzetten doet u daar, onder ‘Profiel
wijzigen’.

Met vriendelijke groet,
Koppelkans
"""
