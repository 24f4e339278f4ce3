"""The precompute done once for all worker processes (the engine's side: matching/precompute.py).

The process holding the lease `precompute` (leases.py) searches every need's companies and
publishes, per need, the ids of the companies it kept (table `precomputed_need`) and, once per
company main segment it searched, which companies that segment held (`precompute_pass`: sorted
64-bit keys of id and content hash). Every other process scores, in its own main segment, the
companies published for the need plus those its segment holds that the pass did not search
(written since): nothing another search would have found is left out. When the two segments
differ too much (more than UNSEARCHED_SHARE), it searches itself.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import NamedTuple

import numpy as np
from sqlalchemy import delete, insert, select
from sqlmodel import Session, col

from app.core.db import new_session
from app.matching.precompute import Found
from app.matching.segment import Segment
from app.matching.store import StoredDocument
from app.models import Need, PrecomputedNeed, PrecomputePass
from app.services import leases

logger = logging.getLogger(__name__)

LEASE = "precompute"
LEASE_SECONDS = 30.0  # a searching process that stops is taken over this long after
RENEW_SECONDS = LEASE_SECONDS / 3
RELOAD_SECONDS = 2.0  # what was published is read again at most this often
UNSEARCHED_SHARE = 0.1  # above this share of its main segment unsearched, a process searches itself
PUBLISH_BATCH = 100


class Published(NamedTuple):
    content_hash: str
    pass_id: int
    company_ids: np.ndarray


def company_keys(main: Segment) -> np.ndarray:
    """A 64-bit key of the (id, content hash) of every company of a main segment, in row order."""
    return np.fromiter(
        (int.from_bytes(hashlib.blake2b(f"{i}:{d.content_hash}".encode(), digest_size=8).digest(), "little")
         for i, d in main.documents.items()), dtype=np.uint64, count=len(main.documents))


class SharedPrecompute:
    """``SharedCandidates`` (matching/precompute.py) over the database."""

    def __init__(
        self, holder: str | None = None, session_factory: Callable[[], Session] = new_session,
        renew_seconds: float = RENEW_SECONDS,
    ) -> None:
        self.holder = holder or leases.this_process()
        self.renew_seconds = renew_seconds
        self._session_factory = session_factory
        self._lock = threading.Lock()
        self._leading = False
        self._renewed_at = float("-inf")
        self._pass: tuple[Segment, int] | None = None  # the main segment this process searches, its pass
        self._in_pass: set[tuple[int, str]] = set()  # needs (id, content hash) published for it
        self._outbox: list[tuple[StoredDocument, int, np.ndarray]] = []
        self._published: dict[int, Published] = {}
        self._loaded_at = float("-inf")
        self._pass_keys: dict[int, np.ndarray] = {}
        self._unsearched: tuple[Segment, int, np.ndarray | None] | None = None

    # --- who searches -----------------------------------------------------------------

    def searching(self) -> bool:
        if time.monotonic() - self._renewed_at >= self.renew_seconds:
            self._renewed_at = time.monotonic()
            leading = leases.hold(LEASE, self.holder, LEASE_SECONDS)
            if leading and not self._leading:
                logger.info("this process finds every need's companies for all workers")
            self._leading = leading
        return self._leading

    def close(self) -> None:
        if self._leading:
            leases.let_go(LEASE, self.holder)
            self._leading = False

    # --- the searching process ----------------------------------------------------------

    def publish(self, need: StoredDocument, main: Segment, company_ids: np.ndarray) -> None:
        with self._lock:
            if self._pass is None or self._pass[0] is not main:
                self._pass = (main, self._new_pass(main))
                self._in_pass = set()
            if (need.document.id, need.content_hash) in self._in_pass:
                return
            self._in_pass.add((need.document.id, need.content_hash))
            self._outbox.append((need, self._pass[1], company_ids))
            full = len(self._outbox) >= PUBLISH_BATCH
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            outbox, self._outbox = self._outbox, []
        if not outbox:
            return
        try:
            self._write(outbox)
        except Exception:
            with self._lock:  # tried again with the next batch
                self._outbox = outbox + self._outbox
            raise

    def _write(self, outbox: list[tuple[StoredDocument, int, np.ndarray]]) -> None:
        now = datetime.now(UTC)
        rows = {need.document.id: {"need_id": need.document.id, "content_hash": need.content_hash, "pass_id": pass_id,
                                   "company_ids": company_ids.astype(np.int32).tobytes(), "computed_at": now}
                for need, pass_id, company_ids in outbox}
        with self._session_factory() as session:
            connection = session.connection()
            # A need erased meanwhile has nothing to refer to: rows for the needs that still exist.
            existing = set(connection.execute(select(col(Need.id)).where(col(Need.id).in_(list(rows)))).scalars())
            connection.execute(delete(PrecomputedNeed).where(col(PrecomputedNeed.need_id).in_(list(rows))))
            if existing:
                connection.execute(insert(PrecomputedNeed), [row for i, row in rows.items() if i in existing])
            current = {pass_id for _, pass_id, _ in outbox}
            in_use = select(col(PrecomputedNeed.pass_id)).distinct()
            connection.execute(delete(PrecomputePass).where(col(PrecomputePass.id).not_in(in_use),
                                                            col(PrecomputePass.id).not_in(current)))
            session.commit()

    def _new_pass(self, main: Segment) -> int:
        with self._session_factory() as session:
            row = PrecomputePass(holder=self.holder, companies=np.sort(company_keys(main)).tobytes())
            session.add(row)
            session.commit()
            assert row.id is not None
            return row.id

    # --- the other processes ------------------------------------------------------------

    def found(self, need: StoredDocument, main: Segment) -> Found:
        published = self._published_for(need)
        if published is None:
            return Found(wait=True)
        unsearched = self._unsearched_in(main, published.pass_id)
        if unsearched is None:
            return Found()  # the pass and this main segment differ too much: search here
        return Found(np.union1d(published.company_ids, unsearched))

    def _published_for(self, need: StoredDocument) -> Published | None:
        found = self._published.get(need.document.id)
        if (found is None or found.content_hash != need.content_hash) and (
                time.monotonic() - self._loaded_at >= RELOAD_SECONDS):
            self._load_published()
            found = self._published.get(need.document.id)
        return found if found is not None and found.content_hash == need.content_hash else None

    def _load_published(self) -> None:
        self._loaded_at = time.monotonic()
        with self._session_factory() as session:
            rows = session.execute(select(col(PrecomputedNeed.need_id), col(PrecomputedNeed.content_hash),
                                          col(PrecomputedNeed.pass_id), col(PrecomputedNeed.company_ids))).all()
        self._published = {need_id: Published(content_hash, pass_id, np.frombuffer(ids, dtype=np.int32))
                           for need_id, content_hash, pass_id, ids in rows}

    def _unsearched_in(self, main: Segment, pass_id: int) -> np.ndarray | None:
        """The ids of the companies of ``main`` the pass did not search; None when there are too many."""
        if self._unsearched is not None and self._unsearched[0] is main and self._unsearched[1] == pass_id:
            return self._unsearched[2]
        searched = self._pass_keys.get(pass_id)
        if searched is None:
            with self._session_factory() as session:
                blob = session.execute(select(col(PrecomputePass.companies)).where(col(PrecomputePass.id) == pass_id)
                                       ).scalar()
            searched = np.frombuffer(blob or b"", dtype=np.uint64)
            self._pass_keys = {pass_id: searched}  # one pass at a time is in use
        ids = np.fromiter(main.documents.keys(), dtype=np.int64, count=len(main.documents))
        keys = company_keys(main)
        unsearched: np.ndarray | None = ids[~np.isin(keys, searched, assume_unique=True)]
        if unsearched is not None and len(unsearched) > UNSEARCHED_SHARE * max(1, len(ids)):
            unsearched = None
        self._unsearched = (main, pass_id, unsearched)
        return unsearched

