"""A segment: an immutable set of documents with their passages laid out contiguously, the
passage vectors of every signal as plain arrays, BM25 weights and (when big) an ANN index.

A side of the engine is a big *main* segment plus a small *delta* segment of recent writes
(see store.SideSnapshot). Row = a document's position in the segment; passage position =
a passage's position (its row in the vector arrays and the BM25 matrix).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from app.matching.ann import AnnFactory, HnswPassageSearch, PassageSearch
from app.matching.lexical import CorpusStatistics, LexicalIndex

if TYPE_CHECKING:  # store.py builds its snapshots of segments
    from app.matching.store import StoredDocument

# Below this many passages a segment is searched exactly (a matrix product is cheap there);
# equal to the engine's MERGE_ALWAYS_BELOW, so small sides never pay for building a graph.
ANN_MIN_PASSAGES = 5_000


class PassagePositions(NamedTuple):
    """The passages of some rows of a segment, grouped per row."""

    positions: np.ndarray  # passage positions
    owner: np.ndarray  # per position, the index of its row among the rows asked for


@dataclass(frozen=True)
class Segment:
    documents: Mapping[int, StoredDocument]  # by id, in row order
    document_ids: np.ndarray  # (D,) int64
    document_languages: np.ndarray  # (D,) "nl" / "en" / "unknown"
    passage_start: np.ndarray  # (D,) first passage position of each row
    passage_count: np.ndarray  # (D,)
    passage_rows: np.ndarray  # (P,) row of each passage position
    vectors: Mapping[str, np.ndarray]  # signal → (P, dim) float32, L2-normalised
    lexical: LexicalIndex
    ann: Mapping[str, PassageSearch] = field(default_factory=dict)  # signal → index (big segments only)
    row_of: Mapping[int, int] = field(default_factory=dict, repr=False)
    # Per NLD area / sector: which rows carry it (bool per row), so a query's shared tags are
    # counted for hundreds of candidates with a few array operations.
    area_rows: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)
    sector_rows: Mapping[str, np.ndarray] = field(default_factory=dict, repr=False)

    @classmethod
    def build(
        cls,
        ordered: Sequence[StoredDocument],  # in the row order wanted
        vectors: Mapping[str, np.ndarray],  # signal → (P, dim) in the same passage order
        *,
        statistics: CorpusStatistics | None = None,
        with_ann: bool = False,
        ann_factory: AnnFactory | None = None,
        ann_min_passages: int = ANN_MIN_PASSAGES,
        lexical: LexicalIndex | None = None,  # postings already made for these passages (a load)
        tokens: Sequence[Sequence[str]] | None = None,  # per passage; None: the documents' own
        ann: Mapping[str, PassageSearch] | None = None,  # indexes already made for these vectors (a load)
    ) -> Segment:
        """A segment of `ordered`. A big one (with an ANN index) keeps its documents' stems only
        in its BM25 postings: its documents are held without passage_tokens (tokens_of)."""
        counts = np.array([len(d.passages) for d in ordered], dtype=np.int64)
        starts = np.zeros(len(ordered), dtype=np.int64)
        if len(ordered):
            np.cumsum(counts[:-1], out=starts[1:])
        passages = int(counts.sum())
        if lexical is not None and lexical.size != passages:
            raise ValueError(f"postings of {lexical.size} passages for {passages} passages")
        for signal, array in vectors.items():
            if array.shape[0] != passages:
                raise ValueError(f"{signal}: {array.shape[0]} vectors for {passages} passages")
        contiguous = {s: np.ascontiguousarray(v, dtype=np.float32) for s, v in vectors.items()}
        if lexical is None:
            if tokens is None:
                tokens = [t for d in ordered for t in own_tokens(d)]
            lexical = LexicalIndex(tokens, statistics)
        del tokens
        if not ann and with_ann and passages >= ann_min_passages:
            factory = ann_factory or HnswPassageSearch.build
            ann = {signal: factory(array) for signal, array in contiguous.items()}
        if ann:
            contiguous = shared_with_ann(contiguous, ann)
            ordered = [d if d.passage_tokens is None else replace(d, passage_tokens=None) for d in ordered]
        return cls(
            documents={d.document.id: d for d in ordered},
            document_ids=np.array([d.document.id for d in ordered], dtype=np.int64),
            document_languages=np.array([d.language for d in ordered], dtype="<U7"),
            passage_start=starts,
            passage_count=counts,
            passage_rows=np.repeat(np.arange(len(ordered), dtype=np.int64), counts),
            vectors=contiguous,
            lexical=lexical,
            ann=ann or {},
            row_of={d.document.id: row for row, d in enumerate(ordered)},
            area_rows=_rows_per_tag([d.document.nld_areas for d in ordered]),
            sector_rows=_rows_per_tag([d.document.sectors for d in ordered]),
        )

    @classmethod
    def empty(cls, dims: Mapping[str, int]) -> Segment:
        return cls.build([], {s: np.zeros((0, d), np.float32) for s, d in dims.items()})

    @property
    def passage_total(self) -> int:
        return len(self.passage_rows)

    def passage_positions(self, rows: np.ndarray) -> PassagePositions:
        """The passages of the given rows, grouped per row."""
        counts = self.passage_count[rows]
        owner = np.repeat(np.arange(len(rows)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return PassagePositions(self.passage_start[rows][owner] + offsets, owner)

    def shared_tags(self, rows: np.ndarray, tags: Iterable[str], of_areas: bool) -> np.ndarray:
        """How many of `tags` (NLD areas, or sectors) each of `rows` carries."""
        by_tag = self.area_rows if of_areas else self.sector_rows
        shared = np.zeros(len(rows), dtype=np.int64)
        for tag in set(tags):
            carriers = by_tag.get(tag)
            if carriers is not None:
                shared += carriers[rows]
        return shared

    def tokens_of(self, document_id: int) -> tuple[tuple[str, ...], ...]:
        """The stems of each passage of one document: its own, or read from the postings."""
        stored = self.documents[document_id]
        if stored.passage_tokens is not None:
            return stored.passage_tokens
        row = self.row_of[document_id]
        start = int(self.passage_start[row])
        return tuple(self.lexical.stems_of(p) for p in range(start, start + int(self.passage_count[row])))

    def vectors_of(self, document_id: int) -> dict[str, np.ndarray]:
        """The passage vectors of one document, per signal."""
        row = self.row_of[document_id]
        start, count = self.passage_start[row], self.passage_count[row]
        return {s: v[start : start + count] for s, v in self.vectors.items()}


def own_tokens(stored: StoredDocument) -> tuple[tuple[str, ...], ...]:
    if stored.passage_tokens is None:
        raise ValueError(f"document {stored.document.id} holds no stems: pass the tokens of its passages")
    return stored.passage_tokens


def _rows_per_tag(tags_per_row: Sequence[Sequence[str]]) -> dict[str, np.ndarray]:
    rows_of: dict[str, list[int]] = {}
    for row, tags in enumerate(tags_per_row):
        for tag in tags:
            rows_of.setdefault(tag, []).append(row)
    found: dict[str, np.ndarray] = {}
    for tag, rows in rows_of.items():
        found[tag] = np.zeros(len(tags_per_row), dtype=bool)
        found[tag][rows] = True
    return found


def shared_with_ann(vectors: Mapping[str, np.ndarray], ann: Mapping[str, PassageSearch]) -> dict[str, np.ndarray]:
    """The vectors, taken from the ANN index where it keeps an identical copy of them (FAISS HNSW
    does), so that they are held in memory once."""
    shared = dict(vectors)
    for signal, index in ann.items():
        stored = getattr(index, "stored_vectors", None)
        view = stored() if stored is not None else None
        if view is not None and view.shape == shared[signal].shape:
            shared[signal] = view
    return shared
