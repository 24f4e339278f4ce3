"""The hand-built BM25 matrix gives bm25s's scores, so the evaluation numbers stay comparable."""

import bm25s
import numpy as np
from bm25s.stopwords import STOPWORDS_DUTCH, STOPWORDS_EN_PLUS

from app.matching.lexical import LexicalIndex
from app.matching.text import DATA_DIR, read_word_list, tokenize

TEXTS = [
    "Wij maken composiet onderdelen voor drones en voertuigen.",
    "Radar en antennes voor schepen; radar onderhoud.",
    "",
    "Drones for inspection of wind turbines and radar masts.",
    "Composiet, composiet en nog eens composiet: frames voor drones.",
]


def test_scores_equal_those_of_bm25s():
    tokens = [tokenize(t) for t in TEXTS]
    ours = LexicalIndex(tokens)
    reference = bm25s.BM25()
    reference.index([t or [" "] for t in tokens], show_progress=False)
    for query in (["compos", "drones"], ["radar", "radar", "schep"], ["unknown"], ["drones"]):
        ids = [reference.vocab_dict[t] for t in query if t in reference.vocab_dict]
        expected = reference.get_scores_from_ids(ids) if ids else np.zeros(len(TEXTS))
        np.testing.assert_allclose(ours.scores(query), expected, rtol=1e-5, atol=1e-6)


def test_the_shipped_stop_word_lists_are_those_of_bm25s():
    assert read_word_list(DATA_DIR / "stopwords-nl.txt") == frozenset(STOPWORDS_DUTCH)
    assert read_word_list(DATA_DIR / "stopwords-en.txt") == frozenset(STOPWORDS_EN_PLUS)


def test_candidate_passages_come_from_the_rarest_terms():
    tokens = [tokenize(t) for t in TEXTS]
    index = LexicalIndex(tokens)
    positions, scores = index.top_passages(tokenize("composiet radar schepen"), limit=2, max_terms=1)
    # With one term allowed, the rarest of the three ("schep", in one passage) decides.
    assert list(positions) == [1]
    assert scores[0] > 0


def test_a_small_segment_weighted_with_the_big_one_scores_like_it():
    tokens = [tokenize(t) for t in TEXTS]
    big = LexicalIndex(tokens)
    small = LexicalIndex(tokens[:2], statistics=big.statistics)
    query = ["compos", "radar"]
    np.testing.assert_allclose(small.scores(query), big.scores(query)[:2], rtol=1e-6)


def test_scores_of_some_passages_are_the_same_read_from_either_side():
    """scores_of reads the stems of the passages asked for, or the passages of the query's
    stems, whichever is shorter; both give the scores of every passage."""
    tokens = [tokenize(t) for t in TEXTS]
    index = LexicalIndex(tokens)
    query = [tokenize("drones radar composiet"), tokenize("schepen")]
    every = index.scores_of(np.arange(len(TEXTS)), query)  # few postings: read by stem
    for position in range(len(TEXTS)):  # one short passage: read by passage
        alone = index.scores_of(np.array([position]), query)[0]
        np.testing.assert_allclose(alone, every[position], rtol=1e-6)
    reference = np.stack([index.scores(q) for q in query], axis=1)
    np.testing.assert_allclose(every, reference, rtol=1e-6)


def test_several_token_lists_score_as_each_list_alone():
    tokens = [tokenize(t) for t in TEXTS]
    index = LexicalIndex(tokens)
    lists = [tokenize("drones drones radar"), tokenize("composiet frames"), [], tokenize("radar schepen drones")]
    for positions in (np.arange(len(TEXTS)), np.array([3, 0])):
        together = index.scores_of(positions, lists)
        for column, tokens_of_list in enumerate(lists):
            np.testing.assert_allclose(together[:, column], index.scores_of(positions, [tokens_of_list])[:, 0],
                                       rtol=1e-6)
