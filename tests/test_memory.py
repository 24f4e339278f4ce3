"""The server's allocator settings (app/core/memory.py) take effect on this machine's glibc."""

import gc
import logging
import weakref

from app.core import memory
from app.matching.store import Document
from tests.test_matching_api import make_engine


def test_the_allocation_arenas_are_limited_for_this_process_and_its_workers(monkeypatch, caplog):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert memory._glibc() is not None  # the machines this runs on use glibc
    with caplog.at_level(logging.WARNING, logger="app.core.memory"):
        memory.limit_allocation_arenas(4)
    assert caplog.records == []  # mallopt accepted the limit
    assert memory.os.environ["MALLOC_ARENA_MAX"] == "4"  # worker processes start with it
    memory.return_free_memory()


def test_a_merged_away_segment_is_freed_without_the_cycle_collector(tmp_path):
    """The premise of exempting the loaded index from the cycle collector: its segments hold no
    reference cycles, so the one a merge replaces is freed when its last reference goes."""
    engine = make_engine(tmp_path)
    engine.sync("need", [Document("need", 1, "Radar voor kleine drones op schepen.")])
    engine.sync("company", [Document("company", i, f"Bedrijf {i} maakt radar en sensoren voor drones.")
                            for i in range(1, 31)])
    engine.precompute()
    engine.match(Document("company", 1, "Bedrijf 1 maakt radar en sensoren voor drones."), target="need")
    replaced = engine.snapshot("company").main
    parts = [weakref.ref(replaced)] + [weakref.ref(part) for part in (replaced.lexical, *replaced.ann.values())]
    del replaced
    gc.disable()
    try:
        engine.upsert([Document("company", 31, "Nieuw bedrijf met coatings voor textiel.")])
        engine.merge("company")
        alive = [type(part()).__name__ for part in parts if part() is not None]
    finally:
        gc.enable()
    assert alive == []
