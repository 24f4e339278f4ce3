"""The engine's index on disk: saved to `data_dir/index/` (persistence.py writes the files),
loaded at start-up and brought in step with the database, with the candidates the precompute
had kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from app.core.memory import return_free_memory
from app.matching import persistence
from app.matching.materialised import MaterialisedKey
from app.matching.state import EngineState
from app.matching.store import SIDES, Document, Side
from app.matching.text import TEXT_RULES_VERSION
from app.matching.writes import SyncReport, WritePath

# The database's view of the documents: per side, or a function of the side.
DocumentSource = Mapping[str, Iterable[Document]] | Callable[[Side], Iterable[Document]]


class SavedIndex:
    def __init__(self, state: EngineState, writes: WritePath) -> None:
        self.state = state
        self.writes = writes

    def manifest_expectation(self) -> dict[str, Any]:
        """What a saved index must have been made with to be loaded (else it is stale)."""
        return {
            "text_rules_version": TEXT_RULES_VERSION,
            "encoders": {
                name: {"model_id": enc.model_id, "dim": enc.dim} for name, enc in sorted(self.state.encoders.items())
            },
        }

    def save(self) -> None:
        """Write all sides to `data_dir/index/` atomically (temp folder, fsync, rename)."""
        state = self.state
        with state.write_lock:
            kept: dict[Side, list[persistence.KeptEntry]] = {side: [] for side in state.snapshots}
            for side, snapshot in state.snapshots.items():
                for key, candidates in state.materialised.thorough(side, snapshot.main).items():
                    if key.allowed_ids is None:
                        query = persistence.KeptQuery(key.query_side, key.query_id, key.content_hash, key.pool)
                        context = (state.pairs.kept_context((key.query_id, key.content_hash), snapshot)
                                   if side == "company" and key.query_side == "need" else None)
                        kept[side].append(persistence.KeptEntry(
                            query, candidates, float("nan") if context is None else context))
            persistence.save(state.data_dir / "index", dict(state.snapshots), self.manifest_expectation(),
                             state.counts(), kept)

    def load_or_build(
        self, documents: DocumentSource | None = None, progress: bool = False, precompute: bool = False
    ) -> dict[Side, SyncReport]:
        """Load the saved index if it is present and made by the same encoders, then bring each
        side in step with `documents` (the database's view) and save if anything changed.

        A missing or stale index is rebuilt; thanks to the embedding cache, only texts that were
        never encoded are encoded. With `precompute` (`koppelkans reindex`) every need's
        companies and context are found before the save and saved with the index, so a server
        started on it answers a company's first page without searching each of its needs'
        contexts (left to the server's own precompute: about 2 minutes at 100,000 companies).
        """
        state = self.state
        loaded = persistence.load(state.data_dir / "index", self.manifest_expectation(), state.encoders,
                                  state.ann_factory, ann_min_passages=state.ann_min_passages)
        if loaded is not None:
            with state.write_lock:
                for snapshot in loaded.snapshots.values():
                    state.swap(snapshot)
                self._keep_loaded(loaded.kept)
        reports: dict[Side, SyncReport] = {}
        if documents is not None:
            for side in SIDES:
                docs = documents(side) if callable(documents) else documents.get(side, ())
                reports[side] = self.writes.sync(side, docs, progress=progress)
        changed = any(r.added or r.updated or r.removed for r in reports.values())
        if precompute:
            changed = self.writes.precomputer.run() > 0 or changed
        if changed or loaded is None:
            self.save()
        return_free_memory()  # what reading the saved index and the database's documents let go of
        return reports

    def _keep_loaded(self, kept: Mapping[Side, persistence.KeptCandidates]) -> None:
        """Keep the precompute's saved candidates again, for the queries whose text is still the
        one they were found for: the precompute then skips them; and the needs' saved contexts,
        which a company's first page would otherwise find for each of its candidate needs."""
        for target, entries in kept.items():
            for entry in entries:
                query = entry.query
                stored = self.state.snapshots[query.side].documents.get(query.id)
                if stored is not None and stored.content_hash == query.content_hash:
                    key = MaterialisedKey(target, query.side, query.id, query.content_hash, None, query.pool)
                    self.state.materialised.keep(key, entry.candidates, thorough=True)
                    if target == "company" and query.side == "need" and math.isfinite(entry.context):
                        self.state.pairs.keep_context((query.id, query.content_hash), self.state.snapshots["company"],
                                                      entry.context)
