"""What the engine holds per side: documents, passages, BM25 and vector indexes, as one
immutable snapshot; plus the embedding cache that survives rebuilds.

A snapshot is never changed after it is built. Writers build a new one (copying the vector
indexes) and swap it in, so a search always works on one consistent state without locks.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from app.matching.index import VectorIndex
from app.matching.lexical import LexicalIndex
from app.matching.text import Language, Passage, detect_language, split_passages, tokenize

Side = Literal["company", "need"]
SIDES: tuple[Side, ...] = ("company", "need")


@dataclass(frozen=True)
class Document:
    side: Side
    id: int  # database id
    text: str  # everything to match on (title + description + capabilities …)
    nld_areas: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(document: Document) -> str:
    """Changes whenever anything the engine stores about the document changes."""
    return sha256(json.dumps([document.text, sorted(document.nld_areas), sorted(document.sectors)]))


@dataclass(frozen=True)
class StoredDocument:
    document: Document
    language: Language
    content_hash: str
    passages: tuple[Passage, ...]
    passage_ids: tuple[int, ...]  # ids of the passages in the vector indexes
    passage_hashes: tuple[str, ...]  # sha256 of each passage text: the embedding cache key
    passage_tokens: tuple[tuple[str, ...], ...]


def prepare_document(document: Document, first_passage_id: int) -> StoredDocument:
    """Split and tokenize a document; passages get consecutive ids from `first_passage_id`."""
    language = detect_language(document.text)
    passages = tuple(split_passages(document.text)) or (Passage(0, 0, ""),)
    return StoredDocument(
        document=document,
        language=language,
        content_hash=content_hash(document),
        passages=passages,
        passage_ids=tuple(range(first_passage_id, first_passage_id + len(passages))),
        passage_hashes=tuple(sha256(p.text) for p in passages),
        passage_tokens=tuple(tuple(tokenize(p.text, language)) for p in passages),
    )


@dataclass(frozen=True)
class SideSnapshot:
    """All searchable state of one side. Passages are laid out contiguously per document."""

    side: Side
    documents: Mapping[int, StoredDocument]
    vector_indexes: Mapping[str, VectorIndex]  # signal name → index of passage vectors
    lexical: LexicalIndex
    document_ids: np.ndarray  # (D,) in row order
    document_languages: np.ndarray  # (D,) "nl" / "en" / "unknown"
    passage_start: np.ndarray  # (D,) first passage position of each document row
    passage_count: np.ndarray  # (D,)
    passage_ids: np.ndarray  # (P,) vector-index id per passage position
    passage_rows: np.ndarray  # (P,) document row per passage position
    row_of: Mapping[int, int] = field(repr=False)  # document id → row
    # passage_ids sorted, and the passage position of each: id → position by searchsorted.
    sorted_passage_ids: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    sorted_passage_positions: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def build(
        cls, side: Side, documents: Mapping[int, StoredDocument], vector_indexes: Mapping[str, VectorIndex]
    ) -> SideSnapshot:
        ordered = [documents[i] for i in sorted(documents)]
        counts = np.array([len(d.passages) for d in ordered], dtype=np.int64)
        starts = np.zeros(len(ordered), dtype=np.int64)
        if len(ordered):
            np.cumsum(counts[:-1], out=starts[1:])
        tokens = [t for d in ordered for t in d.passage_tokens]
        passage_ids = np.array([p for d in ordered for p in d.passage_ids], dtype=np.int64)
        id_order = np.argsort(passage_ids, kind="stable")
        return cls(
            side=side,
            documents=dict(documents),
            vector_indexes=dict(vector_indexes),
            lexical=LexicalIndex(tokens),
            document_ids=np.array([d.document.id for d in ordered], dtype=np.int64),
            document_languages=np.array([d.language for d in ordered], dtype="<U7"),
            passage_start=starts,
            passage_count=counts,
            passage_ids=passage_ids,
            passage_rows=np.repeat(np.arange(len(ordered), dtype=np.int64), counts),
            row_of={d.document.id: row for row, d in enumerate(ordered)},
            sorted_passage_ids=passage_ids[id_order],
            sorted_passage_positions=id_order,
        )

    def positions_of_passage_ids(self, ids: np.ndarray) -> np.ndarray:
        """Passage positions of vector-index ids (all must belong to this snapshot)."""
        return self.sorted_passage_positions[np.searchsorted(self.sorted_passage_ids, ids)]

    def passage_positions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Passage positions of the given document rows, grouped per row, and the owning row index."""
        counts = self.passage_count[rows]
        owner = np.repeat(np.arange(len(rows)), counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.passage_start[rows][owner] + offsets, owner

    def referenced_hashes(self) -> set[str]:
        return {h for d in self.documents.values() for h in d.passage_hashes}


class EmbeddingCache:
    """Passage vectors keyed by (model id, sha256 of the passage text), in SQLite.

    A rebuild looks vectors up here before encoding; erasing a document deletes its rows.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._connection.execute("PRAGMA journal_mode=WAL")
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (model_id TEXT NOT NULL, text_sha256 TEXT NOT NULL, "
                "vector BLOB NOT NULL, PRIMARY KEY (model_id, text_sha256))"
            )

    def get_many(self, model_id: str, hashes: Iterable[str], dim: int) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(hashes))
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for chunk_start in range(0, len(wanted), 500):
                chunk = wanted[chunk_start : chunk_start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._connection.execute(
                    "SELECT text_sha256, vector FROM embeddings "
                    f"WHERE model_id = ? AND text_sha256 IN ({marks})",
                    [model_id, *chunk],
                ).fetchall()
                for text_hash, blob in rows:
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dim,):
                        found[text_hash] = vector
        return found

    def put_many(self, model_id: str, vectors: Mapping[str, np.ndarray]) -> None:
        with self._lock:
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "INSERT OR REPLACE INTO embeddings (model_id, text_sha256, vector) VALUES (?, ?, ?)",
                [(model_id, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in vectors.items()],
            )
            self._connection.execute("COMMIT")

    def delete(self, hashes: Iterable[str]) -> None:
        """Forget these passage texts for every model."""
        doomed = list(hashes)
        with self._lock:
            self._connection.execute("BEGIN")
            self._connection.executemany(
                "DELETE FROM embeddings WHERE text_sha256 = ?", [(h,) for h in doomed]
            )
            self._connection.execute("COMMIT")

    def count(self) -> int:
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def documents_to_json(snapshot: SideSnapshot) -> list[dict]:
    return [
        {
            "id": d.document.id,
            "text": d.document.text,
            "nld_areas": list(d.document.nld_areas),
            "sectors": list(d.document.sectors),
            "passage_ids": list(d.passage_ids),
        }
        for d in (snapshot.documents[i] for i in sorted(snapshot.documents))
    ]


def documents_from_json(side: Side, rows: list[dict]) -> dict[int, StoredDocument]:
    """Rebuild stored documents from the saved folder; passages are re-split deterministically."""
    documents: dict[int, StoredDocument] = {}
    for row in rows:
        document = Document(side, int(row["id"]), row["text"], tuple(row["nld_areas"]), tuple(row["sectors"]))
        stored = prepare_document(document, first_passage_id=0)
        if len(stored.passages) != len(row["passage_ids"]):
            raise ValueError(f"saved passages of {side} {document.id} do not match its text")
        documents[document.id] = StoredDocument(
            stored.document,
            stored.language,
            stored.content_hash,
            stored.passages,
            tuple(int(i) for i in row["passage_ids"]),
            stored.passage_hashes,
            stored.passage_tokens,
        )
    return documents
