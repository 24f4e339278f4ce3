"""Saving and loading the engine's snapshots: one folder, written atomically (index.py).

Per side and segment (`main`, `delta`): `<side>.<segment>.documents.jsonl` (a document a line:
text, passage offsets, language and, unless its segment's postings hold them, stems, so loading
does not re-tokenize; read a line at a time, so loading 100,000 documents never holds the whole
parsed file at once), `<side>.<segment>.<signal>.npy`
(passage vectors) and, for a big main segment with FAISS, `<side>.main.<signal>.hnsw` (its ANN
graph; with pgvector the graph is in PostgreSQL, found again by the vectors' hash);
plus `<side>.main.live.npy` (which main documents are still live), `<side>.main.lexical.npz`
(its BM25 postings, so that loading does not build them) and `<side>.main.kept.npz` (the
candidates the precompute found in that main segment, per stored query, and each need's context
score over it). The manifest names the encoders and text rules the files were made with; a
mismatch makes the folder stale.
An erased document keeps its row in a main segment's files until the merge, without its text
(scrub.py): when saved, and in the saved folder right after the erasure (forget_documents).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from app.matching import scrub
from app.matching.ann import AnnFactory, HnswPassageSearch, PassageSearch
from app.matching.encoders import Encoder
from app.matching.index import read_folder, write_folder_atomically
from app.matching.lexical import CorpusStatistics, LexicalIndex
from app.matching.ranking import SegmentCandidates
from app.matching.segment import ANN_MIN_PASSAGES, Segment
from app.matching.store import (
    SIDES,
    Side,
    SideSnapshot,
    StoredDocument,
    document_from_json,
    documents_to_json,
    side_named,
    tokenized,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeptQuery:
    """Whose candidates in a main segment were kept: a stored query by side, id and content
    hash, searched with candidate pool `pool` (materialised.py; unfiltered queries only)."""

    side: Side
    id: int
    content_hash: str
    pool: int


class KeptEntry(NamedTuple):
    query: KeptQuery
    candidates: SegmentCandidates  # in the main segment saved beside them
    # A need's context score over that main segment (pair_scoring.py); NaN when not known. Saved
    # so that a company's first page after a restart need not find its needs' contexts again.
    context: float = float("nan")


KeptCandidates = Sequence[KeptEntry]


@dataclass
class Loaded:
    snapshots: dict[Side, SideSnapshot]
    kept: dict[Side, KeptCandidates]  # target side → the candidates kept in its main segment


def save(
    target: Path, snapshots: Mapping[Side, SideSnapshot], manifest: Mapping[str, Any],
    counts: Mapping[str, Mapping[str, int]], kept: Mapping[Side, KeptCandidates] | None = None,
) -> None:
    files: dict[str, Callable[[Path], None]] = {}
    for side, entries in (kept or {}).items():
        if entries:
            files[f"{side}.main.kept.npz"] = partial(_write_kept, entries=entries)
    for side, snapshot in snapshots.items():
        for name, segment in (("main", snapshot.main), ("delta", snapshot.delta)):
            live = snapshot.main_live if name == "main" else None
            files[f"{side}.{name}.documents.jsonl"] = partial(_write_documents, segment=segment, live=live)
            for signal, vectors in segment.vectors.items():
                files[f"{side}.{name}.{signal}.npy"] = partial(_write_array, array=vectors)
            for signal, index in segment.ann.items():
                if isinstance(index, HnswPassageSearch):
                    files[f"{side}.{name}.{signal}.hnsw"] = index.write
        files[f"{side}.main.live.npy"] = partial(_write_array, array=snapshot.main_live)
        dead_passages = ~snapshot.main_live[snapshot.main.passage_rows]
        files[f"{side}.main.lexical.npz"] = partial(_write_lexical, lexical=snapshot.main.lexical,
                                                    dead_passages=dead_passages)
    write_folder_atomically(target, files, {**manifest, "counts": counts})


def _write_documents(path: Path, segment: Segment, live: np.ndarray | None = None) -> None:
    """A document a line; a row no longer `live` (erased or replaced) without its text (scrub.py)."""
    with path.open("w", encoding="utf-8") as handle:
        for number, row in enumerate(documents_to_json(segment)):
            if live is not None and not live[number]:
                row = scrub.emptied_row(row)
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_documents(path: Path, side: Side) -> list[StoredDocument]:
    with path.open(encoding="utf-8") as handle:
        return [document_from_json(side, json.loads(line)) for line in handle if line.strip()]


def _write_kept(path: Path, entries: KeptCandidates) -> None:
    with path.open("wb") as handle:
        np.savez(
            handle,
            side=np.array([e.query.side for e in entries]),
            id=np.array([e.query.id for e in entries], dtype=np.int64),
            content_hash=np.array([e.query.content_hash for e in entries]),
            pool=np.array([e.query.pool for e in entries], dtype=np.int64),
            count=np.array([len(e.candidates.rows) for e in entries], dtype=np.int64),
            rows=np.concatenate([e.candidates.rows for e in entries]),
            best=np.concatenate([e.candidates.best for e in entries]),
            second=np.concatenate([e.candidates.second for e in entries]),
            context=np.array([e.context for e in entries], dtype=np.float64),
        )


def _read_kept(path: Path, main: Segment) -> KeptCandidates:
    """The kept candidates saved beside `main`; none when the file is missing or unreadable (they
    are only a head start for the precompute: the index itself is still good)."""
    if not path.is_file():
        return []
    try:
        return _kept_from_file(path, main)
    except (OSError, ValueError, KeyError) as error:
        logger.warning("%s is unreadable (%s): the precompute searches again", path, error)
        return []


def _kept_from_file(path: Path, main: Segment) -> KeptCandidates:
    with np.load(path) as saved:
        ends = np.cumsum(saved["count"])
        rows, best, second = saved["rows"], saved["best"], saved["second"]
        if (len(ends) and ends[-1] != len(rows)) or (len(rows) and rows.max() >= len(main.document_ids)):
            raise ValueError(f"{path.name} does not fit its main segment")
        contexts = saved["context"] if "context" in saved.files else np.full(len(ends), np.nan)
        return [
            KeptEntry(KeptQuery(side_named(str(side)), int(id_), str(content_hash), int(pool)),
                      SegmentCandidates(main, rows[end - count:end], best[end - count:end], second[end - count:end]),
                      float(context))
            for side, id_, content_hash, pool, count, end, context in zip(
                saved["side"], saved["id"], saved["content_hash"], saved["pool"], saved["count"], ends, contexts,
                strict=True)
        ]


def _write_lexical(path: Path, lexical: LexicalIndex, dead_passages: np.ndarray) -> None:
    arrays: dict[str, Any] = lexical.saved()
    if dead_passages.any():  # the stems of erased or replaced documents are not saved
        arrays = scrub.without_passages(arrays, dead_passages)
    with path.open("wb") as handle:
        np.savez(handle, **arrays)


def forget_documents(target: Path, side: str, ids: Collection[int]) -> int:
    """Right after documents were erased: their text out of the saved folder (scrub.py), at once
    rather than at the next save; returns how many saved rows were emptied."""
    retired = target.with_name(f".{target.name}-retired")
    return sum(scrub.forget_documents(folder, side, ids) for folder in (target, retired) if folder.is_dir())


def _read_lexical(path: Path, passages: int) -> LexicalIndex | None:
    """The main segment's saved BM25 postings; None when the file is missing or unreadable (the
    postings are then built from the documents' stems)."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as saved:
            lexical = LexicalIndex.from_saved(saved)
    except (OSError, ValueError, KeyError) as error:
        logger.warning("%s is unreadable (%s): building the postings from the documents", path, error)
        return None
    if lexical.size != passages:
        logger.warning("%s holds %d passages, not %d: building the postings from the documents",
                       path, lexical.size, passages)
        return None
    return lexical


def _saved_shape(path: Path) -> tuple[int, ...]:
    """The shape of a saved array, without reading its data (memory-mapped, never touched)."""
    shape: tuple[int, ...] = np.load(path, mmap_mode="r").shape
    return shape


def _write_array(path: Path, array: np.ndarray) -> None:
    with path.open("wb") as handle:
        np.save(handle, array)


def load(
    target: Path, manifest: Mapping[str, Any], encoders: Mapping[str, Encoder], ann_factory: AnnFactory | None = None,
    *, ann_min_passages: int = ANN_MIN_PASSAGES,
) -> Loaded | None:
    """The saved snapshots and kept candidates, or None when the folder is missing, stale or
    unreadable.

    Errors of the vector store (another ann_factory: PostgreSQL unreachable …) are not caught:
    loading then fails instead of quietly rebuilding with something else.
    """
    folder = read_folder(target, manifest)
    if folder is None:
        logger.info("no usable saved index in %s: building from scratch", target)
        return None
    try:
        snapshots: dict[Side, SideSnapshot] = {}
        kept: dict[Side, KeptCandidates] = {}
        for side in SIDES:
            ann = _AnnSettings(ann_factory, ann_min_passages)
            main = _load_segment(folder.path, side, "main", encoders, None, ann)
            delta = _load_segment(folder.path, side, "delta", encoders, main.lexical.statistics, ann)
            live = np.load(folder.path / f"{side}.main.live.npy")
            if live.shape != main.document_ids.shape:
                raise ValueError(f"{side}: live mask does not fit the main segment")
            snapshots[side] = SideSnapshot.build(side, main, delta, live)
            kept[side] = _read_kept(folder.path / f"{side}.main.kept.npz", main)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        logger.warning("saved index in %s is unreadable (%s): rebuilding", folder.path, error)
        return None
    return Loaded(snapshots, kept)


class _AnnSettings(NamedTuple):
    factory: AnnFactory | None
    min_passages: int


def _load_segment(
    folder: Path, side: Side, name: str, encoders: Mapping[str, Encoder], statistics: CorpusStatistics | None,
    ann: _AnnSettings,
) -> Segment:
    documents = _read_documents(folder / f"{side}.{name}.documents.jsonl", side)
    vectors: dict[str, np.ndarray] = {}
    graphs: dict[str, PassageSearch] = {}
    for signal, encoder in encoders.items():
        path = folder / f"{side}.{name}.{signal}.npy"
        shape = _saved_shape(path)
        if len(shape) != 2 or shape[1] != encoder.dim:
            raise ValueError(f"{side}.{name}.{signal}: vectors of the wrong shape {shape}")
        graph_path = folder / f"{side}.{name}.{signal}.hnsw"
        if ann.factory is None and graph_path.exists():  # FAISS: the saved graph holds the vectors
            graph = HnswPassageSearch.read(graph_path, shape[1], shape[0])
            graphs[signal] = graph
            vectors[signal] = graph.stored_vectors()  # not read a second time from the .npy
        else:
            vectors[signal] = np.load(path)
    # Saved without a graph, or another vector store is configured: the factory builds (or, for
    # pgvector, finds) the main segment's index now.
    lexical: LexicalIndex | None = None
    if name == "main":  # the delta's postings are weighted with the main segment's statistics
        lexical = _read_lexical(folder / f"{side}.main.lexical.npz", sum(len(d.passages) for d in documents))
    if lexical is None and any(d.passage_tokens is None for d in documents):
        # A big segment's stems were saved only in its postings, which are unreadable.
        logger.warning("%s.%s: stemming the documents again to build the postings", side, name)
        documents = [
            replace(d, passage_tokens=tokenized(d.passages, d.language)) if d.passage_tokens is None else d
            for d in documents
        ]
    return Segment.build(documents, vectors, statistics=statistics, with_ann=name == "main",
                         ann_factory=ann.factory, ann_min_passages=ann.min_passages, lexical=lexical,
                         ann=graphs)
