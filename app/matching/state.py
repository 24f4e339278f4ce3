"""What the parts of the matching engine share (engine.py wires them together): the settings,
the current snapshot of each side, the write lock, the embedding cache and what is kept between
matches.

Searches read `snapshots[side]` without a lock: a snapshot is immutable and a write replaces it
with one assignment (`swap`), holding `write_lock`, which also lets one writer in at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from app.matching.ann import AnnFactory
from app.matching.encoders import Encoder
from app.matching.explain import word_forms
from app.matching.fusion import FusionWeights
from app.matching.materialised import MaterialisedKey, MaterialisedMatches
from app.matching.pair_model import PairModel
from app.matching.pair_scoring import PairScorer
from app.matching.ranking import SegmentCandidates
from app.matching.segment import Segment
from app.matching.store import SIDES, EmbeddingCache, Side, SideSnapshot
from app.matching.text import Language

# Documents per side whose word forms are kept for explanations (about 6 KB per need, 3 KB per
# company profile of 1,000 characters).
WORD_FORMS_KEPT: Mapping[Side, int] = {"need": 8192, "company": 2048}

WordForms = Callable[[str, Language], dict[str, str]]


class EngineState:
    def __init__(
        self,
        data_dir: Path,
        encoders: Mapping[str, Encoder],
        *,
        weights: FusionWeights,
        candidate_pool: int,
        merge_always_below: int,
        delta_share: float,
        ann_factory: AnnFactory | None,
        ann_min_passages: int,
        materialised_bytes: int,
        pair_model: PairModel,
    ) -> None:
        self.data_dir = data_dir
        self.encoders: dict[str, Encoder] = dict(encoders)
        self.weights = weights
        # Passages taken from each signal per query vector before exact re-scoring.
        self.candidate_pool = candidate_pool
        # The merge policy (snapshot_builder.py).
        self.merge_always_below = merge_always_below
        self.delta_share = delta_share
        # Vectors → ann.PassageSearch for a big main segment. None: FAISS HNSW (ann.py); a
        # pgvector_ann.PgvectorStore keeps them in PostgreSQL and is closed with the engine.
        self.ann_factory = ann_factory
        self.ann_min_passages = ann_min_passages
        self.cache = EmbeddingCache(data_dir / "embeddings.sqlite")
        self.write_lock = threading.Lock()
        self.snapshots: dict[Side, SideSnapshot] = {side: self.empty_snapshot(side) for side in SIDES}
        # Stored queries' candidates and explanation texts, kept between matches (materialised.py);
        # a budget of 0 keeps nothing.
        self.materialised = MaterialisedMatches(materialised_bytes)
        # Per side the word forms of the documents explained lately (explain.word_forms): a
        # need's are read for every company it matches, so the need side keeps all of them.
        self.word_forms: dict[Side, WordForms] = {
            side: lru_cache(maxsize=WORD_FORMS_KEPT[side])(word_forms) for side in SIDES
        }
        # Set when every need's companies are to be found again: new needs, or a new main
        # segment of companies (precompute.py).
        self.precompute_wanted = threading.Event()
        # Each pair's calibrated probability of fit, and what it keeps per need (pair_scoring.py).
        self.pairs = PairScorer(pair_model)
        self.closed = False

    @property
    def dense_cross_lingual(self) -> bool:
        """Whether the dense encoder reads across languages (the fusion trusts it there then)."""
        return bool(getattr(self.encoders.get("dense"), "cross_lingual", False))

    def empty_segment(self) -> Segment:
        return Segment.empty({name: encoder.dim for name, encoder in self.encoders.items()})

    def empty_snapshot(self, side: Side) -> SideSnapshot:
        return SideSnapshot.build(side, self.empty_segment(), self.empty_segment())

    def swap(
        self, snapshot: SideSnapshot, staged: Mapping[MaterialisedKey, SegmentCandidates] | None = None
    ) -> None:
        """Make `snapshot` current (the caller holds the write lock); a main segment it replaces
        lets go of its ANN index (a search still running on the old snapshot is then answered
        exactly). `staged`: candidates the precompute found in the new main segment before it
        was swapped in."""
        old = self.snapshots[snapshot.side]
        self.snapshots[snapshot.side] = snapshot
        self.materialised.retire(snapshot.side, snapshot.main, staged)
        if snapshot.main is not old.main:
            for index in old.main.ann.values():
                index.close()
        if snapshot.side == "need" or snapshot.main is not old.main:
            self.precompute_wanted.set()  # new needs, or every need's companies to find again

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            side: {"documents": len(s.documents), "passages": sum(len(d.passages) for d in s.documents.values()),
                   "delta_documents": len(s.delta.document_ids)}
            for side, s in self.snapshots.items()
        }
