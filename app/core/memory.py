"""Keeping a long-running server's memory in check with glibc's allocator (Linux).

The web process runs requests in up to a few hundred threads. glibc gives threads their own
allocation arenas (up to eight per core), and memory freed in one arena is not reused by
another, so a busy server's resident memory creeps up with the number of arenas. Loading the
index also frees a lot at once (the parsed documents file, the postings under construction),
which glibc keeps unless asked to return it. Elsewhere (musl, macOS) these are no-ops.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt parameter, from glibc's malloc.h
SERVER_ARENAS = 2


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def limit_allocation_arenas(arenas: int = SERVER_ARENAS) -> None:
    """At most `arenas` glibc arenas in this process (and, through the environment, in worker
    processes started from it)."""
    os.environ.setdefault("MALLOC_ARENA_MAX", str(arenas))
    libc = _glibc()
    if libc is not None and not libc.mallopt(M_ARENA_MAX, arenas):
        logger.warning("could not limit glibc's allocation arenas")


def return_free_memory() -> None:
    """Give memory that is free inside the allocator back to the operating system."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def exempt_from_cycle_collection() -> None:
    """Leave every object alive now out of the cycle collector's passes, after one last pass.

    A loaded index is about a million long-lived objects (documents, tokens, explanations) at
    100,000 companies. A full pass walks all of them while every thread waits (0.8–1.6 s there), and
    writes, merges and the precompute make such passes come round while serving. Exempt objects are
    still freed when their last reference goes: the index's segments hold no reference cycles
    (tests/test_memory.py), so a merged-away segment is freed as before. The pass first frees
    the cyclic garbage of the build, which would otherwise be kept for good.
    """
    gc.collect()
    gc.freeze()


def include_in_cycle_collection() -> None:
    """Undo `exempt_from_cycle_collection`: the objects are collected as usual again."""
    gc.unfreeze()
