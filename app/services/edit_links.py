"""A company's edit link: handed over by the adviser who registered it, and re-sent when lost.

A lost link cannot be sent again (only its hash is stored). Asking for it sends the registered
contact address a recovery link instead: signed, valid for a day, and good for one new edit link
(it names the current edit token's hash, which the new link replaces). So a stranger who asks for
someone else's link only makes the company receive an e-mail; their working link stays as it is
until the company itself chooses a new one.
"""

import hashlib

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.errors import Forbidden
from app.core.security import hash_token, new_token
from app.models import Company
from app.services import audit, mail
from app.services.access import Caller

RECOVERY_HOURS = 24
_SALT = "koppelkans-edit-link-recovery"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SALT)


def _fingerprint(company: Company) -> str:
    """Changes whenever the edit token does, so a recovery link works once."""
    return hashlib.sha256((company.edit_token_hash or "none").encode()).hexdigest()[:16]


def companies_for(session: Session, identifier: str) -> list[Company]:
    """The companies a lost-link request can mean: the KvK number, or the registered contact address."""
    text = identifier.strip()
    digits = "".join(ch for ch in text if ch not in " .")
    if "@" in text:
        condition = func.lower(col(Company.contact_email)) == text.lower()
    elif len(digits) == 8 and digits.isascii() and digits.isdigit():
        condition = col(Company.kvk_number) == digits
    else:
        return []
    return list(session.exec(select(Company).where(condition)).all())


def send_recovery_links(session: Session, identifier: str, recovery_url: str) -> int:
    """Queues a recovery link to each matching company's registered contact address; how many were
    queued is for tests and logs, never for the person who asked (the answer is the same either way)."""
    queued = 0
    for company in companies_for(session, identifier):
        if not company.contact_email:
            continue
        token = _serializer().dumps({"cid": company.id, "fp": _fingerprint(company)})
        mail.queue_mail(
            session, to=company.contact_email, purpose="edit_link_recovery", company_id=company.id,
            subject="Uw nieuwe bewerkingslink voor Koppelkans",
            body=_recovery_body(company, f"{recovery_url}?t={token}"),
        )
        audit.record(session, "anonymous", "request_edit_link", "company", company.id)
        queued += 1
    return queued


def redeem(session: Session, token: str) -> tuple[Company, str]:
    """The company a recovery link is for, with a new edit token (the old one stops working)."""
    try:
        payload = _serializer().loads(token, max_age=RECOVERY_HOURS * 3600)
    except BadSignature as error:  # also expired ones
        raise Forbidden("the recovery link is invalid or expired", code="recovery_link_invalid") from error
    company = session.get(Company, payload.get("cid")) if isinstance(payload, dict) else None
    if company is None or payload.get("fp") != _fingerprint(company):
        raise Forbidden("the recovery link was used already or is invalid", code="recovery_link_invalid")
    edit_token = new_token("edit")
    company.edit_token_hash = hash_token(edit_token)
    session.add(company)
    audit.record(session, Caller(company_id=company.id), "issue_edit_token", "company", company.id, "recovery link")
    session.flush()
    return company, edit_token


def recovery_is_valid(session: Session, token: str) -> bool:
    """Whether a recovery link still works, without using it (the page that asks to confirm)."""
    try:
        payload = _serializer().loads(token, max_age=RECOVERY_HOURS * 3600)
    except BadSignature:
        return False
    company = session.get(Company, payload.get("cid")) if isinstance(payload, dict) else None
    return company is not None and payload.get("fp") == _fingerprint(company)


def send_handover(session: Session, caller: Caller, company: Company, edit_link: str) -> None:
    """An adviser who registered a company e-mails it its edit link."""
    if not company.contact_email:
        raise Forbidden("the company has no contact address", code="no_contact_address")
    adviser = caller.user.full_name or caller.user.username if caller.user else "Een adviseur"
    mail.queue_mail(
        session, to=company.contact_email, purpose="edit_link_handover", company_id=company.id,
        subject="Uw bedrijf is aangemeld bij Koppelkans",
        body=(f"Beste {company.contact_name or 'ondernemer'},\n\n"
              f"{adviser} heeft {company.name} aangemeld bij Koppelkans, de koppeling tussen het mkb in "
              "Noord-Nederland en Defensie, de NLD-sleutelgebieden en innovatieprogramma's.\n\n"
              "Met deze persoonlijke link ziet u welke behoeften, programma's en calls bij uw bedrijf passen "
              "en waarom, past u uw profiel aan, en kiest u of u wordt voorgesteld:\n\n"
              f"{edit_link}\n\n"
              "Bewaar deze link goed en deel hem niet: wie hem heeft, kan uw profiel inzien en wijzigen.\n\n"
              "Met vriendelijke groet,\nKoppelkans\n"),
    )
    audit.record(session, caller, "send_edit_link", "company", company.id)


def _recovery_body(company: Company, link: str) -> str:
    return (f"Beste {company.contact_name or 'ondernemer'},\n\n"
            f"Iemand vroeg een nieuwe bewerkingslink aan voor {company.name} bij Koppelkans. Was u dat? Open "
            f"dan binnen {RECOVERY_HOURS} uur deze link en kies ‘Nieuwe link maken’:\n\n{link}\n\n"
            "Uw oude link werkt daarna niet meer. Vroeg u niets aan? Dan kunt u deze e-mail negeren: er "
            "verandert niets.\n\nMet vriendelijke groet,\nKoppelkans\n")
