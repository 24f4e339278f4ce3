"""Identity before similarity: a search that names a record — a company's name or KvK number,
a need's identifier or slug — puts that record first, marked as a name match.

Names compare case- and accent-insensitively with their whitespace normalised
("  noorderlicht  B.V." finds "Noorderlicht B.V."; "Cafe" finds "Café").
"""

import unicodedata
from collections.abc import Collection

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import Company, Need


def normalised(text: str) -> str:
    """Lower case, accents dropped, runs of whitespace as one space, trimmed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.casefold().split())


def company_named(session: Session, text: str, allowed: Collection[int] | None) -> int | None:
    """The id of the allowed company whose name or KvK number `text` is, if any (the lowest id
    when several share the name)."""
    wanted = normalised(text)
    if not wanted:
        return None
    digits = wanted.replace(" ", "")
    if digits.isdigit() and len(digits) == 8:
        found = session.exec(select(Company.id).where(Company.kvk_number == digits)).first()
        return found if found is not None and (allowed is None or found in allowed) else None
    # Accents and spaces aside a name keeps its length give or take a few characters: the
    # database narrows the names to compare by length, Python compares them normalised.
    length = func.length(Company.name)
    rows = session.exec(select(Company.id, Company.name)
                        .where(length >= len(wanted) - 4, length <= len(wanted) + 8)
                        .order_by(col(Company.id))).all()
    return next((company_id for company_id, name in rows
                 if normalised(name) == wanted and (allowed is None or company_id in allowed)), None)


def need_named(session: Session, text: str, allowed: Collection[int]) -> int | None:
    """The id of the allowed need whose number or slug `text` is, if any."""
    wanted = normalised(text).removeprefix("#")
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
