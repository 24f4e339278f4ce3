"""The questions the match endpoints and pages ask, answered for one caller: which companies
fit a need, which needs fit a company, what fits a free text.

A list of matches is read first (``MatchPage``) and recorded after: showing it writes an audit
line for every contact detail it releases. Looking opens no pipeline record: a record is opened
by the first action on a pair (app/services/pipeline.py). The endpoints read on the event loop and
append the audit lines to the process's journal (recording.py), committed shortly after; pages
and other synchronous callers record in their own session.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlmodel import Session

from app.core.errors import Forbidden, Unauthorized
from app.domain import DefenceExperience, Fit, NeedKind
from app.matching.engine import Match as EngineMatch
from app.matching.engine import MatchEngine
from app.matching.explain import no_explanation
from app.models import CompanyRecord, NeedRecord, id_of
from app.schemas_matching import CompanyMatch, NeedMatch
from app.services import audit, feedback, identity, pipeline, recording
from app.services import companies as company_service
from app.services import needs as need_service
from app.services.access import Caller
from app.services.fit import at_least, fit_of
from app.services.matchable import (
    NeedFilterCache,
    allowed_company_ids,
    allowed_need_ids,
    company_document,
    need_document,
)

# Scores equal to this many decimals count as a tie (scouting then shows the newest company first).
SCORE_TIE_DECIMALS = 3


Item = TypeVar("Item", CompanyMatch, NeedMatch)


@dataclass
class _Found:
    """A match of a search, and whether the search named it."""

    id: int
    score: float
    explanation: Any
    name_match: bool = False


@dataclass
class MatchPage(Generic[Item]):
    """A list of matches as one caller sees it (each item with the pair's pipeline status, where
    someone worked on it), and the contact details showing it releases."""

    items: list[Item]
    actor: str
    contact_reads: list[tuple[int, str]] = field(default_factory=list)  # (company id, detail) to audit

    def record(self, session: Session) -> None:
        """Write the audit lines in ``session``."""
        audit.record_many(session, self.actor, "read_contact", "company", self.contact_reads)

    def journal_entry(self) -> recording.Entry:
        """The audit lines as an entry of the journal (recording.py), committed shortly after."""
        return recording.page_entry(self.actor, self.contact_reads)


def companies_for_need_page(
    *, session: Session, engine: MatchEngine, caller: Caller, need: NeedRecord, limit: int, scouting: bool = False,
    min_fit: Fit = Fit.fair, **filters: Any,
) -> MatchPage[CompanyMatch]:
    """The companies that best answer a need (a table object or a row of its columns; reads only),
    those that fit at least ``min_fit``. Pairs staff marked "not relevant" stay out.

    Scouting (MINDbase Noord) asks for companies that never worked with Defence, newest first
    among equal scores.
    """
    if scouting:
        filters["defence_experience"] = DefenceExperience.none
    need_id = id_of(need)
    dismissed = feedback.dismissed_company_ids(session, caller, need_id)
    if any(filters.values()):
        allowed: set[int] | None = set(allowed_company_ids(session, **filters)) - dismissed
    else:
        # No filter: every company in the index may match (the index holds only active companies that
        # consented). Not reading all their ids from the database keeps a match fast at 100,000 companies.
        allowed = None
    matches = engine.match(need_document(need), target="company", allowed_ids=allowed, excluded_ids=dismissed,
                           limit=limit)
    contact_reads: list[tuple[int, str]] = []
    matches = [match for match in matches if at_least(fit_of(match.score), min_fit)]
    items = _company_items(session, caller, matches, need_id=need_id, audited=contact_reads)
    if scouting:
        items.sort(key=lambda item: (round(item.score, SCORE_TIE_DECIMALS), item.company.created_at),
                   reverse=True)
    status_of = pipeline.statuses_for_need(session, need_id, [item.company.id for item in items])
    for item in items:
        item.pipeline_status = status_of.get(item.company.id)
    return MatchPage(items, caller.label, contact_reads=contact_reads)


def needs_for_company_page(
    *, session: Session, engine: MatchEngine, caller: Caller, company: CompanyRecord, limit: int,
    kind: NeedKind | None = None, include_closed: bool = False, need_filters: NeedFilterCache | None = None,
    min_fit: Fit = Fit.fair,
) -> MatchPage[NeedMatch]:
    """The needs that fit a company at least ``min_fit`` (a table object or a row of its columns;
    reads only). ``need_filters``: the worker's cache of allowed need ids."""
    filters = {"include_staff_only": caller.is_staff, "kind": kind, "include_closed": include_closed,
               "regions": company_service.regions_of(company.municipality) or None}
    allowed = _allowed_needs(session, need_filters, filters)
    company_id = id_of(company)
    dismissed = feedback.dismissed_need_ids(session, caller, company_id)
    matches = engine.match(company_document(company), target="need", allowed_ids=allowed,
                           excluded_ids=dismissed, limit=limit)
    items = _need_items(session, [match for match in matches if at_least(fit_of(match.score), min_fit)])
    status_of = pipeline.statuses_for_company(session, company_id, [item.need.id for item in items])
    for item in items:
        item.pipeline_status = status_of.get(item.need.id)
    return MatchPage(items, caller.label)


def companies_for_need(*, session: Session, **question: Any) -> list[CompanyMatch]:
    """``companies_for_need_page``, recorded in ``session``."""
    page = companies_for_need_page(session=session, **question)
    page.record(session)
    return page.items


def needs_for_company(*, session: Session, **question: Any) -> list[NeedMatch]:
    """``needs_for_company_page``, recorded in ``session``."""
    page = needs_for_company_page(session=session, **question)
    page.record(session)
    return page.items


def search_companies(
    *, session: Session, engine: MatchEngine, caller: Caller, text: str, limit: int, filters: dict[str, Any],
    min_fit: Fit = Fit.fair, audited: list[tuple[int, str]] | None = None,
) -> list[CompanyMatch]:
    """The companies that fit a free text at least ``min_fit`` (staff only); the company the
    text names first. ``audited``: as for ``_company_items``."""
    if caller.user is None:
        raise Unauthorized("searching companies is for staff: log in first (Authorization: Bearer <token>)")
    if not caller.is_staff:
        raise Forbidden("searching companies is for staff only; companies may search needs")
    company_filters = {k: filters.get(k) for k in ("municipality", "region", "nld_area", "sector",
                                                  "defence_experience")}
    allowed = allowed_company_ids(session, **company_filters) if any(company_filters.values()) else None
    matches = _named_first(engine, text, "company", identity.company_named(session, text, allowed), allowed, limit,
                           min_fit)
    return _company_items(session, caller, matches, audited=audited)


def search_needs(
    *, session: Session, engine: MatchEngine, caller: Caller, text: str, limit: int, filters: dict[str, Any],
    need_filters: NeedFilterCache | None = None, min_fit: Fit = Fit.fair,
) -> list[NeedMatch]:
    """The needs that fit a free text at least ``min_fit``: public ones, and staff-only ones for
    staff; the need the text names first."""
    need_filter = {
        "include_staff_only": caller.is_staff, "kind": filters.get("kind"),
        "nld_area": filters.get("nld_area"),
        "sector": filters.get("sector"), "include_closed": bool(filters.get("include_closed")),
        "regions": [filters["region"]] if filters.get("region") else None,
    }
    allowed = _allowed_needs(session, need_filters, need_filter)
    matches = _named_first(engine, text, "need", identity.need_named(session, text, allowed), allowed, limit,
                           min_fit)
    return _need_items(session, matches)


def _named_first(
    engine: MatchEngine, text: str, target: str, named: int | None, allowed: Any, limit: int, min_fit: Fit
) -> list[_Found]:
    """A search's matches that fit at least ``min_fit``, the record it names (if it is indexed)
    first whatever its fit."""
    found = [_Found(m.id, m.score, m.explanation) for m in engine.match(text, target=target, allowed_ids=allowed,
                                                                          limit=limit)
             if at_least(fit_of(m.score), min_fit)]
    if named is None or named not in engine.snapshot(target).documents:
        return found
    own = next((m for m in found if m.id == named), None)
    if own is None:
        scored = engine.match(text, target=target, allowed_ids=[named], limit=1)
        own = (_Found(named, scored[0].score, scored[0].explanation) if scored
               else _Found(named, 0.0, no_explanation()))
    own.name_match = True
    return [own] + [m for m in found if m.id != named][: limit - 1]


def _allowed_needs(
    session: Session, need_filters: NeedFilterCache | None, filters: dict[str, Any]
) -> frozenset[int] | list[int]:
    """The ids of the needs ``filters`` allow, from the worker's cache when there is one."""
    return need_filters.allowed(session, **filters) if need_filters else allowed_need_ids(session, **filters)


def _company_items(session: Session, caller: Caller, matches: Sequence[EngineMatch | _Found],
                   need_id: int | None = None,
                   audited: list[tuple[int, str]] | None = None) -> list[CompanyMatch]:
    """``audited``: where the contact details released go to be audited (None: audited here)."""
    found = company_service.rows_by_id(session=session, company_ids=[match.id for match in matches])
    # A company erased a moment ago is skipped; the index follows right after.
    kept = [match for match in matches if match.id in found]
    outs = company_service.to_out_many(session=session, caller=caller, companies=[found[m.id] for m in kept],
                                       need_id=need_id, audited=audited)
    return [CompanyMatch(company=out, score=match.score, fit=fit_of(match.score),
                         explanation=match.explanation, name_match=getattr(match, "name_match", False))
            for match, out in zip(kept, outs, strict=True)]


def _need_items(session: Session, matches: Sequence[EngineMatch | _Found]) -> list[NeedMatch]:
    found = need_service.rows_by_id(session=session, need_ids=[match.id for match in matches])
    kept = [match for match in matches if match.id in found]
    outs = need_service.to_out_many(session=session, needs=[found[m.id] for m in kept])
    return [NeedMatch(need=out, score=match.score, fit=fit_of(match.score),
                      explanation=match.explanation, name_match=getattr(match, "name_match", False))
            for match, out in zip(kept, outs, strict=True)]


def pair(
    *, session: Session, engine: MatchEngine, caller: Caller, company: CompanyRecord, need: NeedRecord
) -> CompanyMatch | None:
    """One company and one need as a match (score and explanation), or None when the company is not
    matchable (not active, or no consent to matching). Reads only: contact details are not audited
    here, so a caller who shows them records that itself."""
    found = engine.match(need_document(need), target="company", allowed_ids=[id_of(company)], limit=1)
    items = _company_items(session, caller, found, need_id=id_of(need), audited=[])
    return items[0] if items else None


def needs_for_text(
    *, session: Session, engine: MatchEngine, text: str, kinds: tuple[str, ...], regions: list[str] | None,
    limit: int, min_fit: Fit, need_filters: NeedFilterCache | None = None,
) -> list[NeedMatch]:
    """Public, open needs of these kinds, open to these regions, that fit a free text at least
    ``min_fit``; best first. Reads only."""
    allowed: set[int] = set()
    for kind in kinds:
        filters = {"include_staff_only": False, "kind": kind, "include_closed": False, "regions": regions}
        allowed |= set(_allowed_needs(session, need_filters, filters))
    if not allowed:
        return []
    matches = engine.match(text, target="need", allowed_ids=allowed, limit=limit)
    return _need_items(session, [match for match in matches if at_least(fit_of(match.score), min_fit)])
