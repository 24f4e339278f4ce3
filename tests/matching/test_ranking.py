"""The vectorised pieces of a ranking give what the plain, slow computation gives."""

import numpy as np

from app.matching import ranking
from app.matching.ann import exact_search, products
from app.matching.engine import Document
from app.matching.fusion import FUSION_WEIGHTS, _mean_shares, fuse, mean_shares, top_order

from .factories import make_engine


def test_best_and_second_best_per_group_as_sorting_each_group_gives():
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 5, size=300)
    # Few distinct values, so that ties for best and for second are common.
    scores = rng.integers(-2, 2, size=int(counts.sum())).astype(np.float32)
    best, second = ranking.PassageGroups(counts).top_two(scores)
    start = 0
    for group, count in enumerate(counts):
        ordered = sorted(scores[start : start + count], reverse=True)
        assert best[group] == ordered[0]
        assert second[group] == (ordered[1] if count > 1 else 0.0)
        start += count
    singles = ranking.PassageGroups(np.ones(3, np.int64))  # nothing to reduce
    assert [v.tolist() for v in singles.top_two(np.float32([0.5, -1, 2]))] == [[0.5, -1, 2], [0, 0, 0]]


def test_best_per_row_of_a_score_matrix():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(50, 3)).astype(np.float32)
    np.testing.assert_array_equal(ranking._best_per_row(scores), scores.max(axis=1))
    assert not ranking._best_per_row(np.zeros((4, 0), np.float32)).any()


def test_the_page_is_the_best_scores_with_ties_broken_by_id():
    rng = np.random.default_rng(5)
    for _ in range(20):
        scores = rng.integers(0, 6, size=200).astype(np.float32)  # many ties at the page's edge
        document_ids = rng.permutation(1000)[:200]
        expected = np.lexsort((document_ids, -scores))[:10]
        np.testing.assert_array_equal(top_order(scores, document_ids, 10), expected)


def test_products_in_blocks_equal_the_plain_product():
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((1_000, 48)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    # Few queries are multiplied block by block (a last block of 1,000 % 128 rows), many at once.
    for count in (1, 2, 3, 8, 9, 12, 13, 40):
        queries = vectors[rng.choice(len(vectors), count, replace=False)]
        got = products(vectors, queries)
        assert got.shape == (1_000, count) and got.dtype == np.float32
        np.testing.assert_allclose(got, vectors @ queries.T, atol=1e-6)
    scores, positions = exact_search(vectors, vectors[[7, 500]], 5)
    assert positions[:, 0].tolist() == [7, 500]  # each query vector is its own best match
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-6)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_looked_up_shares_equal_computed_shares():
    rng = np.random.default_rng(6)
    conditions = rng.integers(0, 3, size=500).astype(np.int8)
    counted = rng.random((500, 3)) < 0.6
    computed = _mean_shares(FUSION_WEIGHTS.by_condition()[conditions], counted)
    np.testing.assert_allclose(mean_shares(FUSION_WEIGHTS, conditions, counted), computed, rtol=1e-6)


def test_a_small_side_scores_every_allowed_document_whatever_the_pool(tmp_path):
    """Without an ANN index the candidates are all allowed documents, so a small pool
    changes nothing: the answers are those of an exhaustive scan."""
    words = ["radar", "drone", "sensor", "composiet", "laser", "optiek", "software", "coating"]
    rng = np.random.default_rng(7)
    companies = [Document("company", i + 1, "Wij leveren " + " ".join(rng.choice(words, size=4)) + ".")
                 for i in range(120)]
    small_pool = make_engine(tmp_path / "small", candidate_pool=10)
    exhaustive = make_engine(tmp_path / "all", candidate_pool=10_000)
    for engine in (small_pool, exhaustive):
        engine.upsert(companies)
    main = small_pool.snapshot("company").main
    assert not main.ann
    view = small_pool.query_view("radar en optiek")
    allowed = np.ones(len(main.document_ids), dtype=bool)
    allowed[::3] = False
    rows = ranking.candidate_rows(view, main, allowed, pool=10, allowed_share=float(allowed.mean()))
    np.testing.assert_array_equal(rows, np.flatnonzero(allowed))
    for query in ("radar en optiek", "coating voor drones", "laser software"):
        ours = [(m.id, m.score) for m in small_pool.match(query, target="company", limit=10)]
        assert ours == [(m.id, m.score) for m in exhaustive.match(query, target="company", limit=10)]
    small_pool.close()
    exhaustive.close()


def test_quotes_are_chosen_from_the_passage_scores_the_ranking_computed(tmp_path):
    sentences = ["Wij bouwen radar voor schepen.", "Onze drones inspecteren dijken.",
                 "Coatings tegen corrosie op zee.", "Lasers meten trillingen in bruggen."]
    rng = np.random.default_rng(8)
    companies = [Document("company", i + 1, " ".join(rng.choice(sentences, size=3)) * 20) for i in range(40)]
    engine = make_engine(tmp_path, candidate_pool=10_000)
    engine.upsert(companies)
    main = engine.snapshot("company").main
    view = engine.query_view("drones en radar voor inspectie op zee")
    candidates, details = engine.candidate_scores(view, engine.snapshot("company"), None)
    assert len(view.scored) == 1  # the whole segment, scored once
    fused = fuse(candidates, engine.weights)
    order = top_order(fused.total, candidates.document_ids, 10)
    reused = ranking.best_passage_pairs(view, details, order, fused)
    assert len(view.scored) == 1  # nothing computed again
    view.scored.clear()
    assert ranking.best_passage_pairs(view, details, order, fused) == reused
    # Positions never scored for the query are computed, not looked up.
    positions, _ = main.passage_positions(np.arange(len(main.document_ids)))
    view.scored[:] = [ranking.ScoredPassages(main, positions[:5], ranking.passage_scores(view, main, positions[:5]))]
    assert view.known_scores(main, positions[:3]) is not None
    assert view.known_scores(main, positions[3:8]) is None
    engine.close()
