"""The engine gives a company × need pair one probability, whichever side asks, whatever the
filter or page size, in the main segment or among recent writes."""

import pytest

from app.matching.store import Document
from tests.matching.factories import COMPANIES, NEEDS, make_engine


@pytest.mark.parametrize("merged", [True, False])
def test_a_pair_scores_the_same_from_both_sides_with_any_filter_or_page_size(tmp_path, merged):
    engine = make_engine(tmp_path, merge_always_below=0 if not merged else 10**6)
    engine.upsert(list(COMPANIES) + list(NEEDS))
    late = Document("company", 999, "Radar en drone detectie voor bewaking van kazernes; wij leveren sensoren.")
    engine.upsert([late])
    from_needs = {(m.id, need.id): m.score for need in NEEDS
                  for m in engine.match(need, target="company", limit=100)}
    from_companies = {(company.id, m.id): m.score for company in [*COMPANIES, late]
                      for m in engine.match(company, target="need", limit=100)}
    assert from_needs.keys() == from_companies.keys()
    for pair, score in from_needs.items():
        assert 0.0 <= score <= 1.0
        assert from_companies[pair] == pytest.approx(score, abs=1e-5), pair
    need = NEEDS[0]
    first_page = engine.match(need, target="company", limit=1)[0]
    assert from_needs[(first_page.id, need.id)] == pytest.approx(first_page.score, abs=1e-6)
    for company_id in (late.id, COMPANIES[-1].id):
        [alone] = engine.match(need, target="company", allowed_ids=[company_id], limit=1)
        assert alone.score == pytest.approx(from_needs[(company_id, need.id)], abs=1e-6)
    engine.close()


def test_a_query_with_no_content_word_finds_nothing(tmp_path):
    engine = make_engine(tmp_path)
    engine.upsert(list(COMPANIES) + list(NEEDS))
    for text in ("de het een", "a", "the and of", "x y z", "12 34"):
        assert engine.match(text, target="company") == [] and engine.match(text, target="need") == []
    assert engine.match("drones", target="company")
    engine.close()


def test_a_company_shortlisting_its_needs_shows_each_pair_with_its_one_score(tmp_path, monkeypatch):
    from app.matching import search

    engine = make_engine(tmp_path)
    engine.upsert(list(COMPANIES) + list(NEEDS))
    company = COMPANIES[0]
    everything = {m.id: m.score for m in engine.match(company, target="need", limit=len(NEEDS))}
    assert len(NEEDS) > 2
    monkeypatch.setattr(search, "COMPANY_SHORTLIST", 1)  # a page of one: two of the three needs are scored
    shortlists: list[int | None] = []
    original = search.Searcher.probabilities

    def counting(self, view, scored, target, unfiltered=False, shortlist=None, key=None):
        shortlists.append(None if shortlist is None else len(shortlist))
        return original(self, view, scored, target, unfiltered, shortlist, key)

    monkeypatch.setattr(search.Searcher, "probabilities", counting)
    [first] = engine.match(company, target="need", limit=1)
    assert shortlists == [2]
    assert first.score == pytest.approx(everything[first.id], abs=1e-6)  # the pair's one score
    engine.close()
