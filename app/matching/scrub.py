"""Erased documents leave no text in the saved index: their rows stay (until the next merge) as
what the index must keep, without the text.

A main segment keeps a row for every document it was built with, erased ones too (its live mask
says which are gone), and its files are positional: the vectors, the postings and the live mask
follow the rows of the documents file. An erased document's row therefore stays in the files,
emptied: no text, no tags, no stems, its passages kept as empty spans so that the rows still line
up; its postings are dropped, and a stem no other passage has leaves the vocabulary (its slot keeps
a placeholder no text produces). Used when saving a snapshot (dead rows are written so) and right
after an erasure, on the folder saved before it (``forget_documents``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

_PLACEHOLDER = "\x00erased{}"  # a stem no text produces: tokens are words


def emptied_row(row: dict[str, Any]) -> dict[str, Any]:
    """A saved document row without its text: id, language and as many (empty) passages as it had."""
    passages = len(row["passages"])
    emptied = {"id": row["id"], "text": "", "nld_areas": [], "sectors": [], "language": row["language"],
               "passages": [[0, 0]] * passages}
    if "tokens" in row:
        emptied["tokens"] = [[] for _ in range(passages)]
    return emptied


def without_passages(arrays: Mapping[str, np.ndarray], dead: np.ndarray) -> dict[str, np.ndarray]:
    """Saved BM25 postings (LexicalIndex.saved) without the postings of the `dead` passages (a bool
    per passage); weights and statistics stay as they were until the merge rebuilds them."""
    size = int(arrays["size"])
    passage_start, term_start = arrays["passage_start"], arrays["term_start"]
    pair_passage = np.repeat(np.arange(size), np.diff(passage_start))
    keep_pair = ~dead[pair_passage]
    term_count = len(term_start) - 1
    entry_term = np.repeat(np.arange(term_count), np.diff(term_start))
    keep_entry = ~dead[arrays["passage_of"]]
    new_term_start = _starts(entry_term[keep_entry], term_count)
    unused = np.diff(new_term_start) == 0
    terms = [(_PLACEHOLDER.format(i) if gone else str(term)) for i, (term, gone) in
             enumerate(zip(arrays["terms"], unused, strict=True))]
    return {
        **arrays,
        "terms": np.array(terms, dtype=str),
        "frequency": np.where(unused, 0, arrays["frequency"]),
        "passage_start": _starts(pair_passage[keep_pair], size),
        "term_of": arrays["term_of"][keep_pair],
        "frequency_of": arrays["frequency_of"][keep_pair],
        "weight_by_passage": arrays["weight_by_passage"][keep_pair],
        "term_start": new_term_start,
        "passage_of": arrays["passage_of"][keep_entry],
        "weight_by_term": arrays["weight_by_term"][keep_entry],
    }


def forget_documents(folder: Path, side: str, ids: Collection[int]) -> int:
    """Empties the rows of these documents in a saved index folder (documents files, the main
    segment's live mask and postings), each file replaced whole; returns how many rows it emptied."""
    wanted = set(ids)
    emptied = 0
    for segment in ("main", "delta"):
        path = folder / f"{side}.{segment}.documents.jsonl"
        if not wanted or not path.is_file():
            continue
        rows, dead_passages = _empty_rows(path, wanted)
        emptied += len(rows)
        if segment == "main" and rows:
            _mark_dead(folder / f"{side}.main.live.npy", rows)
            _drop_postings(folder / f"{side}.main.lexical.npz", dead_passages)
    return emptied


def _mark_dead(path: Path, rows: list[int]) -> None:
    if not path.is_file():
        return
    live = np.load(path)
    live[rows] = False
    replace_file(path, lambda handle: np.save(handle, live))


def _drop_postings(path: Path, dead_passages: list[int]) -> None:
    if not path.is_file():
        return
    with np.load(path) as saved:
        arrays = dict(saved)
    dead = np.zeros(int(arrays["size"]), dtype=bool)
    dead[dead_passages] = True
    kept = without_passages(arrays, dead)
    replace_file(path, lambda handle: np.savez(handle, **kept))  # type: ignore[arg-type]


def _empty_rows(path: Path, wanted: set[int]) -> tuple[list[int], list[int]]:
    """Rewrites a documents file with the wanted rows emptied (only when it holds one, a line at a
    time); returns their row numbers and passage positions."""
    rows: list[int] = []
    passages: list[int] = []
    position = 0
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            for row_number, row in enumerate(_rows(path)):
                count = len(row["passages"])
                if row["id"] in wanted and row["text"]:
                    rows.append(row_number)
                    passages.extend(range(position, position + count))
                    row = emptied_row(row)
                stream.write(json.dumps(row, ensure_ascii=False) + "\n")
                position += count
            stream.flush()
            os.fsync(stream.fileno())
        if rows:
            os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return rows, passages


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def replace_file(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Writes a file beside `path` and puts it in its place: readers find the old file or the new one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _starts(sorted_keys: np.ndarray, size: int) -> np.ndarray:
    starts = np.zeros(size + 1, dtype=np.int64)
    np.cumsum(np.bincount(sorted_keys, minlength=size), out=starts[1:])
    return starts
