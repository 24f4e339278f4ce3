from app.matching.lexical import LexicalIndex
from app.matching.text import tokenize


def test_empty_corpus_and_empty_query_give_zero_scores():
    assert LexicalIndex([]).scores(["drone"]).shape == (0,)
    index = LexicalIndex([tokenize("drones voor inspectie", "nl")])
    assert index.scores([]).tolist() == [0.0]
    assert index.top_k([], k=5)[0].size == 0


def test_k_is_clamped_to_the_corpus():
    index = LexicalIndex([tokenize(t, "nl") for t in ("drones bouwen", "drones vliegen", "kaas maken")])
    positions, scores = index.top_k(tokenize("drones", "nl"), k=50)
    assert sorted(positions.tolist()) == [0, 1]
    assert (scores > 0).all()


def test_a_dutch_query_has_no_lexical_overlap_with_an_english_text():
    index = LexicalIndex([tokenize("Protective clothing and hearing protection for soldiers", "en")])
    query = tokenize("beschermende kleding en gehoorbescherming voor militairen", "nl")
    assert not index.overlaps(query)
    assert index.scores(query).tolist() == [0.0]
