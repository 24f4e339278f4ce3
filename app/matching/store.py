"""What the engine holds per side: documents and their segments, as one immutable snapshot;
plus the embedding cache that survives rebuilds.

A snapshot is never changed after it is built. Writers build a new one (a new small delta
segment, or after a merge a new main segment) and swap it in with one assignment, so a
search always works on one consistent state without locks.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Literal

import numpy as np

from app.matching.segment import Segment
from app.matching.text import Language, Passage, detect_language, split_passages, tokenize

Side = Literal["company", "need"]
SIDES: tuple[Side, ...] = ("company", "need")
FREE_TEXT_ID = -1  # the id of a free-text query's document: never a database id
_SIDE_NAMES: dict[str, Side] = {"company": "company", "companies": "company", "need": "need", "needs": "need"}


def side_named(name: str) -> Side:
    """The side a name means: "company" or "need" (or their plurals)."""
    try:
        return _SIDE_NAMES[name]
    except KeyError:
        raise ValueError(f"side must be 'company' or 'need', not {name!r}") from None
_snapshot_versions = count(1)  # SideSnapshot.version
# A saved document's language, as the one string each (a KeyError marks an unreadable row).
_LANGUAGES: dict[str, Language] = {"nl": "nl", "en": "en", "unknown": "unknown"}


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
    passage_hashes: tuple[str, ...]  # sha256 of each passage text: the embedding cache key
    # The stems of each passage; None in a big main segment, whose BM25 postings hold them
    # (Segment.tokens_of): as tuples of their own they would take about 85 MB at 100,000
    # bench companies.
    passage_tokens: tuple[tuple[str, ...], ...] | None


def prepare_document(document: Document) -> StoredDocument:
    """Split and tokenize a document."""
    language = detect_language(document.text)
    passages = tuple(split_passages(document.text)) or (Passage(0, 0, ""),)
    return StoredDocument(
        document=document,
        language=language,
        content_hash=content_hash(document),
        passages=passages,
        passage_hashes=tuple(sha256(p.text) for p in passages),
        passage_tokens=tokenized(passages, language),
    )


def tokenized(passages: Iterable[Passage], language: Language) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(tokenize(p.text, language)) for p in passages)


class LiveDocuments(Mapping[int, StoredDocument]):
    """Every live document of a snapshot by id, read through its two segments: the delta's, and
    the main segment's whose rows are live, in that segment's row order, then the delta's.

    A write makes a new snapshot, and a copy of one dict of every document would touch each of
    them (at 100,000 companies about half of an upsert's 18 ms, all of it holding the GIL);
    this view costs what the delta and the main segment's dead rows hold.
    """

    __slots__ = ("_main", "_delta", "_dead", "_length")

    def __init__(self, main: Segment, main_live: np.ndarray, delta: Segment) -> None:
        self._main = main.documents
        self._delta = delta.documents
        dead_rows = np.flatnonzero(~main_live)
        self._dead: frozenset[int] = frozenset(main.document_ids[dead_rows].tolist())
        self._length = len(self._main) - len(dead_rows) + len(self._delta)

    def __getitem__(self, document_id: int) -> StoredDocument:
        found = self._delta.get(document_id)
        if found is not None:
            return found
        if document_id in self._dead:
            raise KeyError(document_id)
        return self._main[document_id]

    def get(self, document_id: int, default: Any = None) -> Any:
        found = self._delta.get(document_id)
        if found is not None:
            return found
        if document_id in self._dead:
            return default
        return self._main.get(document_id, default)

    def __contains__(self, document_id: object) -> bool:
        return document_id in self._delta or (document_id in self._main and document_id not in self._dead)

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[int]:
        dead = self._dead
        yield from (i for i in self._main if i not in dead)
        yield from self._delta

    def values(self) -> Iterator[StoredDocument]:  # type: ignore[override]
        dead = self._dead
        yield from (d for i, d in self._main.items() if i not in dead)
        yield from self._delta.values()

    def items(self) -> Iterator[tuple[int, StoredDocument]]:  # type: ignore[override]
        dead = self._dead
        yield from ((i, d) for i, d in self._main.items() if i not in dead)
        yield from self._delta.items()


@dataclass(frozen=True)
class SideSnapshot:
    """All searchable state of one side: the main segment with the rows still live, and the
    delta segment of documents written since the last merge (a document is in one of them).

    Writes build a new small delta (and a new live mask: one byte per main document) instead
    of touching the main segment; a merge folds everything into a new main segment.
    """

    side: Side
    main: Segment
    main_live: np.ndarray  # (main documents,) bool: False once erased or replaced
    delta: Segment
    documents: Mapping[int, StoredDocument]  # every live document, by id
    # Unique per snapshot of the process: what was ranked on this version is still right.
    version: int = field(default_factory=lambda: next(_snapshot_versions), compare=False)

    @classmethod
    def build(cls, side: Side, main: Segment, delta: Segment, main_live: np.ndarray | None = None) -> SideSnapshot:
        live = np.ones(len(main.document_ids), bool) if main_live is None else main_live
        return cls(side, main, live, delta, LiveDocuments(main, live, delta))

    def with_delta(self, delta: Segment, main_live: np.ndarray) -> SideSnapshot:
        return SideSnapshot.build(self.side, self.main, delta, main_live)

    def segments(self) -> list[tuple[Segment, np.ndarray]]:
        """(segment, live rows) pairs worth searching."""
        found = [(self.main, self.main_live)] if len(self.main.document_ids) else []
        if len(self.delta.document_ids):
            found.append((self.delta, np.ones(len(self.delta.document_ids), bool)))
        return found

    def vectors_of(self, document_id: int) -> dict[str, np.ndarray]:
        return self._segment_of(document_id).vectors_of(document_id)

    def tokens_of(self, document_id: int) -> tuple[tuple[str, ...], ...]:
        return self._segment_of(document_id).tokens_of(document_id)

    def _segment_of(self, document_id: int) -> Segment:
        return self.delta if document_id in self.delta.row_of else self.main

    @property
    def document_frequency(self) -> Mapping[str, int]:
        """Stem rarity for explanations (the main segment's; recent writes hardly move it)."""
        return (self.main if len(self.main.document_ids) else self.delta).lexical.document_frequency


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
            # Erasing a document deletes its passages for every model: by text hash alone.
            self._connection.execute("CREATE INDEX IF NOT EXISTS embeddings_by_text ON embeddings (text_sha256)")

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


def documents_to_json(segment: Segment) -> Iterator[dict[str, Any]]:
    """Everything needed to rebuild a segment without re-tokenizing (vectors are saved apart),
    one row per document."""
    for d in segment.documents.values():
        yield {
            "id": d.document.id,
            "text": d.document.text,
            "nld_areas": list(d.document.nld_areas),
            "sectors": list(d.document.sectors),
            "language": d.language,
            "passages": [[p.start, p.end] for p in d.passages],
            # Not saved where the segment's postings hold them (saved beside, persistence.py).
            **({"tokens": [list(t) for t in d.passage_tokens]} if d.passage_tokens is not None else {}),
        }


def document_from_json(side: Side, row: Mapping[str, Any]) -> StoredDocument:
    """A stored document from its saved row; text rules are checked by the manifest's version.

    Stems and tags are interned: a JSON parser makes a new string for every occurrence, and a
    side of 100,000 documents holds some 20 million of them (about 1 GB as separate strings,
    a few MB as shared ones).
    """
    areas, sectors = (tuple(map(sys.intern, row[key])) for key in ("nld_areas", "sectors"))
    document = Document(side, int(row["id"]), row["text"], areas, sectors)
    passages = tuple(Passage(a, b, document.text) for a, b in row["passages"])
    return StoredDocument(
        document=document,
        language=_LANGUAGES[row["language"]],
        content_hash=content_hash(document),
        passages=passages,
        passage_hashes=tuple(sha256(p.text) for p in passages),
        passage_tokens=(tuple(tuple(map(sys.intern, tokens)) for tokens in row["tokens"])
                        if "tokens" in row else None),
    )
