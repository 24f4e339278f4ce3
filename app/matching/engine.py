"""The matching engine the web service calls: keep the indexes in step with the database and
answer "what matches this company / need / text", with explanations.

`MatchEngine` is a façade over parts that share one `EngineState` (state.py: the settings, the
current snapshot of each side, the write lock and the caches):
- writes.py           upsert / remove / sync, one writer at a time;
- snapshot_builder.py the side's next snapshot after a write, and when a write merges;
- background_merge.py merges in a thread, for a serving engine;
- search.py           match: candidates, ranking and explanations;
- precompute.py       every need's companies found in advance, for a serving engine;
- saved_index.py      save and load_or_build (files: persistence.py);
- weekly.py           the weekly list in one batch.

Concurrency: a write builds a new immutable snapshot of its side and swaps it in with one
assignment, so searches never take a lock and never see a half-written index.

Files in `data_dir`: `embeddings.sqlite` (the embedding cache) and `index/` (the saved index).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from app.matching.ann import AnnFactory
from app.matching.background_merge import BackgroundMerges
from app.matching.encoders import Encoder
from app.matching.fusion import FUSION_WEIGHTS, FusionWeights
from app.matching.materialised import DEFAULT_BUDGET_BYTES
from app.matching.pair_model import PairModel
from app.matching.pair_scoring import model_path
from app.matching.precompute import Precomputer, SharedCandidates
from app.matching.ranking import ChosenRows, QueryView, ScoredCandidates
from app.matching.saved_index import DocumentSource, SavedIndex
from app.matching.search import Match, Searcher
from app.matching.segment import ANN_MIN_PASSAGES
from app.matching.snapshot_builder import DELTA_SHARE, MERGE_ALWAYS_BELOW
from app.matching.state import EngineState
from app.matching.store import Document, Side, SideSnapshot, side_named
from app.matching.weekly import WeeklyPairs, weekly_pairs
from app.matching.writes import SyncReport, WritePath

__all__ = ["Document", "Match", "MatchEngine", "SyncReport"]


class MatchEngine:
    def __init__(
        self,
        data_dir: Path,
        dense: Encoder | None,
        multilingual: Encoder | None,
        *,
        weights: FusionWeights | None = None,
        candidate_pool: int = 200,
        merge_always_below: int = MERGE_ALWAYS_BELOW,
        delta_share: float = DELTA_SHARE,
        ann_factory: AnnFactory | None = None,
        ann_min_passages: int = ANN_MIN_PASSAGES,
        materialised_bytes: int = DEFAULT_BUDGET_BYTES,
        pair_model: PairModel | None = None,
    ) -> None:
        encoders = {name: enc for name, enc in (("dense", dense), ("multilingual", multilingual)) if enc is not None}
        self.state = EngineState(
            Path(data_dir), encoders, weights=weights or FUSION_WEIGHTS, candidate_pool=candidate_pool,
            merge_always_below=merge_always_below, delta_share=delta_share, ann_factory=ann_factory,
            ann_min_passages=ann_min_passages, materialised_bytes=materialised_bytes,
            pair_model=pair_model or PairModel.load(model_path(Path(data_dir))),
        )
        self.searcher = Searcher(self.state)
        self.precomputer = Precomputer(self.state, self.searcher)
        self.merges = BackgroundMerges(self.state, self.precomputer)
        self.writes = WritePath(self.state, self.merges, self.precomputer)
        self.saved_index = SavedIndex(self.state, self.writes)

    # ---------- settings ----------
    @property
    def data_dir(self) -> Path:
        return self.state.data_dir

    @property
    def weights(self) -> FusionWeights:
        return self.state.weights

    @property
    def pair_model(self) -> PairModel:
        """The model that gives each pair its probability of fit (a tuned one from `data_dir`
        when `koppelkans tune` wrote one, else the packaged one)."""
        return self.state.pairs.model

    @property
    def ann_factory(self) -> AnnFactory | None:
        return self.state.ann_factory

    @property
    def candidate_pool(self) -> int:
        """Passages taken from each signal per query vector before exact re-scoring."""
        return self.state.candidate_pool

    @candidate_pool.setter
    def candidate_pool(self, pool: int) -> None:
        self.state.candidate_pool = pool

    # ---------- writing ----------
    def upsert(self, docs: Sequence[Document]) -> None:
        """Add or replace documents; a changed text is re-encoded, an unchanged one is not."""
        self.writes.upsert(docs)

    def remove(self, side: str, ids: Iterable[int]) -> None:
        """Erase these documents: vectors, passages and cached embeddings, and their text in the saved index."""
        self.writes.remove(side_named(side), ids)

    def sync(self, side: str, docs: Iterable[Document], progress: bool = False) -> SyncReport:
        """Make the side hold exactly `docs`: add missing, re-encode changed, drop the rest."""
        return self.writes.sync(side_named(side), docs, progress)

    def merge(self, side: str) -> None:
        """Fold the side's delta segment into a new main segment now (also done automatically)."""
        self.writes.merge(side_named(side))

    def enable_background_merges(self) -> None:
        """From now on a write that lets a delta outgrow its share returns at once and the merge
        runs in a thread (the server, once its index is loaded)."""
        self.merges.enable()

    def wait_for_merges(self, timeout: float | None = None) -> bool:
        """Wait until no merge runs in the background; False if one still does after `timeout`."""
        return self.merges.wait(timeout)

    def merging(self) -> bool:
        """Whether a merge runs in the background now."""
        return self.merges.running()

    # ---------- searching ----------
    def match(
        self,
        query: Document | str,
        *,
        target: str,
        allowed_ids: Collection[int] | None = None,
        excluded_ids: Collection[int] = (),
        limit: int = 10,
    ) -> list[Match]:
        """The best `limit` documents of `target` for a stored document or a free text.

        `allowed_ids` (None: all) and `excluded_ids` are database ids of the target side.
        """
        return self.searcher.match(query, target=side_named(target), allowed_ids=allowed_ids,
                                   excluded_ids=excluded_ids, limit=limit)

    def weekly_pairs(
        self,
        *,
        companies_per_need: int = 5,
        needs_per_company: int = 5,
        company_ids: Collection[int] | None = None,
        need_ids: Collection[int] | None = None,
        dismissed: Collection[tuple[int, int]] = (),
        workers: int = 1,
    ) -> WeeklyPairs:
        """Per need its top companies and per company its top needs, in one batch (weekly.py).
        `dismissed` holds (company id, need id) pairs; `workers` > 1: forked processes, for a
        command-line batch only."""
        return weekly_pairs(self.searcher, companies_per_need=companies_per_need,
                            needs_per_company=needs_per_company, company_ids=company_ids, need_ids=need_ids,
                            dismissed=dismissed, workers=workers)

    def query_view(self, query: Document | str) -> QueryView | None:
        """The query's passages, tokens and vectors; a stored document reuses its own."""
        return self.searcher.query_view(query)

    def candidate_scores(
        self,
        view: QueryView,
        snapshot: SideSnapshot,
        allowed_ids: Collection[int] | None,
        excluded_id: int | None = None,
        pool: int | None = None,
    ) -> ScoredCandidates:
        """Raw per-signal evidence for the candidates of a query (the evaluation uses it directly)."""
        return self.searcher.candidate_scores(view, snapshot, allowed_ids, excluded_id, pool)

    def scores_of_rows(self, view: QueryView, chosen: Sequence[ChosenRows]) -> ScoredCandidates:
        """Per-signal evidence for documents already chosen."""
        return self.searcher.scores_of_rows(view, chosen)

    def snapshot(self, side: str) -> SideSnapshot:
        """The current immutable state of a side (for the evaluation and diagnostics)."""
        return self.state.snapshots[side_named(side)]

    # ---------- precomputing ----------
    def start_precompute(self) -> None:
        """Keep every need's companies materialised from now on, in a background thread: once
        now, and again after each merge of the company side or write to the needs."""
        self.precomputer.start()

    def stop_precompute(self, timeout: float = 60) -> None:
        """Stop keeping every need's companies (the process stops serving); what is kept stays."""
        self.precomputer.stop(timeout)

    def precompute(self, yield_to_writes: bool = False) -> int:
        """Find and keep every need's companies with the precompute's deeper search now; returns
        how many needs it searched (a need already done for the current companies is skipped)."""
        return self.precomputer.run(yield_to_writes)

    def share_precompute(self, shared: SharedCandidates) -> None:
        """Share the precompute with other processes: one searches, the others score what it
        found (precompute.py). Called before ``start_precompute``."""
        self.precomputer.shared = shared

    @property
    def precompute_counts(self) -> dict[str, int]:
        """Needs whose companies this process searched, and took from another, since it started."""
        return {"searched": self.precomputer.searched, "taken": self.precomputer.taken}

    @property
    def precomputed(self) -> int:
        """Needs whose companies the last precompute pass found kept."""
        return self.precomputer.precomputed

    def read_needs_for_company_pages(self) -> None:
        """Keep what every company's page reads of the needs (Precomputer.read_needs_for_company_pages)."""
        self.precomputer.read_needs_for_company_pages()

    def forget_materialised(self) -> None:
        """Drop everything kept between matches (the benchmark's first asks start from nothing)."""
        self.state.materialised.clear()

    def materialised_bytes(self) -> int:
        return self.state.materialised.nbytes

    # ---------- the index on disk ----------
    def save(self) -> None:
        """Write all sides to `data_dir/index/` atomically (temp folder, fsync, rename)."""
        self.saved_index.save()

    def load_or_build(
        self, documents: DocumentSource | None = None, progress: bool = False, precompute: bool = False
    ) -> dict[Side, SyncReport]:
        """Load the saved index if it is present and made by the same encoders, then bring each
        side in step with `documents` (the database's view) and save if anything changed; with
        `precompute`, every need's companies are found first and saved too (SavedIndex.load_or_build)."""
        return self.saved_index.load_or_build(documents, progress, precompute)

    def counts(self) -> dict[str, dict[str, int]]:
        return self.state.counts()

    def close(self) -> None:
        """Close the embedding cache and the vector store. Indexes kept outside the process
        (pgvector) stay for the next start: only a merge retires them."""
        self.state.closed = True
        self.state.precompute_wanted.set()
        self.precomputer.join(timeout=60)
        # A merge in a FAISS build cannot be stopped: it finishes and is dropped (the saved
        # index holds its delta); waiting is bounded.
        self.merges.wait(timeout=60)
        self.state.cache.close()
        close_store = getattr(self.state.ann_factory, "close", None)
        if close_store is not None:
            close_store()
