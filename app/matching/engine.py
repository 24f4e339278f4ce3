"""The matching engine the web service calls: keep the indexes in step with the database and
answer "what matches this company / need / text", with explanations.

Concurrency: one writer at a time (`_write_lock`). A write builds a new immutable snapshot of
the side (copied vector indexes, rebuilt BM25) and swaps it in with one assignment, so searches
never take a lock and never see a half-written index.

Files in `data_dir`: `embeddings.sqlite` (the embedding cache) and `index/` (saved snapshots:
`manifest.json`, `<side>.<signal>.faiss`, `<side>.documents.json`), written atomically by save().
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from app.matching.encoders import Encoder
from app.matching.explain import explain_match
from app.matching.fusion import (
    FUSION_WEIGHTS,
    CandidateScores,
    FusionWeights,
    fuse,
    language_conditions,
    top_order,
)
from app.matching.index import VectorIndex, read_folder, write_folder_atomically
from app.matching.ranking import QueryView, best_passage_pairs, score_candidates
from app.matching.store import (
    SIDES,
    Document,
    EmbeddingCache,
    Side,
    SideSnapshot,
    StoredDocument,
    content_hash,
    documents_from_json,
    documents_to_json,
    prepare_document,
)
from app.matching.text import TEXT_RULES_VERSION, detect_language, split_passages, tokenize

logger = logging.getLogger(__name__)

__all__ = ["Document", "Match", "MatchEngine", "SyncReport"]

ENCODE_BATCH = 64
FREE_TEXT_ID = -1  # never a database id
_TARGET_ALIASES = {"company": "company", "companies": "company", "need": "need", "needs": "need"}


@dataclass
class Match:
    id: int
    score: float
    explanation: dict


@dataclass
class SyncReport:
    side: str
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    passages_encoded: int = 0
    seconds: float = 0.0


@dataclass
class _Encoded:
    """Vectors for the passages of a batch of documents, per signal."""

    by_signal: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # signal → hash → vector
    passages_encoded: int = 0


class MatchEngine:
    def __init__(
        self,
        data_dir: Path,
        dense: Encoder | None,
        multilingual: Encoder | None,
        *,
        weights: FusionWeights | None = None,
        candidate_pool: int = 200,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.encoders: dict[str, Encoder] = {
            name: enc for name, enc in (("dense", dense), ("multilingual", multilingual)) if enc is not None
        }
        self.weights = weights or FUSION_WEIGHTS
        # Passages taken from each signal per query passage before exact re-scoring.
        self.candidate_pool = candidate_pool
        self._cache = EmbeddingCache(self.data_dir / "embeddings.sqlite")
        self._write_lock = threading.Lock()
        self._next_passage_id = 1
        self._snapshots: dict[str, SideSnapshot] = {side: self._empty_snapshot(side) for side in SIDES}

    # ---------- writing ----------
    def upsert(self, docs: Sequence[Document]) -> None:
        """Add or replace documents; a changed text is re-encoded, an unchanged one is not."""
        for side in SIDES:
            batch = [d for d in docs if d.side == side]
            if batch:
                self._apply(side, batch, removals=(), progress=False)

    def remove(self, side: str, ids: Iterable[int]) -> None:
        """Erase these documents: vectors, passages and cached embeddings."""
        self._apply(self._side(side), (), removals=set(ids), progress=False)

    def sync(self, side: str, docs: Iterable[Document], progress: bool = False) -> SyncReport:
        """Make the side hold exactly `docs`: add missing, re-encode changed, drop the rest."""
        side = self._side(side)
        wanted = {d.id: d for d in docs if d.side == side}
        # Removals are decided from the state before the write lock is taken: a document that
        # a concurrent upsert adds meanwhile is kept rather than silently dropped.
        current = self._snapshots[side].documents
        return self._apply(
            side, list(wanted.values()), removals=set(current) - set(wanted), progress=progress
        )

    def _apply(
        self, side: Side, docs: Sequence[Document], removals: Collection[int], progress: bool
    ) -> SyncReport:
        started = time.perf_counter()
        report = SyncReport(side)
        with self._write_lock:
            old = self._snapshots[side]
            documents = dict(old.documents)
            changed: list[StoredDocument] = []
            dropped: list[StoredDocument] = [documents.pop(i) for i in removals if i in documents]
            report.removed = len(dropped)
            for doc in docs:
                previous = documents.get(doc.id)
                if previous is not None and previous.content_hash == content_hash(doc):
                    report.unchanged += 1
                    continue
                prepared = prepare_document(doc, self._next_passage_id)
                self._next_passage_id += len(prepared.passages)
                report.updated += previous is not None
                report.added += previous is None
                if previous is not None:
                    dropped.append(previous)
                documents[doc.id] = prepared
                changed.append(prepared)
            if not changed and not dropped:
                report.seconds = time.perf_counter() - started
                return report

            encoded = self._vectors_for(changed, side, progress)
            report.passages_encoded = encoded.passages_encoded
            indexes = {}
            for signal, index in old.vector_indexes.items():
                index = index.copy()
                index.remove({i for d in dropped for i in d.passage_ids})
                if changed:
                    vectors = encoded.by_signal[signal]
                    index.add(
                        np.array([i for d in changed for i in d.passage_ids]),
                        np.stack([vectors[h] for d in changed for h in d.passage_hashes]),
                    )
                indexes[signal] = index
            snapshot = SideSnapshot.build(side, documents, indexes)
            self._snapshots[side] = snapshot
            self._forget_unused_embeddings(dropped)
        report.seconds = time.perf_counter() - started
        return report

    def _vectors_for(self, changed: Sequence[StoredDocument], side: str, progress: bool) -> _Encoded:
        """Vectors of the changed documents' passages: from the cache, else encoded (and cached)."""
        result = _Encoded()
        texts = {h: p.text for d in changed for h, p in zip(d.passage_hashes, d.passages, strict=True)}
        for signal, encoder in self.encoders.items():
            found = self._cache.get_many(encoder.model_id, texts, encoder.dim)
            missing = [h for h in texts if h not in found]
            fresh: dict[str, np.ndarray] = {}
            batches = range(0, len(missing), ENCODE_BATCH)
            for start in tqdm(
                batches, desc=f"encoding {side} ({signal})", disable=not progress or not missing
            ):
                chunk = missing[start : start + ENCODE_BATCH]
                fresh.update(
                    zip(chunk, encoder.encode([texts[h] for h in chunk], kind="passage"), strict=True)
                )
            if fresh:
                self._cache.put_many(encoder.model_id, fresh)
            result.passages_encoded += len(fresh)
            result.by_signal[signal] = {**found, **fresh}
        return result

    def _forget_unused_embeddings(self, dropped: Sequence[StoredDocument]) -> None:
        candidates = {h for d in dropped for h in d.passage_hashes}
        if not candidates:
            return
        still_used = set().union(*(s.referenced_hashes() for s in self._snapshots.values()))
        self._cache.delete(candidates - still_used)

    # ---------- searching ----------
    def match(
        self,
        query: Document | str,
        *,
        target: str,
        allowed_ids: Collection[int] | None = None,
        limit: int = 10,
    ) -> list[Match]:
        """The best `limit` documents of `target` for a stored document or a free text."""
        snapshot = self._snapshots[self._side(target)]
        view = self.query_view(query)
        if view is None or limit <= 0:
            return []
        excluded = (
            view.document.id if isinstance(query, Document) and view.document.side == snapshot.side else None
        )
        candidates, details = self.candidate_scores(
            view, snapshot, allowed_ids, excluded, pool=max(self.candidate_pool, limit)
        )
        if not len(candidates):
            return []
        fused = fuse(candidates, self.weights)
        order = top_order(fused.total, candidates.document_ids, limit)
        pairs = best_passage_pairs(view, snapshot, details, order, fused, self.weights, candidates)
        matches = []
        for position, (query_passage, match_passage) in zip(order, pairs, strict=True):
            stored = snapshot.documents[int(candidates.document_ids[position])]
            explanation = explain_match(
                query_text=view.document.text,
                query_language=view.language,
                query_passage=view.passages[query_passage],
                match_text=stored.document.text,
                match_language=stored.language,
                match_passage=stored.passages[match_passage],
                document_frequency=snapshot.lexical.document_frequency,
                shared_nld_areas=sorted(set(view.document.nld_areas) & set(stored.document.nld_areas)),
                shared_sectors=sorted(set(view.document.sectors) & set(stored.document.sectors)),
                contributions=fused.contributions[position],
                visible=fused.visible[position],
                bonus=float(fused.bonus[position]),
            )
            matches.append(Match(stored.document.id, round(float(fused.total[position]), 6), explanation))
        return matches

    def candidate_scores(
        self,
        view: QueryView,
        snapshot: SideSnapshot,
        allowed_ids: Collection[int] | None,
        excluded_id: int | None = None,
        pool: int | None = None,
    ) -> tuple[CandidateScores, dict]:
        """Raw per-signal evidence for the candidates of a query (the evaluation uses it directly)."""
        candidates, details = score_candidates(
            view, snapshot, allowed_ids, excluded_id, pool or self.candidate_pool
        )
        candidates.conditions = language_conditions(
            view.language, snapshot.document_languages[details["rows"]]
        )
        candidates.dense_cross_lingual = bool(getattr(self.encoders.get("dense"), "cross_lingual", False))
        return candidates, details

    def snapshot(self, side: str) -> SideSnapshot:
        """The current immutable state of a side (for the evaluation and diagnostics)."""
        return self._snapshots[self._side(side)]

    def query_view(self, query: Document | str) -> QueryView | None:
        """The query's passages, tokens and vectors; a stored document reuses its vectors."""
        # Free text is encoded as a query (e5 models read a prefix); a document as a passage,
        # the way the documents it is compared with were encoded.
        kind = "query" if isinstance(query, str) else "passage"
        if isinstance(query, str):
            query = Document("need", FREE_TEXT_ID, query)
        # One snapshot for both the document and its vectors: a write may swap it meanwhile.
        side_snapshot = self._snapshots[query.side]
        existing = side_snapshot.documents.get(query.id)
        stored = existing if existing is not None and existing.document.text == query.text else None
        if not query.text.strip():
            return None
        language = stored.language if stored else detect_language(query.text)
        passages = list(stored.passages) if stored else split_passages(query.text)
        tokens = (
            [list(t) for t in stored.passage_tokens]
            if stored
            else [tokenize(p.text, language) for p in passages]
        )
        vectors = {}
        for signal, encoder in self.encoders.items():
            if stored is not None:
                vectors[signal] = side_snapshot.vector_indexes[signal].vectors(np.array(stored.passage_ids))
            else:
                vectors[signal] = encoder.encode([p.text for p in passages], kind=kind)
        return QueryView(query, language, passages, tokens, vectors)

    # ---------- persistence ----------
    def _manifest_expectation(self) -> dict:
        return {
            "text_rules_version": TEXT_RULES_VERSION,
            "encoders": {
                name: {"model_id": enc.model_id, "dim": enc.dim}
                for name, enc in sorted(self.encoders.items())
            },
        }

    def save(self) -> None:
        """Write all sides to `data_dir/index/` atomically (temp folder, fsync, rename)."""
        with self._write_lock:
            snapshots = dict(self._snapshots)
            files: dict[str, Callable[[Path], None]] = {}
            for side, snapshot in snapshots.items():
                for signal, index in snapshot.vector_indexes.items():
                    files[f"{side}.{signal}.faiss"] = index.write
                rows = documents_to_json(snapshot)
                files[f"{side}.documents.json"] = lambda path, rows=rows: path.write_text(
                    json.dumps(rows, ensure_ascii=False), encoding="utf-8"
                )
            counts = {
                side: {"documents": len(s.documents), "passages": len(s.passage_ids)}
                for side, s in snapshots.items()
            }
            write_folder_atomically(
                self.data_dir / "index",
                files,
                {**self._manifest_expectation(), "counts": counts, "next_passage_id": self._next_passage_id},
            )

    def load_or_build(
        self,
        documents: Mapping[str, Iterable[Document]] | Callable[[str], Iterable[Document]] | None = None,
        progress: bool = False,
    ) -> dict[str, SyncReport]:
        """Load the saved index if it is present and made by the same encoders, then bring each
        side in step with `documents` (the database's view) and save if anything changed.

        A missing or stale index is rebuilt; thanks to the embedding cache, only texts that were
        never encoded are encoded.
        """
        loaded = self._load()
        reports: dict[str, SyncReport] = {}
        if documents is not None:
            for side in SIDES:
                docs = documents(side) if callable(documents) else documents.get(side, ())
                reports[side] = self.sync(side, docs, progress=progress)
        changed = any(r.added or r.updated or r.removed for r in reports.values())
        if changed or not loaded:
            self.save()
        return reports

    def _load(self) -> bool:
        folder = read_folder(self.data_dir / "index", self._manifest_expectation())
        if folder is None:
            logger.info("no usable saved index in %s: building from scratch", self.data_dir)
            return False
        try:
            snapshots = {}
            for side in SIDES:
                rows = json.loads((folder.path / f"{side}.documents.json").read_text(encoding="utf-8"))
                indexes = {
                    signal: VectorIndex.read(folder.path / f"{side}.{signal}.faiss", encoder.dim)
                    for signal, encoder in self.encoders.items()
                }
                snapshots[side] = SideSnapshot.build(side, documents_from_json(side, rows), indexes)
        except (OSError, ValueError, RuntimeError) as error:
            logger.warning("saved index in %s is unreadable (%s): rebuilding", folder.path, error)
            return False
        with self._write_lock:
            self._snapshots = snapshots
            self._next_passage_id = int(folder.manifest["next_passage_id"])
        return True

    # ---------- helpers ----------
    def _empty_snapshot(self, side: Side) -> SideSnapshot:
        return SideSnapshot.build(
            side, {}, {name: VectorIndex(enc.dim) for name, enc in self.encoders.items()}
        )

    @staticmethod
    def _side(name: str) -> Side:
        try:
            return _TARGET_ALIASES[name]  # type: ignore[return-value]
        except KeyError:
            raise ValueError(f"side must be 'company' or 'need', not {name!r}") from None

    def counts(self) -> dict[str, dict[str, int]]:
        return {
            side: {"documents": len(s.documents), "passages": len(s.passage_ids)}
            for side, s in self._snapshots.items()
        }

    def close(self) -> None:
        self._cache.close()
