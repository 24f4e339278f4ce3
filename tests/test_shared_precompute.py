"""The precompute shared by worker processes (app/services/shared_precompute.py): the process
holding the lease searches every need once, the others score what it found, with the companies
their own index holds that it did not search; when it stops, another takes over."""

import dataclasses

import pytest
from sqlmodel import Session

from app.matching.engine import MatchEngine
from app.models import Need
from app.services.shared_precompute import SharedPrecompute
from tests.matching.factories import COMPANIES, NEEDS, make_engine


@pytest.fixture
def needs_stored(session: Session) -> None:
    """The needs' rows: what a worker publishes refers to them."""
    for document in NEEDS:
        session.add(Need(id=document.id, title=f"Behoefte {document.id}", description=document.text,
                         kind="defence_need"))
    session.commit()


# More companies than the tests' four: one company unseen by the searching worker is then a small share.
TRADES = ["lassen en constructiewerk", "spuitgieten van kunststoffen", "printplaten en elektronica",
          "veldvoeding en catering", "hydrauliek", "kabelbomen", "batterijpakketten", "keuring en certificering",
          "3D-printen van metaal", "tentenbouw", "recycling van kunststoffen", "mechatronica en robotica"]
MORE_COMPANIES = [*COMPANIES, *(dataclasses.replace(COMPANIES[3], id=10 + number, text=f"Wij doen {trade}.")
                                for number, trade in enumerate(TRADES))]


def worker(tmp_path, name: str, companies=MORE_COMPANIES) -> tuple[MatchEngine, SharedPrecompute]:
    engine = make_engine(tmp_path / name)
    engine.sync("need", NEEDS)
    engine.sync("company", companies)
    shared = SharedPrecompute(holder=f"worker-{name}", renew_seconds=0)  # looks at the lease every time
    engine.share_precompute(shared)
    return engine, shared


def kept_company_ids(engine: MatchEngine, need_id: int) -> set[int]:
    precomputer = engine.precomputer
    stored = engine.snapshot("need").documents[need_id]
    key = precomputer.key_of(stored)
    main = engine.snapshot("company").main
    kept = engine.state.materialised.candidates(key, main)
    assert kept is not None and engine.state.materialised.is_thorough(key, main)
    return {int(i) for i in main.document_ids[kept.rows]}


def test_one_worker_searches_every_need_and_the_other_takes_what_it_found(tmp_path, needs_stored):
    first, first_shared = worker(tmp_path, "a")
    second, second_shared = worker(tmp_path, "b")
    assert first_shared.searching() and not second_shared.searching()

    first.precompute()
    second.precompute()

    assert first.precompute_counts == {"searched": len(NEEDS), "taken": 0}
    assert second.precompute_counts == {"searched": 0, "taken": len(NEEDS)}
    for need in NEEDS:
        assert kept_company_ids(second, need.id) == kept_company_ids(first, need.id)


def test_a_company_the_searching_worker_had_not_seen_is_scored_by_the_other(tmp_path, needs_stored):
    first, _ = worker(tmp_path, "a")
    first.precompute()
    newcomer = dataclasses.replace(COMPANIES[0], id=99, text="Wij bouwen drones die zelfstandig navigeren.")
    second, _ = worker(tmp_path, "b", companies=[*MORE_COMPANIES, newcomer])

    second.precompute()

    assert second.precompute_counts["searched"] == 0
    assert 99 in kept_company_ids(second, 101)  # the drone need


def test_when_the_searching_worker_stops_another_takes_over(tmp_path, needs_stored):
    first, first_shared = worker(tmp_path, "a")
    second, second_shared = worker(tmp_path, "b")
    assert first_shared.searching() and not second_shared.searching()

    first_shared.close()  # the process stops and lets the lease go
    second.precompute()

    assert second_shared.searching()
    assert second.precompute_counts == {"searched": len(NEEDS), "taken": 0}

