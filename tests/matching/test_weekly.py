"""The weekly list batch: the same pairs as interactive matching, in one process or several."""

from app.matching.engine import Document

from .factories import make_engine

TOPICS = [
    "drones voor inspectie en autonome navigatie met lidar",
    "kogelwerende vesten en ballistische panelen van aramide",
    "actieve gehoorbescherming en communicatieheadsets",
    "radar en sensoren voor de bewaking van de kust",
    "onderhoud van voertuigen en aandrijflijnen",
    "cyberbeveiliging van industriële besturingssystemen",
]


def _world(tmp_path):
    engine = make_engine(tmp_path)
    companies = [
        Document("company", i, f"Bedrijf {i} levert {TOPICS[i % len(TOPICS)]} aan klanten in Drenthe.",
                 sectors=("maakindustrie",) if i % 2 else ())
        for i in range(1, 61)
    ]
    needs = [Document("need", 100 + i, f"Defensie zoekt {topic}.") for i, topic in enumerate(TOPICS)]
    engine.upsert(companies + needs)
    return engine


def _pairs(lines):
    return [(line.query_id, line.match_id, line.rank) for line in lines]


def test_each_need_gets_the_companies_an_interactive_match_puts_first(tmp_path):
    # Scores are normalised over fewer candidates in the batch, so among near-equal companies
    # (ten per topic here) the order may differ; the best one and the topic may not.
    engine = _world(tmp_path)
    batch = engine.weekly_pairs(companies_per_need=3, needs_per_company=2)
    for need_id in range(100, 100 + len(TOPICS)):
        listed = [line.match_id for line in batch["need_to_companies"] if line.query_id == need_id]
        interactive = [m.id for m in engine.match(engine.snapshot("need").documents[need_id].document,
                                                  target="company", limit=10)]
        assert len(listed) == 3
        assert listed[0] == interactive[0]
        assert set(listed) <= set(interactive)
    assert len(batch["company_to_needs"]) == 60 * 2
    engine.close()


def test_several_worker_processes_give_the_same_list_as_one(tmp_path, monkeypatch):
    from app.matching import weekly

    monkeypatch.setattr(weekly, "BLOCK_ROWS", 7)  # several blocks to share out
    monkeypatch.setattr(weekly, "CONTEXT_CHUNK", 2)  # the needs' contexts in several tasks too
    # Two engines, so that the shared run finds every need's context in its workers instead of
    # reading the ones the first run kept.
    alone_engine, shared_engine = _world(tmp_path / "alone"), _world(tmp_path / "shared")
    alone = alone_engine.weekly_pairs(companies_per_need=3, needs_per_company=2, dismissed=[(1, 100)])
    shared = shared_engine.weekly_pairs(companies_per_need=3, needs_per_company=2, dismissed=[(1, 100)], workers=2)
    for direction in ("need_to_companies", "company_to_needs"):
        assert _pairs(shared[direction]) == _pairs(alone[direction])
        assert [line.score for line in shared[direction]] == [line.score for line in alone[direction]]
    assert (100, 1) not in {(line.query_id, line.match_id) for line in alone["need_to_companies"]}
    assert (1, 100) not in {(line.query_id, line.match_id) for line in alone["company_to_needs"]}
    alone_engine.close()
    shared_engine.close()
