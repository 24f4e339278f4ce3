import json
import shutil
import threading

import numpy as np
import pytest

from app.matching.encoders import HashingEncoder
from app.matching.engine import Document
from app.matching.explain import Explanation
from app.matching.lexical import LexicalIndex

from .factories import COMPANIES, NEEDS, make_engine


def ids(matches):
    return [m.id for m in matches]


def test_a_need_finds_the_company_that_answers_it(engine):
    assert ids(engine.match(NEEDS[0], target="company", limit=1)) == [1]
    assert ids(engine.match(NEEDS[1], target="company", limit=1)) == [2]
    assert ids(engine.match(COMPANIES[2], target="need", limit=1)) == [103]


def test_free_text_search(engine):
    assert ids(engine.match("kogelwerende vesten", target="companies", limit=1)) == [2]
    assert engine.match("   ", target="company") == []


def test_allowed_ids_restrict_the_candidates(engine):
    found = engine.match(NEEDS[0], target="company", allowed_ids={3, 4}, limit=10)
    assert set(ids(found)) <= {3, 4} and found
    assert engine.match(NEEDS[0], target="company", allowed_ids=set()) == []


def test_allowed_ids_are_honoured_when_candidates_come_from_the_indexes(tmp_path):
    # An ANN index on even this small side and a pool of one passage per signal (and a limit
    # of one) force the FAISS / BM25 candidate path instead of scoring every allowed document.
    engine = make_engine(tmp_path, candidate_pool=1, ann_min_passages=1)
    engine.upsert(COMPANIES)
    assert ids(engine.match(NEEDS[1], target="company", limit=1)) == [2]
    found = engine.match(NEEDS[1], target="company", allowed_ids={1, 3, 4}, limit=1)
    assert len(found) == 1 and found[0].id in {1, 3, 4}
    engine.close()


def test_a_document_never_matches_itself(engine):
    assert 1 not in ids(engine.match(COMPANIES[0], target="company", limit=10))


def test_an_erased_company_disappears_from_every_result_and_from_the_cache(engine):
    cache_rows_before = engine.state.cache.count()
    engine.remove("company", [2])
    for need in NEEDS:
        assert 2 not in ids(engine.match(need, target="company", limit=10))
    assert 2 not in ids(engine.match("kogelwerende vesten aramide", target="company", limit=10))
    assert engine.counts()["company"]["documents"] == 3
    # both encoders' vectors of its single passage are gone
    assert engine.state.cache.count() == cache_rows_before - 2


def test_a_changed_description_changes_its_matches_without_a_restart(engine):
    assert ids(engine.match(NEEDS[2], target="company", limit=1)) == [3]
    engine.upsert(
        [Document("company", 4, "Actieve gehoorbescherming voor soldaten op de schietbaan, met headsets.")]
    )
    assert ids(engine.match(NEEDS[2], target="company", limit=1)) == [4]


def test_unchanged_text_is_not_re_encoded(tmp_path):
    dense, multi = HashingEncoder(32, name="d"), HashingEncoder(32, name="m")
    engine = make_engine(tmp_path, dense, multi)
    engine.upsert(COMPANIES)
    encoded = dense.texts_encoded
    engine.upsert(COMPANIES)  # identical
    report = engine.sync("company", COMPANIES[:3] + [Document("company", 4, "Nieuwe tekst over radar.")])
    assert (report.updated, report.unchanged, report.removed, report.passages_encoded) == (1, 3, 0, 2)
    assert dense.texts_encoded == encoded + 1
    engine.close()


def test_sync_adds_missing_and_drops_the_rest(engine):
    report = engine.sync("company", [COMPANIES[0], Document("company", 9, "Nieuw bedrijf in radartechniek.")])
    assert (report.added, report.removed, report.unchanged) == (1, 3, 1)
    assert set(engine.snapshot("company").documents) == {1, 9}


def test_restart_with_a_deleted_index_rebuilds_it_with_the_same_results(tmp_path):
    first = make_engine(tmp_path)
    first.upsert(COMPANIES + NEEDS)
    first.save()
    expected = [(m.id, m.score) for m in first.match(NEEDS[0], target="company")]
    first.close()

    for path in (tmp_path / "index").glob("*.npy"):
        path.unlink()
    dense = HashingEncoder(64, name="hash-dense")
    second = make_engine(tmp_path, dense=dense)
    second.load_or_build({"company": COMPANIES, "need": NEEDS})
    assert [(m.id, m.score) for m in second.match(NEEDS[0], target="company")] == expected
    assert dense.texts_encoded == 0  # every passage vector came from the embedding cache
    assert sorted(p.name for p in (tmp_path / "index").glob("*.npy"))  # and the index was saved again
    second.close()


def test_a_saved_index_is_loaded_without_encoding(tmp_path):
    first = make_engine(tmp_path)
    first.upsert(COMPANIES + NEEDS)
    first.save()
    first.close()
    dense = HashingEncoder(64, name="hash-dense")
    second = make_engine(tmp_path, dense=dense)
    reports = second.load_or_build({"company": COMPANIES, "need": NEEDS})
    assert all(r.unchanged and not (r.added or r.updated or r.removed) for r in reports.values())
    assert dense.texts_encoded == 0
    assert ids(second.match(NEEDS[1], target="company", limit=1)) == [2]
    second.close()


def test_passages_hold_their_document_text_not_copies_of_their_slices(tmp_path):
    """A passage cuts its text from its document's when asked (82 MB of copies at 100,000)."""
    long_text = " ".join(f"Zin {i} over radar, sensoren en onderhoud van schepen." for i in range(60))
    documents = [Document("company", 1, long_text), Document("company", 2, "  Kort profiel.  ")]
    first = make_engine(tmp_path)
    first.upsert(documents)
    first.save()
    first.close()
    second = make_engine(tmp_path)
    second.load_or_build(None)
    for engine in (first, second):
        for stored in engine.snapshot("company").documents.values():
            text = stored.document.text
            assert all(p.source is text and p.text == text[p.start : p.end] for p in stored.passages)
        assert len(engine.snapshot("company").documents[1].passages) > 2
    second.close()


def _postings(lexical):
    return {name: getattr(lexical, name) for name in LexicalIndex.SAVED_ARRAYS}


def test_a_saved_index_loads_its_bm25_postings_instead_of_building_them(tmp_path, monkeypatch):
    first = make_engine(tmp_path)
    first.upsert(COMPANIES + NEEDS)
    first.save()
    expected = [(m.id, m.score) for m in first.match(NEEDS[0], target="company")]
    built = first.snapshot("company").main.lexical
    first.close()

    sizes_built = []
    original = LexicalIndex.__init__
    monkeypatch.setattr(LexicalIndex, "__init__", lambda self, tokens, statistics=None: (
        sizes_built.append(len(tokens)), original(self, tokens, statistics))[1])
    second = make_engine(tmp_path)
    second.load_or_build(None)
    loaded = second.snapshot("company").main.lexical
    assert loaded.size not in sizes_built  # only empty delta segments were built
    for name, array in _postings(built).items():
        np.testing.assert_array_equal(_postings(loaded)[name], array)
    assert loaded.vocabulary == built.vocabulary and loaded.statistics == built.statistics
    assert [(m.id, m.score) for m in second.match(NEEDS[0], target="company")] == expected
    second.close()

    # An unreadable postings file costs building them, not the index.
    (tmp_path / "index" / "company.main.lexical.npz").write_bytes(b"not an npz file")
    third = make_engine(tmp_path)
    reports = third.load_or_build({"company": COMPANIES, "need": NEEDS})
    assert all(r.unchanged and not r.passages_encoded for r in reports.values())
    assert loaded.size in sizes_built
    assert [(m.id, m.score) for m in third.match(NEEDS[0], target="company")] == expected
    third.close()


def test_a_loaded_index_shares_one_string_per_stem(tmp_path):
    """Loading must not give every occurrence of a stem its own string (about 1 GB at 100,000
    companies): equal stems of different documents are one object."""
    first = make_engine(tmp_path)
    first.upsert(COMPANIES)
    first.save()
    first.close()
    second = make_engine(tmp_path)
    second.load_or_build()
    seen: dict[str, str] = {}
    shared = 0
    for stored in second.snapshot("company").documents.values():
        for stem in (t for tokens in stored.passage_tokens for t in tokens):
            if stem in seen:
                assert seen[stem] is stem
                shared += 1
            seen.setdefault(stem, stem)
    assert shared > 0  # the companies do share stems, so the check above ran
    second.close()


def test_an_index_made_by_another_model_is_stale(tmp_path):
    first = make_engine(tmp_path)
    first.upsert(COMPANIES)
    first.save()
    first.close()
    other = make_engine(tmp_path, dense=HashingEncoder(64, name="another-model"))
    other.load_or_build()
    assert other.counts()["company"]["documents"] == 0
    other.close()


def test_an_index_saved_under_other_text_rules_is_stale(tmp_path, monkeypatch):
    first = make_engine(tmp_path)
    first.upsert(COMPANIES)
    first.save()
    first.close()
    monkeypatch.setattr("app.matching.saved_index.TEXT_RULES_VERSION", 999)
    later = make_engine(tmp_path)
    later.load_or_build()
    assert later.counts()["company"]["documents"] == 0
    later.close()


def test_explanations_quote_real_passages_of_both_texts(engine):
    long_need = Document(
        "need",
        104,
        " ".join(
            ["Het programma vraagt om innovatieve oplossingen voor de krijgsmacht in Noord-Nederland."] * 20
            + ["Specifiek zoeken wij kogelwerende vesten van aramide die lichter zijn dan de huidige."]
            + ["De uitvoering vindt plaats in samenwerking met kennisinstellingen en de provincie."] * 20
        ),
        ("SM",),
    )
    engine.upsert([long_need])
    [best] = engine.match(long_need, target="company", limit=1)
    explanation = best.explanation
    quote = explanation.query_passage
    assert long_need.text[quote.start : quote.end] == quote.text and 0 < len(quote.text) <= 240
    company_text = next(c.text for c in COMPANIES if c.id == best.id)
    matched = explanation.match_passage
    assert company_text[matched.start : matched.end] == matched.text
    assert best.id == 2
    assert "aramide" in explanation.shared_terms
    assert list(explanation.shared_nld_areas) == ["SM"]
    assert set(explanation.signals) == {"bm25", "dense", "multilingual"}
    assert 0.0 <= best.score <= 1.0  # the pair's probability of fit; the shares explain its text score
    assert explanation.signals["bm25"].used and explanation.signals["bm25"].contribution > 0
    assert Explanation.model_validate(json.loads(explanation.model_dump_json())) == explanation


def test_matches_come_best_first(engine):
    scores = [m.score for m in engine.match("drones en vesten voor defensie", target="company", limit=10)]
    assert len(scores) == len(COMPANIES) and scores == sorted(scores, reverse=True)


def test_concurrent_searches_during_writes_never_fail(engine):
    errors = []
    stop = threading.Event()

    def search():
        while not stop.is_set():
            try:
                for need in NEEDS:
                    engine.match(need, target="company", limit=3)
                engine.match(COMPANIES[0], target="need", limit=3)
                engine.match("drones inspectie", target="company", limit=3)
            except Exception as error:  # noqa: BLE001 - any failure is the test's subject
                errors.append(error)

    readers = [threading.Thread(target=search) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for round_number in range(30):
            engine.upsert(
                [Document("company", 1000 + round_number, f"Bedrijf {round_number} maakt drones en vesten.")]
            )
            engine.upsert([Document("company", 1, f"Wij bouwen drones, versie {round_number}.")])
            engine.remove("company", [1000 + round_number - 1])
            engine.remove("need", [101])
            engine.upsert([NEEDS[0]])
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert errors == []


def test_unknown_side_is_refused(engine):
    with pytest.raises(ValueError, match="side must be"):
        engine.match("x", target="suppliers")


def test_engine_without_vector_encoders_still_ranks_lexically(tmp_path):
    from app.matching.engine import MatchEngine

    engine = MatchEngine(tmp_path, None, None)
    engine.upsert(COMPANIES)
    assert ids(engine.match("kogelwerende vesten", target="company", limit=1)) == [2]
    engine.close()


def test_copying_the_data_dir_carries_the_index(tmp_path):
    engine = make_engine(tmp_path / "a")
    engine.upsert(COMPANIES)
    engine.save()
    engine.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    copy = make_engine(tmp_path / "b")
    copy.load_or_build()
    assert copy.counts()["company"]["documents"] == len(COMPANIES)
    copy.close()


def test_a_saved_hnsw_index_is_loaded_with_its_graphs_and_answers_the_same(tmp_path):
    """A big segment's graphs are read back (not rebuilt, nothing re-encoded), the segment scores
    from the graphs' own copy of the vectors, and the answers are those before the restart."""
    import numpy as np

    words = ["radar", "drone", "sensor", "composiet", "laser", "optiek", "software", "kogelwerend",
             "batterij", "antenne", "camera", "coating", "robot", "satelliet", "quantum", "textiel"]
    rng = np.random.default_rng(5)
    companies = [Document("company", i + 1, "Wij leveren " + " ".join(rng.choice(words, size=6)) + ".")
                 for i in range(300)]
    big = {"ann_min_passages": 100, "candidate_pool": 20}
    first = make_engine(tmp_path, **big)
    first.upsert(companies)
    first.merge("company")
    assert set(first.snapshot("company").main.ann) == {"dense", "multilingual"}
    queries = ["radar en antenne", "drone camera software", "coating voor textiel"]
    before = [[(m.id, m.score) for m in first.match(q, target="company", limit=5)] for q in queries]
    first.save()
    first.close()
    dense = HashingEncoder(64, name="hash-dense")
    second = make_engine(tmp_path, dense=dense, **big)
    second.load_or_build(None)
    assert dense.texts_encoded == 0
    main = second.snapshot("company").main
    assert set(main.ann) == {"dense", "multilingual"}
    for signal, index in main.ann.items():
        assert np.shares_memory(main.vectors[signal], index.stored_vectors())
    after = [[(m.id, m.score) for m in second.match(q, target="company", limit=5)] for q in queries]
    assert after == before
    second.close()


def test_sync_reads_a_stream_once_and_reports_what_it_did(tmp_path):
    """The start-up sync gets the database as a stream (read once, never held whole): it adds,
    updates, keeps and drops exactly as a list would, and of one id listed twice the last counts."""
    engine = make_engine(tmp_path)
    engine.upsert(COMPANIES)
    kept, changed, *rest = COMPANIES
    rewritten = Document("company", changed.id, "Wij bouwen zonnepanelen voor kazernes.")
    new = Document("company", 999, "Wij leveren kogelwerende helmen.")
    stream = (d for d in [kept, Document("company", kept.id, "tijdelijk"), kept, rewritten, new])
    report = engine.sync("company", stream)
    assert (report.added, report.updated, report.unchanged, report.removed) == (1, 1, 1, len(rest))
    assert set(engine.snapshot("company").documents) == {kept.id, changed.id, 999}
    assert ids(engine.match("zonnepanelen", target="company", limit=1)) == [changed.id]
    engine.close()


def _big_engine_corpus():
    """Companies enough for a big main segment (with graphs), each text repeating some stems."""
    words = ["radar", "drone", "sensor", "composiet", "laser", "optiek", "software", "kogelwerend",
             "batterij", "antenne", "camera", "coating", "robot", "satelliet", "quantum", "textiel"]
    rng = np.random.default_rng(9)
    companies = [Document("company", i + 1, "Wij leveren " + " ".join(rng.choice(words, size=8)) + ". "
                          + "Onze " + " en ".join(rng.choice(words, size=3)) + " zijn beproefd.")
                 for i in range(300)]
    needs = [Document("need", 1000 + i, "Defensie zoekt " + " ".join(rng.choice(words, size=4)) + ".")
             for i in range(20)]
    return companies, needs


def test_a_big_segment_holds_its_stems_only_in_its_postings_and_answers_as_from_the_text(tmp_path):
    """The documents of a big main segment hold no stems of their own (85 MB as tuples at 100,000
    companies): they are read back from the BM25 postings, as a bag that counts each stem as
    often as the text does, before and after a merge, a save and a load without those postings."""
    from app.matching.text import tokenize

    companies, needs = _big_engine_corpus()
    big = {"ann_min_passages": 100, "merge_always_below": 0, "delta_share": 0.5}
    engine = make_engine(tmp_path, **big)
    engine.upsert(companies + needs)
    engine.merge("company")

    def assert_stems_as_the_text(engine):
        snapshot = engine.snapshot("company")
        assert snapshot.main.ann and all(d.passage_tokens is None for d in snapshot.main.documents.values())
        for stored in snapshot.documents.values():
            from_postings = snapshot.tokens_of(stored.document.id)
            assert [sorted(stems) for stems in from_postings] == [
                sorted(tokenize(p.text, stored.language)) for p in stored.passages]

    def answers(engine):
        # A stored company asks with the stems from the postings; the same text under an id the
        # engine does not hold is tokenized afresh: the two must score every need the same.
        stored = [engine.match(c, target="need", limit=5) for c in companies[:30]]
        fresh = [engine.match(Document("company", 10**6, c.text), target="need", limit=5)
                 for c in companies[:30]]
        assert [[(m.id, m.score) for m in page] for page in stored] == [
            [(m.id, m.score) for m in page] for page in fresh]
        return [[(m.id, m.score) for m in engine.match(n, target="company", limit=10)] for n in needs]

    assert_stems_as_the_text(engine)
    expected = answers(engine)
    engine.upsert([Document("company", 7, "Wij leveren radar radar en antenne.")])
    engine.merge("company")  # the new main segment's postings are built from the old one's
    assert_stems_as_the_text(engine)
    expected = answers(engine)
    engine.save()
    engine.close()
    rows = [json.loads(line) for line in (tmp_path / "index" / "company.main.documents.jsonl").open()]
    assert rows and all("tokens" not in row for row in rows)

    for broken_postings in (False, True):
        if broken_postings:
            (tmp_path / "index" / "company.main.lexical.npz").write_bytes(b"not an npz file")
        loaded = make_engine(tmp_path, **big)
        loaded.load_or_build(None)
        assert_stems_as_the_text(loaded)
        assert answers(loaded) == expected
        loaded.close()


class CountingEncoder(HashingEncoder):
    """The test encoder, counting the texts it is asked to encode as queries."""

    def __init__(self, dim, name):
        super().__init__(dim, name=name)
        self.queries = 0

    def encode(self, texts, *, kind):
        self.queries += len(texts) if kind == "query" else 0
        return super().encode(texts, kind=kind)


def test_a_free_text_asked_again_is_not_encoded_again(tmp_path):
    dense = CountingEncoder(64, "hash-dense")
    engine = make_engine(tmp_path, dense=dense)
    engine.upsert(COMPANIES + NEEDS)
    first = engine.match("drones voor inspectie", target="company")
    again = engine.match("drones voor inspectie", target="company")
    other = engine.match("kogelwerende vesten", target="company")
    assert dense.queries == 2  # one passage per distinct text
    assert [(m.id, m.score) for m in again] == [(m.id, m.score) for m in first]
    assert first[0].id == 1 and other[0].id == 2
    engine.close()


def test_a_snapshot_holds_every_live_document_once_in_its_latest_version_through_writes(tmp_path):
    """Writes go to the delta segment and leave the main one as it was: the snapshot's documents
    read through both, so a replaced or erased main document must not show its old version."""
    engine = make_engine(tmp_path, merge_always_below=0, delta_share=0.99)
    engine.upsert(COMPANIES)
    engine.merge("company")
    assert len(engine.snapshot("company").main.document_ids) == 4

    replaced = Document("company", 2, "Nieuwe tekst: radar en antennes voor schepen.")
    added = Document("company", 9, "Nieuw bedrijf in drones.")
    engine.upsert([replaced, added])
    engine.remove("company", [3])
    added_again = Document("company", 9, "Nieuw bedrijf in drones en sensoren.")
    engine.upsert([added_again, Document("company", 10, "Een bedrijf dat meteen weer gaat.")])
    engine.remove("company", [10])

    snapshot = engine.snapshot("company")
    assert len(snapshot.main.document_ids) == 4  # no merge: the main segment holds the old versions
    expected = {1: COMPANIES[0].text, 4: COMPANIES[3].text, 2: replaced.text, 9: added_again.text}
    assert [(i, d.document.text) for i, d in snapshot.documents.items()] == list(expected.items())
    assert list(snapshot.documents) == list(expected)
    assert [d.document.text for d in snapshot.documents.values()] == list(expected.values())
    assert len(snapshot.documents) == 4
    assert snapshot.documents[2].document.text == replaced.text
    assert snapshot.documents.get(2).document.text == replaced.text
    for gone in (3, 10, 77):
        assert gone not in snapshot.documents
        assert snapshot.documents.get(gone) is None
        with pytest.raises(KeyError):
            snapshot.documents[gone]
    assert engine.counts()["company"]["documents"] == 4
