"""The server's allocator settings (app/core/memory.py) take effect on this machine's glibc."""

import logging

from app.core import memory


def test_the_allocation_arenas_are_limited_for_this_process_and_its_workers(monkeypatch, caplog):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory._glibc() is not None  # the machines this runs on use glibc
    with caplog.at_level(logging.WARNING, logger="app.core.memory"):
        memory.limit_allocation_arenas(4)
    assert caplog.records == []  # mallopt accepted the limit
    assert memory.os.environ["MALLOC_ARENA_MAX"] == "4"  # worker processes start with it
    memory.return_free_memory()
