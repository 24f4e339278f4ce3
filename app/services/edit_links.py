"""Edit links: how a company reaches its own profile from an e-mail.

A company's edit token is shown once (to the adviser who registered it) or e-mailed once (to the
contact address of a self-registration), and is stored only as a hash, so it cannot be sent
again. A mail that must open the profile later ("someone tried to register you", a lost link)
carries a link token instead: signed with the settings' secret key, valid for
``LINK_LIFETIME_DAYS``, and tied to the company's current edit token, so issuing a new edit token
(``koppelkans companies edit-token``) ends every link mailed before. Issuing one changes nothing
stored: a stranger who makes Koppelkans mail a link locks nobody out, and the link goes only to
the address the company registered.

Wherever an edit token is accepted (``X-Edit-Token``, the web interface's ``?token=``), a link
token is accepted too (app/services/companies.py, ``check_edit_token``).
"""

import hashlib
import hmac

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func
from sqlmodel import Session, col, select

from app.core.config import get_settings
from app.core.errors import Forbidden
from app.models import Company, CompanyRecord
from app.services import audit, mail
from app.services.access import Caller

LINK_PREFIX = "kk_link_"
PURPOSE_LOST_LINK = "edit_link_lost"
PURPOSE_HANDOVER = "edit_link_handover"
LINK_LIFETIME_DAYS = 7
_SALT = "koppelkans-edit-link"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt=_SALT)


def _fingerprint(company: CompanyRecord) -> str:
    """Changes when the company's edit token changes; reveals nothing of it."""
    return hashlib.sha256(f"link:{company.edit_token_hash or ''}".encode()).hexdigest()[:16]


def link_token(company: Company) -> str:
    return LINK_PREFIX + _serializer().dumps({"c": company.id, "f": _fingerprint(company)})


def link_token_matches(company: CompanyRecord, token: str) -> bool:
    if not token.startswith(LINK_PREFIX):
        return False
    try:
        payload = _serializer().loads(token.removeprefix(LINK_PREFIX), max_age=LINK_LIFETIME_DAYS * 86400)
    except BadSignature:  # forged, damaged or expired (SignatureExpired is a BadSignature)
        return False
    return (
        isinstance(payload, dict)
        and payload.get("c") == company.id
        and hmac.compare_digest(str(payload.get("f", "")), _fingerprint(company))
    )


def page_url(company_id: int, token: str) -> str:
    """The web interface's address of the company's page, opened with ``token``."""
    return f"{get_settings().public_url}/ui/bedrijf/{company_id}?token={token}"


def edit_link(company: Company) -> str:
    """A link to the company's page that works for ``LINK_LIFETIME_DAYS`` (for a mail to its contact)."""
    assert company.id is not None, "a stored company"
    return page_url(company.id, link_token(company))


# --- a lost link, and the link an adviser hands over ---------------------------------------------


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


def send_lost_links(session: Session, identifier: str) -> int:
    """Mails a link to its page to each company the identifier names, at its registered contact
    address. How many were queued is for tests and logs, never for the person who asked: the
    answer is the same either way, so nobody learns who is registered."""
    queued = 0
    for company in companies_for(session, identifier):
        if not company.contact_email:
            continue
        mail.queue_mail(
            session, to=company.contact_email, purpose=PURPOSE_LOST_LINK, company_id=company.id,
            subject="Uw link naar Koppelkans", body=_lost_link_body(company, edit_link(company)),
        )
        audit.record(session, "anonymous", "request_edit_link", "company", company.id)
        queued += 1
    return queued


def send_handover(session: Session, caller: Caller, company: Company, edit_token: str) -> None:
    """An adviser who registered a company e-mails it the edit link shown to them."""
    if not company.contact_email or company.id is None:
        raise Forbidden("the company has no contact address", code="no_contact_address")
    adviser = (caller.user.full_name or caller.user.username) if caller.user else "Een adviseur"
    mail.queue_mail(
        session, to=company.contact_email, purpose=PURPOSE_HANDOVER, company_id=company.id,
        subject="Uw bedrijf is aangemeld bij Koppelkans",
        body=(f"Beste {company.contact_name or 'ondernemer'},\n\n"
              f"{adviser} heeft {company.name} aangemeld bij Koppelkans, de koppeling tussen het mkb in "
              "Noord-Nederland en Defensie, de NLD-sleutelgebieden en innovatieprogramma's.\n\n"
              "Met deze persoonlijke link ziet u welke behoeften, programma's en calls bij uw bedrijf passen "
              "en waarom, past u uw profiel aan, en kiest u of u wordt voorgesteld:\n\n"
              f"{page_url(company.id, edit_token)}\n\n"
              "Bewaar deze link goed en deel hem niet: wie hem heeft, kan uw profiel inzien en wijzigen.\n\n"
              "Met vriendelijke groet,\nKoppelkans\n"),
    )
    audit.record(session, caller, "send_edit_link", "company", company.id)


def _lost_link_body(company: Company, link: str) -> str:
    return (f"Beste {company.contact_name or 'ondernemer'},\n\n"
            f"Iemand vroeg een link aan naar het profiel van {company.name} bij Koppelkans. Met deze link opent u "
            f"het profiel de komende {LINK_LIFETIME_DAYS} dagen:\n\n{link}\n\n"
            "Vroeg u niets aan? Dan kunt u deze e-mail negeren: er verandert niets.\n\n"
            "Met vriendelijke groet,\nKoppelkans\n")
