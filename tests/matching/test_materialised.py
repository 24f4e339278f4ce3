"""Kept (materialised) matches of stored needs and companies: never stale, never unbounded."""


import numpy as np
import pytest

from app.matching.engine import Document
from app.matching.materialised import MaterialisedKey
from tests.waiting import wait_until

from .factories import make_engine

WORDS = ["radar", "drone", "sensor", "composiet", "laser", "optiek", "software", "kogelwerend",
         "batterij", "antenne", "camera", "coating", "robot", "satelliet", "quantum", "textiel"]
# Writes go to the delta segment (no merge until it is half the main one); candidates come from
# the indexes, not from scoring every company (a pool of 20 among 300).
DELTA_WRITES = {"merge_always_below": 0, "delta_share": 0.5, "candidate_pool": 20, "ann_min_passages": 100}


def corpus(seed=5, companies=300, needs=12):
    rng = np.random.default_rng(seed)
    return (
        [Document("company", i + 1, "Wij leveren " + " ".join(rng.choice(WORDS, size=6)) + ".",
                  sectors=(str(rng.choice(["maakindustrie", "ict"])),)) for i in range(companies)],
        [Document("need", 1000 + i, "Defensie zoekt " + " ".join(rng.choice(WORDS, size=4)) + ".")
         for i in range(needs)],
    )


def answers(engine, needs, **kwargs):
    return [[(m.id, m.score, m.explanation) for m in engine.match(n, target="company", limit=10, **kwargs)]
            for n in needs]


@pytest.fixture
def pair(tmp_path):
    """The same corpus in an engine that keeps matches and in one that keeps nothing."""
    companies, needs = corpus()
    kept = make_engine(tmp_path / "kept", **DELTA_WRITES)
    fresh = make_engine(tmp_path / "fresh", materialised_bytes=0, **DELTA_WRITES)
    for engine in (kept, fresh):
        engine.upsert(companies + needs)
        engine.merge("company")
        engine.merge("need")
    yield kept, fresh, companies, needs
    kept.close()
    fresh.close()


def test_kept_matches_follow_every_write_exactly_as_a_fresh_search(pair):
    kept, fresh, companies, needs = pair
    assert answers(kept, needs) == answers(fresh, needs)
    assert answers(kept, needs) == answers(fresh, needs)  # the second time from what was kept
    assert kept.state.materialised.hits >= len(needs)

    best_of_first_need = answers(fresh, needs[:1])[0][0][0]
    writes = [
        lambda e: e.upsert([Document("company", 5000,
                                     needs[0].text.replace("Defensie zoekt", "Wij leveren"))]),
        lambda e: e.remove("company", [best_of_first_need]),
        lambda e: e.upsert([Document("company", companies[7].id, "Wij leveren " + needs[3].text)]),
        lambda e: e.upsert([Document("need", needs[5].id, "Defensie zoekt satelliet antenne optiek.")]),
    ]
    for write in writes:
        write(kept)
        write(fresh)
        assert kept.snapshot("company").main is not None
        assert answers(kept, needs) == answers(fresh, needs)
    first = [company for company, *_ in answers(kept, needs[:1])[0]]
    assert first[0] == 5000 and best_of_first_need not in first
    assert len(kept.snapshot("company").delta.document_ids) == 2  # the writes did not merge


def test_filters_and_dismissed_companies_are_honoured_by_kept_matches(pair):
    kept, fresh, _, needs = pair
    allowed = frozenset(range(1, 151))
    assert answers(kept, needs, allowed_ids=allowed) == answers(fresh, needs, allowed_ids=allowed)
    top = answers(kept, needs[:1])[0][0][0]
    dismissed = answers(kept, needs[:1], excluded_ids={top})[0]
    assert top not in [company for company, *_ in dismissed]
    assert dismissed == answers(fresh, needs[:1], excluded_ids={top})[0]


def test_a_merge_lets_go_of_the_candidates_kept_for_the_old_segment(pair):
    kept, fresh, _, needs = pair
    answers(kept, needs)
    old_main = kept.snapshot("company").main
    kept.upsert([Document("company", 6000, "Wij leveren radar en antenne.")])
    kept.merge("company")
    assert all(e.candidates.segment is not old_main for e in kept.state.materialised._entries.values())
    fresh.upsert([Document("company", 6000, "Wij leveren radar en antenne.")])
    fresh.merge("company")
    assert answers(kept, needs) == answers(fresh, needs)


def test_the_precompute_searches_deeper_and_matches_an_exhaustive_scan(tmp_path, pair):
    kept, _, companies, needs = pair
    assert kept.precompute() == len(needs)
    assert kept.precompute() == 0  # nothing changed: nothing to search again
    exhaustive = make_engine(tmp_path / "exhaustive", materialised_bytes=0,
                             **{**DELTA_WRITES, "candidate_pool": 10**6})
    exhaustive.upsert(companies + needs)
    exhaustive.merge("company")
    assert answers(kept, needs) == answers(exhaustive, needs)
    exhaustive.close()


def test_a_restart_keeps_the_precomputed_candidates_saved_with_the_index(tmp_path, pair):
    kept, _, companies, needs = pair
    kept.precompute()
    before = answers(kept, needs)
    kept.save()
    kept.close()
    edited = Document("need", needs[2].id, "Defensie zoekt een robot met camera.")
    current = [edited if n.id == edited.id else n for n in needs]
    restarted = make_engine(tmp_path / "kept", **DELTA_WRITES)
    restarted.load_or_build({"company": companies, "need": current})
    # Only the edited need is searched again; the others' candidates came back with the index.
    assert restarted.precompute() == 1
    # The precompute also made every need's first page again: a first ask computes nothing.
    hits = restarted.state.materialised.hits
    contexts = dict(restarted.state.pairs._contexts)
    unchanged = [i for i, n in enumerate(needs) if n.id != edited.id]
    after = answers(restarted, current)
    assert restarted.state.materialised.hits - hits == len(needs)
    assert restarted.state.pairs._contexts == contexts
    assert [after[i] for i in unchanged] == [before[i] for i in unchanged]
    restarted.close()


def test_a_restart_brings_the_needs_contexts_back_so_a_company_s_first_page_finds_none_again(tmp_path, pair):
    kept, _, companies, needs = pair
    kept.precompute()

    def first_pages(engine):
        return [[(m.id, m.score) for m in engine.match(c, target="need", limit=5)] for c in companies[:3]]

    before = first_pages(kept)
    kept.save()
    kept.close()
    restarted = make_engine(tmp_path / "kept", **DELTA_WRITES)
    restarted.load_or_build({"company": companies, "need": needs})
    found = []
    context_score = restarted.state.pairs.context_score
    restarted.state.pairs.context_score = lambda *args: found.append(1) or context_score(*args)
    assert first_pages(restarted) == before
    assert found == []  # every need's context came back with the index: none was searched for
    restarted.close()


def test_a_reindexed_folder_serves_a_company_s_first_page_without_searching_a_context(tmp_path, pair):
    _, _, companies, needs = pair
    documents = {"company": companies, "need": needs}
    built = make_engine(tmp_path / "reindexed", **DELTA_WRITES)
    built.load_or_build(documents, precompute=True)  # as `koppelkans reindex` does
    built.close()
    served = make_engine(tmp_path / "reindexed", **DELTA_WRITES)
    served.load_or_build(documents)
    found = []
    context_score = served.state.pairs.context_score
    served.state.pairs.context_score = lambda *args: found.append(1) or context_score(*args)
    assert served.match(companies[0], target="need", limit=5)
    assert found == []  # every need's context was saved by the reindex
    served.close()


def test_the_precompute_makes_the_needs_side_so_no_company_page_waits_for_it(pair):
    kept, _, companies, _ = pair
    kept.precompute()
    made = kept.state.pairs._need_side
    assert made is not None, "the precompute left the needs' side to the first company page"
    assert kept.match(companies[0], target="need", limit=5)
    assert kept.state.pairs._need_side is made  # the page read it, it did not make it again


def test_the_background_precompute_keeps_up_with_new_needs(pair):
    kept, *_ = pair
    kept.start_precompute()
    new_need = Document("need", 4242, "Defensie zoekt kogelwerend textiel en coating.")
    kept.upsert([new_need])
    key = MaterialisedKey.of(new_need, "company", None, kept.candidate_pool)
    main = kept.snapshot("company").main
    assert wait_until(lambda: kept.state.materialised.is_thorough(key, main), 30), (
        "the new need's companies were never precomputed")


def test_a_need_written_while_the_server_precomputes_is_searched_before_the_write_returns(pair):
    kept, *_, needs = pair
    kept.precomputer._loop = lambda: None  # no background pass: only the write can do it
    kept.start_precompute()
    main = kept.snapshot("company").main
    new_need = Document("need", 4243, "Defensie zoekt een robot met camera en antenne.")
    edited = Document("need", needs[2].id, "Defensie zoekt quantum sensoren en optiek.")
    kept.upsert([new_need, edited])

    def precomputed(need):
        key = MaterialisedKey.of(need, "company", None, kept.candidate_pool)
        return kept.state.materialised.is_thorough(key, main)

    assert precomputed(new_need) and precomputed(edited)
    hits = kept.state.materialised.hits
    kept.match(new_need, target="company", limit=10)
    assert kept.state.materialised.hits > hits  # answered from what the write kept
    # A batch bigger than PRECOMPUTE_ON_WRITE is left to the background pass.
    batch = [Document("need", 5000 + i, f"Defensie zoekt {word} en coating.")
             for i, word in enumerate(WORDS[:11])]
    kept.upsert(batch)
    assert not precomputed(batch[0])


def test_kept_matches_stay_within_their_memory_budget(tmp_path):
    companies, needs = corpus(needs=40)
    engine = make_engine(tmp_path, materialised_bytes=60_000, **DELTA_WRITES)
    engine.upsert(companies + needs)
    engine.merge("company")
    answers(engine, needs)
    assert 0 < engine.state.materialised.nbytes <= 60_000
    assert len(engine.state.materialised) < len(needs)
    engine.close()


def test_free_text_is_never_kept(pair):
    kept, *_ = pair
    kept.match("radar en antenne", target="company")
    assert len(kept.state.materialised) == 0


def test_requests_evict_their_own_entries_before_the_precomputed_ones(tmp_path):
    companies, needs = corpus(needs=6)
    engine = make_engine(tmp_path, materialised_bytes=400_000, **DELTA_WRITES)
    engine.upsert(companies + needs)
    engine.merge("company")
    engine.precompute()
    for company in companies:  # every company asks for its needs: far more than the budget holds
        engine.match(company, target="need")
    main = engine.snapshot("company").main
    assert all(engine.state.materialised.is_thorough(
        MaterialisedKey.of(need, "company", None, engine.candidate_pool), main) for need in needs)
    assert engine.state.materialised.nbytes <= 400_000
    engine.close()


def test_a_first_page_is_ranked_once_per_version_of_the_side(pair):
    kept, fresh, companies, needs = pair
    ranked = []
    rank = kept.searcher.rank
    kept.searcher.rank = lambda *args: ranked.append(1) or rank(*args)
    first = answers(kept, needs[:1])
    assert answers(kept, needs[:1]) == first and len(ranked) == 1  # the second ask reuses the ranking
    kept.upsert([Document("company", 6000, needs[0].text.replace("Defensie zoekt", "Wij leveren"))])
    fresh.upsert([Document("company", 6000, needs[0].text.replace("Defensie zoekt", "Wij leveren"))])
    assert answers(kept, needs[:1]) == answers(fresh, needs[:1]) != first
    assert len(ranked) == 2  # the write made a new version of the side: ranked again



def test_a_side_scored_whole_keeps_first_pages_and_quotes_too(tmp_path, monkeypatch):
    """The needs' side has no ANN index, so nothing a search found is kept for a company; its
    first page and quotes still are, until a need is written."""
    from app.matching import search as search_module

    companies, needs = corpus(companies=20)
    engine = make_engine(tmp_path)
    engine.upsert(companies + needs)
    assert not engine.snapshot("need").main.ann
    ranked, quoted = [], []
    rank, quote = engine.searcher.rank, search_module.explanation_texts
    monkeypatch.setattr(engine.searcher, "rank", lambda *args: ranked.append(1) or rank(*args))
    monkeypatch.setattr(search_module, "explanation_texts",
                        lambda **kwargs: quoted.append(1) or quote(**kwargs))
    first = engine.match(companies[0], target="need", limit=5)
    assert engine.match(companies[0], target="need", limit=5) == first
    assert len(ranked) == 1 and len(quoted) == len(first)  # asked again: nothing ranked or quoted anew
    engine.upsert([Document("need", 2000, "Defensie zoekt " + companies[0].text)])
    assert engine.match(companies[0], target="need", limit=5)[0].id == 2000 and len(ranked) == 2
    engine.close()


def test_an_unreadable_saved_precompute_costs_the_precompute_not_the_index(tmp_path, pair):
    kept, _, companies, needs = pair
    kept.precompute()
    kept.save()
    kept.close()
    (tmp_path / "kept" / "index" / "company.main.kept.npz").write_bytes(b"not an npz file")
    restarted = make_engine(tmp_path / "kept", **DELTA_WRITES)
    reports = restarted.load_or_build({"company": companies, "need": needs})
    # The saved index was used: nothing encoded, nothing rebuilt.
    assert all(r.passages_encoded == 0 and not r.merged for r in reports.values())
    assert restarted.precompute() == len(needs)
    restarted.close()


def test_a_need_ranked_again_after_a_write_reads_its_evidence_against_the_main_segment_as_kept(pair, monkeypatch):
    from app.matching import pair_scoring

    kept, fresh, _, needs = pair
    answers(kept, needs[:1])  # ranked once: its evidence against its main-segment candidates is kept
    write = Document("company", 7000, needs[0].text.replace("Defensie zoekt", "Wij leveren"))
    for engine in (kept, fresh):
        engine.upsert([write])
    scored: list = []
    original = pair_scoring.evidence_in

    def spy(view, segment, rows, mass=None):
        scored.append(segment)
        return original(view, segment, rows, mass)

    monkeypatch.setattr(pair_scoring, "evidence_in", spy)
    again = answers(kept, needs[:1])
    companies = kept.snapshot("company")
    assert scored and all(segment is companies.delta for segment in scored)  # only the new write's
    monkeypatch.undo()
    assert again == answers(fresh, needs[:1])
    assert again[0][0][0] == 7000


def test_the_memory_counted_is_what_the_entries_hold_when_kept_evidence_grows(pair):
    kept, _, _, needs = pair
    materialised = kept.state.materialised
    some = answers(kept, needs[:1])[0][0][0]
    materialised.clear()
    answers(kept, needs[:1], excluded_ids={some})  # evidence kept for every candidate but one
    answers(kept, needs[:1])  # and now for that one too
    assert materialised.nbytes == sum(entry.nbytes for entry in materialised._entries.values())
