"""What may be matched: the documents the engine sees, read from the database, and the
companies and needs a question may match (hard filters in SQL, before any ranking)."""

import threading
from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.domain import CompanyStatus, NeedKind, NeedStatus
from app.matching.engine import Document
from app.matching.store import Side
from app.models import Company, CompanyRecord, Need, NeedRecord, id_of, stored_ids
from app.services import companies as company_service
from app.services import needs as need_service


def is_matchable(company: CompanyRecord) -> bool:
    """Only active companies that consented to matching are in the index at all."""
    return company.status == CompanyStatus.active and company.consent_matching


def company_document(company: CompanyRecord) -> Document:
    """What the engine matches on."""
    parts = [company.name, company.description]
    if company.capabilities:
        parts.append(", ".join(company.capabilities))
    return Document("company", id_of(company), "\n".join(parts), tuple(company.nld_areas), tuple(company.sectors))


def need_document(need: NeedRecord) -> Document:
    """What the engine matches on."""
    text = f"{need.title}\n{need.description}"
    return Document("need", id_of(need), text, tuple(need.nld_areas), tuple(need.sectors))


def documents_from_database(session: Session, side: Side) -> Iterator[Document]:
    """Every matchable document of a side, read as plain column rows: loaded as table objects the
    session would hold every company until the index is in step (hundreds of MB at 100,000)."""
    # SQLAlchemy's select: SQLModel's types at most four columns (hence execute, not exec).
    if side == "company":
        companies = sa_select(
            col(Company.id), col(Company.name), col(Company.description), col(Company.capabilities),
            col(Company.nld_areas), col(Company.sectors),
        ).where(col(Company.status) == CompanyStatus.active, col(Company.consent_matching))
        for row in session.execute(companies.execution_options(yield_per=1000)):  # streamed, never all at once
            yield company_document(row)
    else:
        needs = sa_select(
            col(Need.id), col(Need.title), col(Need.description), col(Need.nld_areas), col(Need.sectors)
        )
        for row in session.execute(needs.execution_options(yield_per=1000)):
            yield need_document(row)


class NeedFilterCache:
    """The ids of the needs each need filter allows, kept until a need changes or the day does.

    Every need write reaches a worker's MatchingState (its own writes when they commit, other
    workers' through ``catch_up``), which invalidates this cache: the same path that keeps the
    index in step. Reading the ids of all needs on every company → needs match cost more than the
    match itself.
    """

    MAX_ENTRIES = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: dict[tuple[Any, ...], frozenset[int]] = {}

    def invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def allowed(self, session: Session, **filters: Any) -> frozenset[int]:
        """``allowed_need_ids`` for these filters, from the cache when nothing changed since."""
        regions = filters.get("regions")
        # Read the generation before the database: a write committed meanwhile invalidates the entry.
        with self._lock:
            key = (self._generation, date.today(), tuple(sorted(
                {**filters, "regions": tuple(regions) if regions is not None else None}.items())))
            found = self._entries.get(key)
        if found is not None:
            return found
        found = frozenset(allowed_need_ids(session, **filters))
        with self._lock:
            if key[0] == self._generation:
                if len(self._entries) >= self.MAX_ENTRIES:
                    self._entries.clear()
                self._entries[key] = found
        return found


# --- the companies and needs a question may match ------------------------------------------


def allowed_company_ids(session: Session, **filters: Any) -> list[int]:
    conditions = company_service.filter_conditions(status=CompanyStatus.active, **filters)
    conditions.append(col(Company.consent_matching).is_(True))
    return stored_ids(session.exec(select(Company.id).where(*conditions)).all())


def allowed_need_ids(
    session: Session,
    *,
    include_staff_only: bool = False,
    kind: NeedKind | None = None,
    nld_area: str | None = None,
    sector: str | None = None,
    include_closed: bool = False,
    regions: list[str] | None = None,
    as_of: date | None = None,
) -> list[int]:
    """Needs that may be shown: public ones (and staff-only ones for staff), open and not past their
    deadline on ``as_of`` (today) unless closed ones are asked for, and open to the company's regions
    when those are given."""
    conditions = need_service.filter_conditions(
        include_staff_only=include_staff_only, kind=kind, nld_area=nld_area, sector=sector
    )
    if not include_closed:
        conditions.append(col(Need.status) == NeedStatus.open)
        conditions.append(or_(col(Need.deadline).is_(None), col(Need.deadline) >= (as_of or date.today())))
    if regions is not None:
        conditions.append(need_service.open_to_regions(regions))
    return stored_ids(session.exec(select(Need.id).where(*conditions)).all())
