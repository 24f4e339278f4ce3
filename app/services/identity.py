"""Identity before similarity: a search that names a record — a company's name or KvK number,
a need's identifier or slug — puts that record first, marked as a name match.

Names compare case- and accent-insensitively with their whitespace normalised
("  noorderlicht  B.V." finds "Noorderlicht B.V."; "Cafe" finds "Café").
"""

from collections.abc import Collection

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import Company, Need
from app.names import name_key


def company_named(session: Session, text: str, allowed: Collection[int] | None) -> int | None:
    """The id of the allowed company whose name or KvK number `text` is, if any (the lowest id
    when several share the name)."""
    wanted = name_key(text)
    if not wanted:
        return None
    digits = wanted.replace(" ", "")
    if digits.isdigit() and len(digits) == 8:
        found = session.exec(select(Company.id).where(Company.kvk_number == digits)).first()
        return found if found is not None and (allowed is None or found in allowed) else None
    # Every company's name is stored compared as well (its `name_key`, indexed): one lookup.
    named = session.exec(select(Company.id).where(Company.name_key == wanted).order_by(col(Company.id))).all()
    return next((company_id for company_id in named if allowed is None or company_id in allowed), None)


def need_named(session: Session, text: str, allowed: Collection[int]) -> int | None:
    """The id of the allowed need whose number or slug `text` is, if any."""
    wanted = name_key(text).removeprefix("#")
    if not wanted:
        return None
    if wanted.isdigit():
        # Only ASCII digits of a plausible id length are a number ("²" or 9,999 zeros are not).
        if not wanted.isascii() or len(wanted) > 12:
            return None
        need_id = int(wanted)
        return need_id if need_id in allowed else None
    found = session.exec(select(Need.id).where(func.lower(Need.slug) == wanted.replace(" ", "-"))).first()
    return found if found is not None and found in allowed else None
