"""Stale profiles: a company profile not updated for a year is marked "verouderd" to staff, and its
contact gets one reminder with a fresh edit link.

One reminder per stale spell: ``stale_reminder_sent_at`` records it, and an update afterwards
(``updated_at`` later than the reminder) ends the spell. The edit link carries a new edit token; the
company's earlier token stops working, as with every token issued again (``koppelkans companies
edit-token``). Run ``koppelkans remind-stale`` from cron; the mail goes through the outbox.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.security import hash_token, new_token
from app.domain import CompanyStatus
from app.models import Company, utcnow
from app.services import audit, mail

STALE_AFTER = timedelta(days=365)
REMINDER_PURPOSE = "stale_reminder"
REMINDER_SUBJECT = "Klopt uw profiel op Koppelkans nog?"


def is_stale(updated_at: datetime, now: datetime | None = None) -> bool:
    moment = updated_at if updated_at.tzinfo else updated_at.replace(tzinfo=UTC)
    return moment < (now or utcnow()) - STALE_AFTER


def due_for_reminder(session: Session, now: datetime | None = None) -> list[Company]:
    """Active, stale profiles with a contact address that had no reminder since their last update."""
    cutoff = (now or utcnow()) - STALE_AFTER
    return list(session.exec(
        select(Company).where(
            Company.status == CompanyStatus.active,
            col(Company.contact_email).is_not(None),
            col(Company.updated_at) < cutoff,
            or_(col(Company.stale_reminder_sent_at).is_(None),
                col(Company.stale_reminder_sent_at) < col(Company.updated_at)),
        ).order_by(col(Company.id))
    ).all())


def send_reminders(session: Session, *, now: datetime | None = None) -> int:
    """Queues one reminder per stale profile due for one (sent after the caller commits); returns how many."""
    moment = now or utcnow()
    base_url = get_settings().public_url
    companies = due_for_reminder(session, moment)
    for company in companies:
        assert company.id is not None and company.contact_email is not None  # as selected
        token = new_token("edit")
        company.edit_token_hash = hash_token(token)
        company.stale_reminder_sent_at = moment
        session.add(company)
        link = f"{base_url}/ui/bedrijf/{company.id}?token={token}"
        mail.queue_mail(session, to=company.contact_email, subject=REMINDER_SUBJECT,
                        body=_body(company.name, company.updated_at, link), purpose=REMINDER_PURPOSE,
                        company_id=company.id)
        audit.record(session, "cli", "stale_reminder", "company", company.id)
    session.flush()
    return len(companies)


def _body(name: str, updated_at: datetime, link: str) -> str:
    return (
        f"Beste {name},\n\n"
        f"Uw profiel op Koppelkans is voor het laatst bijgewerkt op {updated_at:%d-%m-%Y}. Klopt het nog? "
        "Met een actueel profiel vinden defensiebehoeften, calls en regelingen die bij u passen u beter.\n\n"
        f"Uw bewerkingslink:\n{link}\n\n"
        "Via deze link ziet u uw profiel en de behoeften die erbij passen, en wijzigt u het profiel in uw "
        "browser (of verwijdert u het). Deze link vervangt uw eerdere bewerkingslink; bewaar hem goed, want "
        "wie hem heeft, kan uw profiel wijzigen.\n\n"
        "Dit is de enige herinnering die u hierover krijgt.\n\nMet vriendelijke groet,\nKoppelkans"
    )
