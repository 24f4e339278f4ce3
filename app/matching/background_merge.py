"""Merges in the background, for a serving engine (`enable`): the write that lets a side's delta
outgrow its share returns at once, and a thread builds the merged segment from the snapshot of
that moment (minutes at 100,000 companies) and, for the company side, searches every need's
companies in it; then, under the write lock, the writes made meanwhile are laid over it as its
new delta and it is swapped in with those candidates kept. Without it (the command line, an
index being built), and when the delta grows to INLINE_MERGE_FACTOR times its share, the write
merges itself (snapshot_builder.py).
"""

from __future__ import annotations

import logging
import threading
import time

from app.matching.precompute import Precomputer
from app.matching.snapshot_builder import (
    INLINE_MERGE_FACTOR,
    delta_outgrown,
    merged_snapshot,
    with_writes_since,
)
from app.matching.state import EngineState
from app.matching.store import Side, SideSnapshot

logger = logging.getLogger(__name__)


class BackgroundMerges:
    def __init__(self, state: EngineState, precomputer: Precomputer) -> None:
        self.state = state
        self.precomputer = precomputer
        self.enabled = False
        self._threads: dict[Side, threading.Thread] = {}

    @property
    def merge_factor(self) -> float:
        """How many times its share a delta may grow to before a write merges it itself."""
        return INLINE_MERGE_FACTOR if self.enabled else 1

    def enable(self) -> None:
        """From now on a write that lets the delta outgrow its share returns at once and the
        merge runs in a thread (the server, once its index is loaded); a delta loaded already
        too big is merged now."""
        with self.state.write_lock:
            self.enabled = True
            for snapshot in self.state.snapshots.values():
                self.start_if_outgrown(snapshot)

    def start_if_outgrown(self, snapshot: SideSnapshot) -> None:
        """Start the side's merge thread if merges run in the background, its delta outgrew its
        share and none runs yet (the caller holds the write lock)."""
        if not self.enabled or not delta_outgrown(self.state, snapshot):
            return
        side = snapshot.side
        running = self._threads.get(side)
        if self.state.closed or (running is not None and running.is_alive()):
            return
        thread = threading.Thread(target=self._loop, args=(side,), name=f"matching-merge-{side}", daemon=True)
        self._threads[side] = thread
        thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no merge runs in the background; False if one still does after `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in list(self._threads.values()):
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.running()

    def running(self) -> bool:
        """Whether a merge runs in the background now."""
        return any(thread.is_alive() for thread in self._threads.values())

    def _loop(self, side: Side) -> None:
        try:
            while not self.state.closed and delta_outgrown(self.state, self.state.snapshots[side]):
                started = time.perf_counter()
                self._merge_once(side)
                seconds = time.perf_counter() - started
                logger.info("merged the %s side in the background in %.1f s", side, seconds)
        except Exception:  # the delta goes on holding the writes; the next write that outgrows it tries again
            logger.exception("merging the %s side in the background failed", side)

    def _merge_once(self, side: Side) -> None:
        """Build the merged main segment off the write lock, then swap it in with the writes made
        meanwhile as its delta. Building the FAISS graphs takes one core: the other serves."""
        base = self.state.snapshots[side]
        merged = merged_snapshot(self.state, base, ann_threads=1)
        staged = self.precomputer.stage(merged) if side == "company" else {}
        with self.state.write_lock:
            current = self.state.snapshots[side]
            if self.state.closed or current.main is not base.main:  # a write merged itself meanwhile
                for index in merged.main.ann.values():
                    index.close()
                return
            self.state.swap(with_writes_since(self.state, base, current, merged), staged)
