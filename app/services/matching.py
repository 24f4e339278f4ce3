"""Matching as the service uses it: documents from the database, hard filters in SQL, results
shaped for the caller (contact details only where the caller may see them).

The engine (``app.matching``) knows texts and ids only; this module decides which companies and
needs may be matched at all and keeps the engine in step with every write.
"""

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

from sqlalchemy import event, func, insert, or_
from sqlmodel import Session, col, select

from app.core.config import Settings
from app.core.db import get_engine
from app.core.errors import Forbidden, IndexNotReady, Unauthorized
from app.matching.engine import Document, MatchEngine
from app.models import Company, IndexChange, Match, Need
from app.schemas import CompanyMatch, NeedMatch
from app.services import companies as company_service
from app.services import needs as need_service
from app.services import pipeline
from app.services.access import Caller

logger = logging.getLogger(__name__)

# Scores equal to this many decimals count as a tie (scouting then shows the newest company first).
SCORE_TIE_DECIMALS = 3


# --- what the engine sees ----------------------------------------------------------------


def is_matchable(company: Company) -> bool:
    """Only active companies that consented to matching are in the index at all."""
    return company.status == "active" and company.consent_matching


def company_document(company: Company) -> Document:
    parts = [company.name, company.description]
    if company.capabilities:
        parts.append(", ".join(company.capabilities))
    return Document("company", company.id, "\n".join(parts), tuple(company.nld_areas), tuple(company.sectors))


def need_document(need: Need) -> Document:
    return Document("need", need.id, f"{need.title}\n{need.description}", tuple(need.nld_areas), tuple(need.sectors))


def documents_from_database(session: Session, side: str) -> Iterator[Document]:
    if side == "company":
        for company in session.exec(select(Company).where(Company.status == "active", Company.consent_matching)):
            yield company_document(company)
    else:
        for need in session.exec(select(Need)):
            yield need_document(need)


# --- the change log that keeps every worker's index in step -------------------------------

# A worker re-reads this many sequence numbers below the last one it applied: on PostgreSQL two
# transactions can commit out of sequence order, and the later-committed lower number must not be
# skipped. Applying a change twice is harmless (an unchanged text is not re-encoded).
CHANGE_LOG_OVERLAP = 200


@event.listens_for(Session, "after_flush")
def _log_index_changes(session, _flush_context) -> None:
    """Every company or need inserted, updated or deleted in a flush gets a change-log row, in the
    same transaction, so other workers see the write exactly when it commits."""
    rows = [
        {"side": "company" if isinstance(obj, Company) else "need", "record_id": obj.id, "at": datetime.now(UTC)}
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, Company | Need) and obj.id is not None
    ]
    if rows:
        session.connection().execute(insert(IndexChange), rows)


def latest_change(session: Session) -> int:
    return int(session.exec(select(func.max(IndexChange.id))).one() or 0)


def build_engine(settings: Settings) -> MatchEngine:
    """The default engine: the configured dense model plus the multilingual encoder, with big
    segments' ANN indexes in the configured vector store."""
    from app.matching.encoders import SentenceTransformerEncoder, UsemEncoder, bundled_dense_encoder

    dense = SentenceTransformerEncoder(settings.embedding_model) if settings.embedding_model else bundled_dense_encoder()
    multilingual = UsemEncoder() if settings.multilingual_encoder else None
    ann_factory = None  # FAISS
    if settings.vector_store == "pgvector":
        from app.matching.pgvector_ann import PgvectorStore

        ann_factory = PgvectorStore(settings.resolved_database_url)
    return MatchEngine(settings.data_dir / "matching", dense, multilingual, ann_factory=ann_factory)


class MatchingState:
    """The engine of one process, with its start-up build.

    Writes that arrive while the index is still being built are remembered and applied once the
    build is done, so nothing registered during start-up is missing from the index.
    """

    def __init__(self, engine: MatchEngine | None = None) -> None:
        self.engine = engine
        self.ready = False
        self.error: str | None = None
        self.started_at = time.monotonic()
        self._lock = threading.Lock()
        self._pending: set[tuple[str, int]] = set()
        # Change-log sequence numbers this worker has applied (see catch_up).
        self.applied_through = 0
        self._recently_applied: set[int] = set()

    @classmethod
    def switched_off(cls) -> "MatchingState":
        """Matching disabled by configuration: the service is ready, the matching endpoints say why not."""
        state = cls()
        state.error = "matching is switched off (KOPPELKANS_MATCHING_ENABLED=false)"
        state.disabled = True
        return state

    disabled = False

    @classmethod
    def ready_with(cls, engine: MatchEngine) -> "MatchingState":
        state = cls(engine)
        state.ready = True
        return state

    def start_in_background(self, settings: Settings) -> threading.Thread:
        thread = threading.Thread(target=self._build, args=(settings,), name="matching-index-build", daemon=True)
        thread.start()
        return thread

    def _build(self, settings: Settings) -> None:
        try:
            if self.engine is None:
                self.engine = build_engine(settings)
            with Session(get_engine()) as session:
                # Read before the documents: writes committed during the build are caught up after.
                start_from = latest_change(session)
                self.engine.load_or_build(lambda side: list(documents_from_database(session, side)))
            self.applied_through = start_from
            with self._lock:
                with Session(get_engine()) as session:
                    for side, record_id in sorted(self._pending):
                        _apply_change(self.engine, session, side, record_id)
                self._pending.clear()
                self.ready = True
            logger.info("matching index ready: %s", self.engine.counts())
        except Exception as error:  # reported by /readyz and the matching endpoints
            logger.exception("building the matching index failed")
            self.error = f"{type(error).__name__}: {error}"

    def readiness(self) -> tuple[bool, str]:
        if self.ready:
            return True, "ok"
        if self.disabled:
            return True, "switched off"
        if self.error:
            return False, f"index build failed ({self.error}); see the server log, then `koppelkans reindex`"
        return False, f"index is being built (for {time.monotonic() - self.started_at:.0f} s)"

    def require_engine(self) -> MatchEngine:
        ready, reason = self.readiness()
        if self.disabled:
            raise IndexNotReady(f"matching is not available: {self.error}")
        if not ready:
            raise IndexNotReady(f"matching is not available yet: {reason}; try again shortly")
        self.catch_up()
        return self.engine

    def catch_up(self) -> int:
        """Apply the writes other workers logged since this one last looked; returns how many.

        One indexed query per matching request when nothing changed.
        """
        with Session(get_engine()) as session:
            if latest_change(session) <= self.applied_through:
                return 0
            with self._lock:
                rows = session.exec(
                    select(IndexChange.id, IndexChange.side, IndexChange.record_id)
                    .where(IndexChange.id > self.applied_through - CHANGE_LOG_OVERLAP)
                    .order_by(IndexChange.id)
                ).all()
                fresh = [(i, side, record) for i, side, record in rows if i not in self._recently_applied]
                for side, record_id in dict.fromkeys((side, record) for _, side, record in fresh):
                    _apply_change(self.engine, session, side, record_id)
                self._recently_applied.update(i for i, _, _ in fresh)
                if rows:
                    self.applied_through = max(self.applied_through, rows[-1][0])
                floor = self.applied_through - CHANGE_LOG_OVERLAP
                self._recently_applied = {i for i in self._recently_applied if i > floor}
                return len(fresh)

    def changed(self, session: Session, side: str, record_id: int) -> None:
        """Bring the index in step with one company or need after it was committed (or erased)."""
        with self._lock:
            if self.error:  # matching off or broken: the next start-up sync catches up
                return
            if not self.ready:
                self._pending.add((side, record_id))
                return
        _apply_change(self.engine, session, side, record_id)

    def close(self) -> None:
        if self.ready and self.engine is not None:
            self.engine.save()


def _apply_change(engine: MatchEngine, session: Session, side: str, record_id: int) -> None:
    if side == "company":
        company = session.get(Company, record_id)
        if company is not None and is_matchable(company):
            engine.upsert([company_document(company)])
        else:
            engine.remove("company", [record_id])
    else:
        need = session.get(Need, record_id)
        if need is not None:
            engine.upsert([need_document(need)])
        else:
            engine.remove("need", [record_id])


# --- the questions the endpoints ask -----------------------------------------------------


def allowed_company_ids(session: Session, **filters) -> list[int]:
    conditions = company_service.filter_conditions(status="active", **filters)
    conditions.append(col(Company.consent_matching).is_(True))
    return list(session.exec(select(Company.id).where(*conditions)).all())


def allowed_need_ids(
    session: Session,
    *,
    include_staff_only: bool = False,
    kind: str | None = None,
    nld_area: str | None = None,
    sector: str | None = None,
    include_closed: bool = False,
    regions: list[str] | None = None,
) -> list[int]:
    """Needs that may be shown: public ones (and staff-only ones for staff), open and not past their
    deadline unless closed ones are asked for, and open to the company's regions when those are given."""
    conditions = need_service.filter_conditions(
        include_staff_only=include_staff_only, kind=kind, nld_area=nld_area, sector=sector
    )
    if not include_closed:
        conditions.append(Need.status == "open")
        conditions.append(or_(col(Need.deadline).is_(None), col(Need.deadline) >= date.today()))
    rows = session.exec(select(Need.id, Need.eligible_regions).where(*conditions)).all()
    if regions is None:
        return [need_id for need_id, _ in rows]
    wanted = set(regions)
    return [need_id for need_id, eligible in rows if not eligible or wanted & set(eligible)]


def companies_for_need(
    *, session: Session, engine: MatchEngine, caller: Caller, need: Need, limit: int, scouting: bool = False,
    **filters,
) -> list[CompanyMatch]:
    """The companies that best answer a need. Pairs staff marked "not relevant" stay out.

    Scouting (MINDbase Noord) asks for companies that never worked with Defence, newest first
    among equal scores.
    """
    if scouting:
        filters["defence_experience"] = "none"
    dismissed = pipeline.dismissed_company_ids(session, need.id)
    if any(filters.values()):
        allowed: set[int] | None = set(allowed_company_ids(session, **filters)) - dismissed
    else:
        # No filter: every company in the index may match (the index holds only active companies that
        # consented). Not reading all their ids from the database keeps a match fast at 100,000 companies.
        allowed = None
    matches = engine.match(need_document(need), target="company", allowed_ids=allowed, excluded_ids=dismissed,
                           limit=limit)
    items = _company_items(session, caller, matches, need_id=need.id)
    if scouting:
        items.sort(key=lambda item: (round(item.score, SCORE_TIE_DECIMALS), item.company.created_at), reverse=True)
    pipeline.ensure_matches(session, [(item.company.id, need.id, item.score) for item in items])
    return _with_pipeline_status(session, items, need_id=need.id)


def needs_for_company(
    *, session: Session, engine: MatchEngine, caller: Caller, company: Company, limit: int,
    kind: str | None = None, include_closed: bool = False,
) -> list[NeedMatch]:
    regions = company_service.to_out(session=session, caller=Caller(), company=company).regions
    allowed = set(allowed_need_ids(session, include_staff_only=caller.is_staff, kind=kind,
                                   include_closed=include_closed, regions=regions or None))
    allowed -= pipeline.dismissed_need_ids(session, company.id)
    matches = engine.match(company_document(company), target="need", allowed_ids=allowed, limit=limit)
    items = _need_items(session, matches)
    if caller.is_staff:  # a company looking at its own matches does not open pipeline records
        pipeline.ensure_matches(session, [(company.id, item.need.id, item.score) for item in items])
    return _with_pipeline_status(session, items, company_id=company.id)


def search(
    *, session: Session, engine: MatchEngine, caller: Caller, text: str, target: str, limit: int, filters: dict
) -> list[CompanyMatch] | list[NeedMatch]:
    if target == "companies":
        if caller.user is None:
            raise Unauthorized("searching companies is for staff: log in first (Authorization: Bearer <token>)")
        if not caller.is_staff:
            raise Forbidden("searching companies is for staff only; companies may search needs")
        company_filters = {k: filters.get(k) for k in ("municipality", "region", "nld_area", "sector", "defence_experience")}
        allowed = allowed_company_ids(session, **company_filters) if any(company_filters.values()) else None
        return _company_items(session, caller, engine.match(text, target="company", allowed_ids=allowed, limit=limit))
    allowed = allowed_need_ids(
        session, include_staff_only=caller.is_staff, kind=filters.get("kind"), nld_area=filters.get("nld_area"), sector=filters.get("sector"),
        include_closed=bool(filters.get("include_closed")),
        regions=[filters["region"]] if filters.get("region") else None,
    )
    return _need_items(session, engine.match(text, target="need", allowed_ids=allowed, limit=limit))


def _company_items(session: Session, caller: Caller, matches, need_id: int | None = None) -> list[CompanyMatch]:
    items = []
    for match in matches:
        company = session.get(Company, match.id)
        if company is None:  # erased a moment ago; the index follows right after
            continue
        out = company_service.to_out(session=session, caller=caller, company=company, need_id=need_id)
        items.append(CompanyMatch(company=out, score=match.score, explanation=match.explanation))
    return items


def _with_pipeline_status(session: Session, items: list, *, need_id: int | None = None,
                          company_id: int | None = None) -> list:
    """Adds each pair's pipeline status: for one need's companies, or for one company's needs."""
    if need_id is not None:
        ids = [item.company.id for item in items]
        rows = session.exec(select(Match.company_id, Match.status).where(
            Match.need_id == need_id, col(Match.company_id).in_(ids)))
        status_of = dict(rows.all())
        for item in items:
            item.pipeline_status = status_of.get(item.company.id)
    else:
        ids = [item.need.id for item in items]
        rows = session.exec(select(Match.need_id, Match.status).where(
            Match.company_id == company_id, col(Match.need_id).in_(ids)))
        status_of = dict(rows.all())
        for item in items:
            item.pipeline_status = status_of.get(item.need.id)
    return items


def _need_items(session: Session, matches) -> list[NeedMatch]:
    items = []
    for match in matches:
        need = session.get(Need, match.id)
        if need is None:
            continue
        items.append(NeedMatch(need=need_service.to_out(session=session, need=need), score=match.score,
                               explanation=match.explanation))
    return items
