from app.matching.datasets import HELD_OUT, TUNING, held_out_topic, load_cordis, load_dev


def test_the_cordis_set_loads_as_needs_looking_for_projects_with_a_fixed_held_out_fifth():
    dataset = load_cordis()
    assert len(dataset.queries) == 589
    assert sum(r.side == "company" for r in dataset.records.values()) == 1736
    held_out = [q for q in dataset.queries if q.split == HELD_OUT]
    assert 0.15 < len(held_out) / len(dataset.queries) < 0.25
    assert all(q.split == (HELD_OUT if held_out_topic(q.key) else TUNING) for q in dataset.queries)
    query = dataset.queries[0]
    need = dataset.records[query.ref[1]].document
    assert query.target == "company" and need.side == "need" and need.text.startswith(query.why)
    assert all(dataset.records[key].side == "company" for q in dataset.queries for key in q.relevant)


def test_the_held_out_fold_depends_on_the_topic_code_alone():
    assert held_out_topic("HORIZON-CL3-2021-BM-01-01") == held_out_topic("HORIZON-CL3-2021-BM-01-01")
    assert {held_out_topic(f"TOPIC-{i}") for i in range(50)} == {True, False}


def test_the_dev_set_keeps_its_split():
    splits = [q.split for q in load_dev().queries]
    assert splits.count(HELD_OUT) == splits.count(TUNING) == 32
