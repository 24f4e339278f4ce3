import numpy as np

from app.matching.lexical import LexicalIndex
from app.matching.text import tokenize


def test_empty_corpus_and_empty_query_give_zero_scores():
    assert LexicalIndex([]).scores(["drone"]).shape == (0,)
    index = LexicalIndex([tokenize("drones voor inspectie", "nl")])
    assert index.scores([]).tolist() == [0.0]
    assert index.scores(["onbekend"]).tolist() == [0.0]


def test_passages_sharing_rarer_words_score_higher():
    index = LexicalIndex(
        [tokenize(t, "nl") for t in ("drones bouwen", "drones en radar bouwen", "kaas maken")]
    )
    scores = index.scores(tokenize("radar voor drones", "nl"))
    assert int(np.argmax(scores)) == 1
    assert scores[2] == 0.0 and scores[0] > 0.0


def test_a_dutch_query_has_no_lexical_overlap_with_an_english_text():
    index = LexicalIndex([tokenize("Protective clothing and hearing protection for soldiers", "en")])
    query = tokenize("beschermende kleding en gehoorbescherming voor militairen", "nl")
    assert index.scores(query).tolist() == [0.0]


def test_document_frequency_counts_passages_not_occurrences():
    index = LexicalIndex([["drone", "drone"], ["drone", "radar"]])
    assert index.document_frequency == {"drone": 2, "radar": 1}


def test_postings_without_erased_passages_score_the_others_alike_and_forget_their_stems():
    """scrub.without_passages: an erased passage's postings and unshared stems leave the saved arrays."""
    import numpy as np

    from app.matching.lexical import LexicalIndex
    from app.matching.scrub import without_passages

    passages = [["drone", "composiet"], ["geheim", "drone", "drone"], ["composiet", "lasser"]]
    index = LexicalIndex(passages)
    dead = np.array([False, True, False])
    scrubbed = LexicalIndex.from_saved(without_passages(index.saved(), dead))
    query = ["drone", "composiet", "lasser"]
    np.testing.assert_allclose(scrubbed.scores(query)[~dead], index.scores(query)[~dead])
    assert scrubbed.scores(["geheim"]).tolist() == [0.0, 0.0, 0.0]
    assert "geheim" not in scrubbed.vocabulary and "drone" in scrubbed.vocabulary
    assert scrubbed.stems_of(1) == () and sorted(scrubbed.stems_of(0)) == ["composiet", "drone"]


def test_an_extended_index_holds_what_one_built_anew_from_the_same_passages_does():
    """A write to the segment of recent writes carries the kept passages' postings over
    (LexicalIndex.extended) instead of reading their stems again; the segment must not differ."""
    from app.matching.lexical import CorpusStatistics

    big = CorpusStatistics(passages=50, mean_length=4.0, document_frequency={"drone": 20, "radar": 5})
    passages = [["drone", "geheim", "geheim"], ["radar", "composiet"], [], ["drone", "lasser", "radar"]]
    index = LexicalIndex(passages, big)
    keep = np.array([True, False, True, True])
    added = [["composiet", "kevlar", "kevlar", "drone"], ["sonar"]]
    extended = index.extended(keep, added, big)
    anew = LexicalIndex([p for p, kept in zip(passages, keep, strict=True) if kept] + added, big)

    assert extended.size == anew.size == 5
    assert set(extended.vocabulary) == set(anew.vocabulary)
    assert "geheim" in extended.vocabulary  # the kept first passage still has it
    assert extended.document_frequency == anew.document_frequency
    for position in range(anew.size):
        assert sorted(extended.stems_of(position)) == sorted(anew.stems_of(position))
    for query in (["drone"], ["kevlar", "radar"], ["composiet", "sonar", "geheim", "drone"], ["onbekend"]):
        np.testing.assert_allclose(extended.scores(query), anew.scores(query), rtol=1e-6)
    np.testing.assert_allclose(extended.scores_of(np.array([4, 1]), [["sonar"], ["drone", "lasser"]]),
                               anew.scores_of(np.array([4, 1]), [["sonar"], ["drone", "lasser"]]), rtol=1e-6)
    # A stem only a dropped passage had leaves the vocabulary.
    dropped = index.extended(np.array([False, True, True, True]), [], big)
    assert "geheim" not in dropped.vocabulary and dropped.scores(["geheim"]).tolist() == [0.0, 0.0, 0.0]
    # Write after write: a stem the statistics lack ("kevlar") is weighed by its frequency here.
    keep_again, added_again = [False, True, True, False, True], [["kevlar", "radar"], ["drone"]]
    again = extended.extended(np.array(keep_again), added_again, big)
    first = [p for p, kept in zip(passages, keep, strict=True) if kept] + added
    rebuilt = LexicalIndex([p for p, kept in zip(first, keep_again, strict=True) if kept] + added_again, big)
    assert again.document_frequency == rebuilt.document_frequency
    for query in (["kevlar"], ["radar", "sonar"], ["drone", "lasser", "geheim"]):
        np.testing.assert_allclose(again.scores(query), rebuilt.scores(query), rtol=1e-6)


def test_postings_are_ordered_by_stem_as_a_stable_sort_orders_them(monkeypatch):
    from app.matching import lexical

    keys = np.random.default_rng(3).integers(0, 50, 2_000).astype(np.int32)  # many equal keys
    expected = np.argsort(keys, kind="stable")
    assert (lexical._stable_order(keys) == expected).all()
    monkeypatch.setattr(lexical, "FAST_ORDER_MAX_KEYS", 100)  # a big segment's way
    assert (lexical._stable_order(keys) == expected).all()
