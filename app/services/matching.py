"""The matching engine of this process: built at start-up, in step with the database through the
change log, and told of every company or need this process commits.

The engine (``app.matching``) knows texts and ids only. What it may match is decided in
matchable.py; how the index follows the database's writes in indexing.py; the answers shaped
for a caller are in match_views.py.
"""

import logging
import threading
import time
from collections.abc import Collection

import anyio
from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from app.core.config import Settings
from app.core.db import get_engine, read
from app.core.errors import IndexNotReady
from app.core.memory import exempt_from_cycle_collection, include_in_cycle_collection, return_free_memory
from app.domain import Indexing
from app.matching.engine import MatchEngine
from app.services.change_log import LOGGED_THROUGH_KEY, flushed_changes, latest_change, oldest_change
from app.services.indexing import (
    Change,
    IndexFollower,
    LogPosition,
    apply_changes,
    held,
    remove,
    unwanted,
)
from app.services.matchable import NeedFilterCache, documents_from_database
from app.services.shared_precompute import SharedPrecompute

logger = logging.getLogger(__name__)


def build_engine(settings: Settings) -> MatchEngine:
    """The configured dense model plus the multilingual encoder, ANN indexes in the configured store."""
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
    """The engine of one process, with its start-up build and its place in the change log.

    A serving process (``start_in_background``) takes writes in through its index follower
    (indexing.py), after they are acknowledged; without a follower (``ready_with``: tests and
    tools that match right after writing) each commit is applied before it returns.
    """

    def __init__(self, engine: MatchEngine | None = None) -> None:
        self.engine = engine
        self.ready = False
        self.error: str | None = None
        self.started_at = time.monotonic()
        # Held while changes are applied: a removal in a committing request waits for a batch
        # that may have read the record before it was erased.
        self._lock = threading.Lock()
        self.position = LogPosition()
        self.follower: IndexFollower | None = None
        self.shared_precompute: SharedPrecompute | None = None
        self.last_read_at = float("-inf")  # when a match request last started (the follower waits)
        self.need_filters = NeedFilterCache()
        # Matches computed at once; more requests wait their turn here (see MATCHES_AT_ONCE).
        self.match_slots = threading.BoundedSemaphore(MATCHES_AT_ONCE)
        self.closed = False  # the application stopped: a build still running starts nothing after

    disabled = False

    @classmethod
    def switched_off(cls) -> "MatchingState":
        """Matching disabled by configuration: the service is ready, the matching endpoints say why not."""
        state = cls()
        state.error, state.disabled = "matching is switched off (KOPPELKANS_MATCHING_ENABLED=false)", True
        return state

    @classmethod
    def ready_with(cls, engine: MatchEngine, *, follow_in_background: bool = False) -> "MatchingState":
        """A state serving ``engine`` at once; ``follow_in_background``: with an index follower, as
        a server has, from the change log's newest number (else each commit is applied in it)."""
        state = cls(engine)
        state.ready = True
        if follow_in_background:
            with Session(get_engine()) as session:
                state.applied_through = latest_change(session)
            state.follower = IndexFollower(state.catch_up, lambda: state.last_read_at)
            state.follower.start()
        return state

    @property
    def applied_through(self) -> int:
        """The newest change-log number this process's index has taken in."""
        return self.position.applied_through

    @applied_through.setter
    def applied_through(self, number: int) -> None:
        self.position.reset(number)

    def start_in_background(self, settings: Settings) -> threading.Thread:
        """Build the index in a thread; once it is ready, writes are taken in by the index follower."""
        self.follower = IndexFollower(self.catch_up, lambda: self.last_read_at)
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
            exempt_from_cycle_collection()  # the loaded index: no full pass walks it again
            return_free_memory()  # what that last pass freed (load_or_build returned the rest)
            with self._lock:
                if self.closed:
                    return
                self.applied_through = start_from
                self.ready = True
                if self.follower is not None:
                    self.follower.start()
                    self.follower.wake()  # what was written during the build
                if settings.precompute_matches:
                    # One worker process searches every need's companies; the others take what it found.
                    self.shared_precompute = SharedPrecompute()
                    self.engine.share_precompute(self.shared_precompute)
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

    @property
    def follows_in_background(self) -> bool:
        return self.follower is not None and self.follower.running

    def require_engine(self, session: Session | None = None) -> MatchEngine:
        """The engine for a match; ``session``: the request's own, to catch up with the change log
        where no index follower does."""
        engine = self._require_ready()
        self.last_read_at = time.monotonic()
        if not self.follows_in_background:
            self.catch_up(session)
        return engine

    async def current_engine(self) -> MatchEngine:
        """``require_engine`` for a request on the event loop (the index follower catches up)."""
        engine = self._require_ready()
        self.last_read_at = time.monotonic()
        if not self.follows_in_background and await read(latest_change) > self.applied_through:
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
        """Apply what the change log holds past this process's place in it; returns how many
        changes. One indexed read when nothing changed."""
        if session is None:
            with Session(get_engine()) as own_session:
                return self.catch_up(own_session)
        if self.engine is None or latest_change(session) <= self.applied_through:
            return 0
        with self._lock:
            if oldest_change(session) > self.applied_through + 1:
                # Entries this process never applied were pruned (it slept past the retention window).
                return self._resynchronise(self.engine, session)
            fresh = self.position.unapplied(session)
            changes = [change for _, change in fresh]
            if any(side == "need" for side, _ in changes):
                self.need_filters.invalidate()
            apply_changes(self.engine, session, changes)
            self.position.mark_applied([number for number, _ in fresh])
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
        return changed

    def follow_commits(self) -> None:
        """Hear of every company or need this process commits, right after the commit (see
        ``_apply_committed_changes``); the application's lifespan calls this."""
        with _followers_lock:
            _followers.add(self)

    def apply_committed(self, changes: Collection[Change], bind: Engine | Connection) -> None:
        """Companies and needs were just committed (or erased): with an index follower, what must
        leave the index leaves it now and the rest is queued; without one, all is applied now."""
        if any(side == "need" for side, _ in changes):
            self.need_filters.invalidate()
        if self.error or not self.ready or self.engine is None:
            return  # matching off or broken, or the start-up build catches up with the log
        if self.follower is None:
            with self._lock, Session(bind) as session:
                apply_changes(self.engine, session, changes)
            return
        if known := held(self.engine, changes):
            # Most writes leave their record matchable: only a removal waits for the lock, which
            # the follower holds while it encodes a batch.
            with Session(bind) as session:
                leaving = unwanted(session, known)
            if any(leaving.values()):
                with self._lock:
                    remove(self.engine, leaving)
        self.follower.wake()

    def indexing(self, session: Session, *, matchable: bool = True) -> Indexing:
        """When matching knows the company or need ``session`` just committed (``matchable``:
        False for a company matching must not take in)."""
        if self.disabled or self.error or not matchable:
            return Indexing.off
        logged = session.info.get(COMMITTED_THROUGH_KEY, 0)
        if self.ready and (self.follower is None or logged <= self.applied_through):
            return Indexing.done
        return Indexing.pending

    def changes_waiting(self) -> int:
        """How many change-log numbers past this process's place the log holds (0: the index has
        taken in every write committed so far)."""
        with Session(get_engine()) as session:
            return max(0, latest_change(session) - self.applied_through)

    def close(self) -> None:
        with _followers_lock:
            _followers.discard(self)
        with self._lock:
            self.closed = True
        if self.follower is not None:
            self.follower.stop()
        if self.shared_precompute is not None:
            # Stopped first: its next look at the lease would take back what close lets go of.
            if self.engine is not None:
                self.engine.stop_precompute()
            self.shared_precompute.close()
        if self.ready and self.engine is not None:
            try:  # other workers' erasures too: the saved index must not bring their text back
                self.catch_up()
            except Exception:
                logger.exception("catching up with the change log before saving the index failed")
            self.engine.save()
        include_in_cycle_collection()


# --- every commit reaches the index ------------------------------------------------------

# The states of this process's running applications (one in production), told of every commit.
_followers: set[MatchingState] = set()
_followers_lock = threading.Lock()
# In Session.info: what the open transaction wrote, and what its commit made final.
_CHANGES_KEY = "koppelkans.index_changes"
_COMMITTED_KEY = "koppelkans.index_changes_committed"
# In Session.info: the highest change-log number the last commit wrote (``MatchingState.indexing``).
COMMITTED_THROUGH_KEY = "koppelkans.committed_through"


@event.listens_for(Session, "after_flush")
def _remember_index_changes(session: Session, _flush_context: object) -> None:
    if _followers:
        session.info.setdefault(_CHANGES_KEY, set()).update(flushed_changes(session))


@event.listens_for(Session, "after_commit")
def _mark_committed(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if LOGGED_THROUGH_KEY in session.info:
        session.info[COMMITTED_THROUGH_KEY] = session.info.pop(LOGGED_THROUGH_KEY)
    if _CHANGES_KEY in session.info:
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
    session.info.pop(LOGGED_THROUGH_KEY, None)
    committed = session.info.pop(_COMMITTED_KEY, None)
    if not committed:
        return
    with _followers_lock:
        followers = list(_followers)
    ordered = sorted(committed)
    for state in followers:
        state.apply_committed(ordered, session.get_bind())
