"""The matching engine of this process: built at start-up, caught up with other workers' writes,
and told of every company or need this process commits.

The engine (``app.matching``) knows texts and ids only. What it may match is decided in
matchable.py; the answers shaped for a caller are in match_views.py.
"""

import logging
import threading
import time
from collections.abc import Collection

import anyio
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from app.core.config import Settings
from app.core.db import get_engine, read
from app.core.errors import IndexNotReady
from app.core.memory import return_free_memory
from app.matching.engine import MatchEngine
from app.models import Company, IndexChange, Need
from app.services.change_log import CHANGE_LOG_OVERLAP, flushed_changes, latest_change, oldest_change
from app.services.matchable import (
    NeedFilterCache,
    company_document,
    documents_from_database,
    is_matchable,
    need_document,
)

logger = logging.getLogger(__name__)


def build_engine(settings: Settings) -> MatchEngine:
    """The default engine: the configured dense model plus the multilingual encoder, with big
    segments' ANN indexes in the configured vector store."""
    from app.matching.encoders import SentenceTransformerEncoder, UsemEncoder, bundled_dense_encoder

    backend, cache_dir = settings.embedding_backend, settings.resolved_model_cache_dir
    dense = (
        SentenceTransformerEncoder(settings.embedding_model, backend=backend, cache_dir=cache_dir)
        if settings.embedding_model
        else bundled_dense_encoder(backend=backend, cache_dir=cache_dir)
    )
    multilingual = UsemEncoder() if settings.multilingual_encoder else None
    ann_factory = None  # FAISS
    if settings.vector_store == "pgvector":
        from app.matching.pgvector_ann import PgvectorStore

        ann_factory = PgvectorStore(settings.resolved_database_url)
    return MatchEngine(settings.data_dir / "matching", dense, multilingual, ann_factory=ann_factory,
                       materialised_bytes=settings.materialised_matches_mb * 2**20)


# A match is mostly Python under the GIL, with short numpy stretches that release it: two at a time
# keep both cores busy, while more threads only slow each other (GIL hand-offs) and keep the SQLite
# write lock held longer by a thread waiting for its turn (measured at 16 concurrent requests).
MATCHES_AT_ONCE = 2


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
        self.need_filters = NeedFilterCache()
        # Matches computed at once; more requests wait their turn here (see MATCHES_AT_ONCE).
        self.match_slots = threading.BoundedSemaphore(MATCHES_AT_ONCE)

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
                self.engine.load_or_build(lambda side: documents_from_database(session, side))
            return_free_memory()  # the memory loading parsed and built with and let go of
            self.applied_through = start_from
            with self._lock:
                with Session(get_engine()) as session:
                    for side, record_id in sorted(self._pending):
                        _apply_change(self.engine, session, side, record_id)
                self._pending.clear()
                self.ready = True
            if settings.precompute_matches:
                self.engine.start_precompute()
            # A write that lets the recent-writes segment outgrow its share returns at once; the
            # merge (minutes at 100,000 companies) runs beside the requests.
            self.engine.enable_background_merges()
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

    def require_engine(self, session: Session | None = None) -> MatchEngine:
        """The engine, caught up with other workers' writes; ``session``: the request's own (see catch_up)."""
        engine = self._require_ready()
        self.catch_up(session)
        return engine

    async def current_engine(self) -> MatchEngine:
        """``require_engine`` for a request on the event loop: whether other workers wrote is one
        read there; applying their writes (encoding, the engine's write lock) is done in a worker
        thread."""
        engine = self._require_ready()
        if await read(latest_change) > self.applied_through:
            await anyio.to_thread.run_sync(self.catch_up)
        return engine

    def _require_ready(self) -> MatchEngine:
        ready, reason = self.readiness()
        if self.disabled:
            raise IndexNotReady(f"matching is not available: {self.error}")
        if not ready or self.engine is None:
            raise IndexNotReady(f"matching is not available yet: {reason}; try again shortly")
        return self.engine

    def catch_up(self, session: Session | None = None) -> int:
        """Apply the writes other workers logged since this one last looked; returns how many.

        One indexed query per matching request when nothing changed. A request passes its own
        session: a second connection per request would let concurrent requests that each hold one
        wait for each other until the connection pool times out.
        """
        if session is None:
            with Session(get_engine()) as own_session:
                return self.catch_up(own_session)
        latest = latest_change(session)
        if latest <= self.applied_through or self.engine is None:
            return 0
        with self._lock:
            if oldest_change(session) > self.applied_through + 1:
                # Entries this worker never applied were pruned (it slept past the retention window).
                return self._resynchronise(self.engine, session)
            rows = session.exec(
                select(IndexChange.id, IndexChange.side, IndexChange.record_id)
                .where(col(IndexChange.id) > self.applied_through - CHANGE_LOG_OVERLAP)
                .order_by(col(IndexChange.id))
            ).all()
            logged = [(i, side, record) for i, side, record in rows if i is not None]  # ids are never null
            fresh = [(i, side, record) for i, side, record in logged if i not in self._recently_applied]
            if any(side == "need" for _, side, _ in fresh):
                self.need_filters.invalidate()
            for side, record_id in dict.fromkeys((side, record) for _, side, record in fresh):
                _apply_change(self.engine, session, side, record_id)
            self._recently_applied.update(i for i, _, _ in fresh)
            if logged:
                self.applied_through = max(self.applied_through, logged[-1][0])
            floor = self.applied_through - CHANGE_LOG_OVERLAP
            self._recently_applied = {i for i in self._recently_applied if i > floor}
            return len(fresh)

    def _resynchronise(self, engine: MatchEngine, session: Session) -> int:
        """Make the index hold exactly the database's documents (called holding the lock)."""
        start_from = latest_change(session)  # read before the documents, as in the start-up build
        logger.warning("matching index fell behind the pruned change log: resynchronising from the database")
        self.need_filters.invalidate()
        changed = 0
        for side in ("company", "need"):
            report = engine.sync(side, documents_from_database(session, side))
            changed += report.added + report.updated + report.removed
        self.applied_through = start_from
        self._recently_applied.clear()
        return changed

    def follow_commits(self) -> None:
        """Bring the index in step with every company or need this process commits, right after
        the commit (see ``_apply_committed_changes``); the application's lifespan calls this."""
        with _followers_lock:
            _followers.add(self)

    def apply_committed(self, changes: Collection[tuple[str, int]], bind: Engine | Connection) -> None:
        """Bring the index in step with companies and needs just committed (or erased)."""
        if any(side == "need" for side, _ in changes):
            self.need_filters.invalidate()
        with self._lock:
            if self.error:  # matching off or broken: the next start-up sync catches up
                return
            if not self.ready or self.engine is None:
                self._pending.update(changes)
                return
            engine = self.engine
        with Session(bind) as session:
            for side, record_id in changes:
                _apply_change(engine, session, side, record_id)

    def close(self) -> None:
        with _followers_lock:
            _followers.discard(self)
        if self.ready and self.engine is not None:
            try:  # another worker's erasures first: the saved index must not bring their text back
                self.catch_up()
            except Exception:
                logger.exception("catching up with other workers' writes before saving the index failed")
            self.engine.save()


# --- every commit reaches the index ------------------------------------------------------

# The states of this process's running applications (one in production), told of every commit.
_followers: set[MatchingState] = set()
_followers_lock = threading.Lock()
# In Session.info: what the open transaction wrote, and what its commit made final.
_CHANGES_KEY = "koppelkans.index_changes"
_COMMITTED_KEY = "koppelkans.index_changes_committed"


@event.listens_for(Session, "after_flush")
def _remember_index_changes(session: Session, _flush_context: object) -> None:
    if _followers:
        session.info.setdefault(_CHANGES_KEY, set()).update(flushed_changes(session))


@event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    if not session.in_nested_transaction() and _CHANGES_KEY in session.info:
        session.info[_COMMITTED_KEY] = session.info.pop(_CHANGES_KEY)


@event.listens_for(Session, "after_transaction_end")
def _apply_committed_changes(session: Session, transaction: SessionTransaction) -> None:
    """Once the outermost transaction has ended, hand what it committed to the index.

    Here rather than in ``after_commit``: by now the session has given its connection back, so
    reading the written records takes no second connection from the pool while one is held.
    """
    if transaction.parent is not None:
        return
    session.info.pop(_CHANGES_KEY, None)  # rolled back
    committed = session.info.pop(_COMMITTED_KEY, None)
    if not committed:
        return
    with _followers_lock:
        followers = list(_followers)
    ordered = sorted(committed)
    for state in followers:
        state.apply_committed(ordered, session.get_bind())


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
