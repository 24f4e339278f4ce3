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

from app.core.config import get_settings
from app.models import Company, CompanyRecord

LINK_PREFIX = "kk_link_"
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
