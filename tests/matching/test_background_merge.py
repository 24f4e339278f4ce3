"""Merging in the background: the write that outgrows the delta does not wait for the merge,
nothing written while it runs is lost, and no need is left without its deep candidates."""

import threading
import time

import numpy as np
import pytest

from app.matching.ann import HnswPassageSearch
from app.matching.engine import Document
from app.matching.materialised import MaterialisedKey
from tests.waiting import wait_until

from .factories import make_engine

WORDS = ["radar", "drone", "sensor", "composiet", "laser", "optiek", "software", "kogelwerend",
         "batterij", "antenne", "camera", "coating", "robot", "satelliet", "quantum", "textiel"]
# Writes go to the delta until it holds 5 % of the main segment's passages; big segments get a
# graph; the candidate pool covers every company, so answers do not depend on the graph.
SETTINGS = {"merge_always_below": 0, "delta_share": 0.05, "candidate_pool": 400, "ann_min_passages": 100}


class GatedGraphs:
    """Builds FAISS graphs (one thread, so two engines build the same graph), and when closed
    holds a build until the test opens it again: a merge the test can catch half-way."""

    def __init__(self, fail_once: bool = False) -> None:
        self.open = threading.Event()
        self.open.set()
        self.building = threading.Event()
        self.fail_once = fail_once

    def __call__(self, vectors: np.ndarray) -> HnswPassageSearch:
        self.building.set()
        assert self.open.wait(30), "the test never let the build go on"
        if self.fail_once:
            self.fail_once = False
            raise MemoryError("no room for the graph")
        return HnswPassageSearch.build(vectors, threads=1)


def company(i: int, rng) -> Document:
    return Document("company", i, "Wij leveren " + " ".join(rng.choice(WORDS, size=6)) + ".",
                    sectors=(str(rng.choice(["maakindustrie", "ict"])),))


def needs(count=8, seed=3):
    rng = np.random.default_rng(seed)
    return [Document("need", 1000 + i, "Defensie zoekt " + " ".join(rng.choice(WORDS, size=4)) + ".")
            for i in range(count)]


def answers(engine, queries):
    return [[(m.id, m.score, m.explanation) for m in engine.match(q, target="company", limit=10)]
            for q in queries]


@pytest.fixture
def engines(tmp_path):
    """Three engines given the same documents: one merges in the background, one in the write
    that outgrows the delta, and one never merges (its segments are the background engine's
    while that one's merge runs)."""
    rng = np.random.default_rng(11)
    companies = [company(i + 1, rng) for i in range(200)]
    graphs = GatedGraphs()
    background = make_engine(tmp_path / "background", ann_factory=graphs, **SETTINGS)
    inline = make_engine(tmp_path / "inline", ann_factory=GatedGraphs(), materialised_bytes=0, **SETTINGS)
    unmerged = make_engine(tmp_path / "unmerged", ann_factory=GatedGraphs(), materialised_bytes=0,
                           **{**SETTINGS, "delta_share": 10.0})
    for engine in (background, inline, unmerged):
        engine.upsert(companies + needs())
        engine.merge("company")
    background.enable_background_merges()
    yield background, inline, unmerged, graphs, rng
    graphs.open.set()
    for engine in (background, inline, unmerged):
        engine.close()


def write_all(engines, write):
    for engine in engines[:3]:
        write(engine)


def test_the_write_that_outgrows_the_delta_returns_while_the_merge_runs(engines):
    background, inline, unmerged, graphs, rng = engines
    old_main = background.snapshot("company").main
    graphs.open.clear()
    graphs.building.clear()
    batch = [company(300 + i, rng) for i in range(11)]  # 11 passages > 5 % of 200
    started = time.perf_counter()
    background.upsert(batch)
    assert graphs.building.wait(10)  # the merge is building its graph, held there by the test
    assert time.perf_counter() - started < 10
    assert background.snapshot("company").main is old_main  # the write did not wait for it
    inline.upsert(batch)
    unmerged.upsert(batch)
    assert inline.snapshot("company").main is not old_main  # (this one merged in the write)

    # Writes while the merge runs: an edit of a company in the merged delta, an erasure of one
    # in the main segment, a new company, an edit of one in the main segment, an erasure of
    # one in the merged delta.
    edited_new = Document("company", 300, "Wij leveren quantum sensoren en satelliet optiek.")
    edited_old = Document("company", 7, "Wij leveren kogelwerend textiel en coating.")
    added = Document("company", 900, "Wij leveren radar antenne software.")
    for write in (lambda e: e.upsert([edited_new]), lambda e: e.remove("company", [12]),
                  lambda e: e.upsert([added]), lambda e: e.upsert([edited_old]),
                  lambda e: e.remove("company", [301])):
        write_all(engines, write)
        assert answers(background, needs()) == answers(unmerged, needs())  # searched during the merge

    graphs.open.set()
    assert background.wait_for_merges(timeout=30)
    merged = background.snapshot("company")
    assert merged.main is not old_main
    # The writes made during the merge are its new delta; the erased company is nowhere.
    assert sorted(merged.delta.document_ids.tolist()) == [7, 300, 900]
    assert 12 not in merged.documents and 301 not in merged.documents
    assert merged.documents[7].document == edited_old
    assert sorted(merged.documents) == sorted(inline.snapshot("company").documents)
    assert answers(background, needs()) == answers(inline, needs())


def test_a_need_asked_right_after_the_merge_has_its_deep_candidates_already(engines):
    background, *_, graphs, rng = engines
    background.start_precompute()
    wait_until(lambda: background.precomputed >= len(needs()), 30)
    keys = [MaterialisedKey.of(n, "company", None, background.candidate_pool) for n in needs()]
    seen_at_swap = []
    swap = background.state.swap

    def swap_and_look(snapshot, staged=None):
        swap(snapshot, staged)
        if snapshot.side == "company":  # still holding the write lock: the precompute has not run
            seen_at_swap.append([background.state.materialised.is_thorough(k, snapshot.main) for k in keys])

    background.state.swap = swap_and_look
    background.upsert([company(300 + i, rng) for i in range(11)])
    assert background.wait_for_merges(timeout=30)
    assert seen_at_swap[-1] == [True] * len(keys)


def test_a_failed_background_merge_loses_no_write_and_the_next_write_tries_again(engines, caplog):
    background, inline, unmerged, graphs, rng = engines
    old_main = background.snapshot("company").main
    graphs.fail_once = True
    batch = [company(300 + i, rng) for i in range(11)]
    write_all(engines, lambda e: e.upsert(batch))
    assert background.wait_for_merges(timeout=30)
    assert "merging the company side in the background failed" in caplog.text
    assert background.snapshot("company").main is old_main
    assert set(background.snapshot("company").documents) == set(inline.snapshot("company").documents)
    assert answers(background, needs()) == answers(unmerged, needs())

    write_all(engines, lambda e: e.upsert([company(400, rng)]))
    assert background.wait_for_merges(timeout=30)
    assert background.snapshot("company").main is not old_main
    assert len(background.snapshot("company").delta.document_ids) == 0
