"""Approximate nearest-neighbour search over one segment's passage vectors: FAISS HNSW here,
pgvector in PostgreSQL in pgvector_ann.py (KOPPELKANS_VECTOR_STORE).

Used only to *find candidates* in big segments; every candidate is then scored exactly from
the stored vectors, so the ANN decides which documents are looked at, never their score.
An HNSW graph cannot drop vectors, which suits the engine: a segment never changes after it
is built (erased documents are masked out, and a merge builds a new segment).

The index id of a vector is its passage position in the segment.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import faiss
import numpy as np

# Graph degree and build effort. Measured at 100,000 bench companies (60 needs; recall of the
# served top 10 against the exhaustive one, with the lexical budget of ranking.py): build effort
# 80 built both graphs in 222 s, with recall 0.89 / 0.94 / 0.96 at search effort 256 / 512 / 1024;
# build effort 160 in 319 s, with recall 0.93 / 0.96 at 256 / 512 (scripts/bench.py).
HNSW_NEIGHBOURS = 32
HNSW_BUILD_EFFORT = 160
# Search effort: 512 costs about 3 ms more per search than 256 at 100,000 bench companies, for
# the recall above; a stored need's first ask uses its precomputed candidates instead.
HNSW_SEARCH_EFFORT = 512

# Searches use one OpenMP thread: several requests search at once on two shared cores, and more
# threads per search would only compete with them.
faiss.omp_set_num_threads(1)


class PassageSearch(Protocol):
    """What the ranking needs from a vector store: the best passage positions per query row."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...

    def close(self) -> None:
        """The segment was replaced: let go of what the index holds outside this process."""


# Builds (or, for pgvector, finds) the index of a big segment's vectors of one signal.
AnnFactory = Callable[[np.ndarray], PassageSearch]


class HnswPassageSearch:
    def __init__(self, index: faiss.IndexHNSWFlat) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray, threads: int = 2) -> HnswPassageSearch:
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_BUILD_EFFORT
        # Building is a one-off batch job (a merge or a load): it may use both cores; searches
        # stay at one thread (above).
        faiss.omp_set_num_threads(threads)
        try:
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        finally:
            faiss.omp_set_num_threads(1)
        return cls(index)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the best k passages per query row; -1 pads."""
        k = max(1, min(k, len(self)))
        params = faiss.SearchParametersHNSW(efSearch=max(HNSW_SEARCH_EFFORT, k))  # type: ignore[attr-defined]
        return self._index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)

    def stored_vectors(self) -> np.ndarray:
        """The graph's own copy of the vectors, as a read-only array view (no copy): the segment
        scores from it instead of holding a second copy (half the vector memory at 100k)."""
        storage = faiss.downcast_index(self._index.storage)
        pointer = storage.get_xb()  # type: ignore[attr-defined]
        view = faiss.rev_swig_ptr(pointer, len(self) * self._index.d).reshape(len(self), self._index.d)
        view.flags.writeable = False
        return view

    def close(self) -> None:
        """Nothing outside the process: the graph goes with the segment."""

    def write(self, path: Path) -> None:
        faiss.write_index(self._index, str(path))

    @classmethod
    def read(cls, path: Path, dim: int, count: int) -> HnswPassageSearch:
        index = faiss.read_index(str(path))
        if not isinstance(index, faiss.IndexHNSWFlat) or index.d != dim or index.ntotal != count:
            raise ValueError(f"{path} is not an HNSW index of {count} vectors of {dim} dims")
        return cls(index)


# OpenBLAS multiplies a tall matrix by a few query vectors one query at a time, reading the
# whole matrix again for each. In blocks of rows that stay in the core's cache it reads it
# once: on 4,700 × 512 float32 with one thread, 2 queries take about half the time of the
# plain product and 12 queries about three quarters; from about 16 queries the plain product
# is as fast or faster.
_BLOCK_ROWS = ((8, 128), (12, 64))  # (at most this many queries, rows per block)


def products(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(vectors, queries) inner products, vectors @ queries.T: the same numbers up to the last
    float32 bit, computed in cache-sized blocks of rows when there are few queries."""
    rows = next((rows for most, rows in _BLOCK_ROWS if len(queries) <= most), None)
    if rows is None or len(queries) < 2 or len(vectors) <= 2 * rows:
        product: np.ndarray = vectors @ queries.T
        return product
    out = np.empty((len(vectors), len(queries)), dtype=np.result_type(vectors, queries))
    transposed = queries.T
    for start in range(0, len(vectors), rows):
        np.matmul(vectors[start : start + rows], transposed, out=out[start : start + rows])
    return out


def exact_search(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact counterpart (numpy, inner product): (scores, positions), best first."""
    similarity = products(vectors, queries).T
    k = max(1, min(k, similarity.shape[1]))
    top = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    scores = np.take_along_axis(similarity, top, axis=1)
    order = np.argsort(-scores, axis=1)
    return np.take_along_axis(scores, order, axis=1), np.take_along_axis(top, order, axis=1)
