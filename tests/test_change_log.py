"""The index change log: pruned after its retention window, and a worker that slept past the
pruned horizon rebuilds its index from the database instead of missing writes."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from app.models import Company, IndexChange, Need
from app.services import change_log
from app.services.change_log import latest_change
from app.services.matchable import documents_from_database
from app.services.matching import MatchingState
from tests.factories import next_kvk
from tests.matching.factories import make_engine


def add_company(session: Session, name: str, description: str = "Precisieverspaning van titanium.") -> Company:
    company = Company(name=name, description=description, kvk_number=next_kvk(), municipality="Emmen")
    session.add(company)
    session.commit()
    return company


def add_need(session: Session, title: str) -> Need:
    need = Need(title=title, description="Defensie zoekt lichtgewicht composieten onderdelen.", kind="defence_need")
    session.add(need)
    session.commit()
    return need


def age_entries(session: Session, days: float, up_to_id: int | None = None) -> None:
    statement = update(IndexChange).values(at=datetime.now(UTC) - timedelta(days=days))
    if up_to_id is not None:
        statement = statement.where(IndexChange.id <= up_to_id)
    session.exec(statement)
    session.commit()


def logged_ids(session: Session) -> list[int]:
    return list(session.exec(select(IndexChange.id).order_by(IndexChange.id)).all())


def indexed(state: MatchingState, side: str) -> dict[int, str]:
    return {i: d.document.text for i, d in state.engine.snapshot(side).documents.items()}


def in_database(session: Session, side: str) -> dict[int, str]:
    return {d.id: d.text for d in documents_from_database(session, side)}


def test_pruning_removes_entries_past_the_retention_and_keeps_recent_ones(session):
    for number in range(3):
        add_company(session, f"Oud {number}")
    old_through = latest_change(session)
    add_company(session, "Nieuw")
    age_entries(session, days=10, up_to_id=old_through)

    with Session(session.get_bind()) as pruning:
        removed = change_log.prune_change_log(pruning, timedelta(days=7))
        pruning.commit()

    assert removed == 3
    assert logged_ids(session) == [old_through + 1]


def test_the_newest_entry_stays_so_sequence_numbers_are_never_reused(session):
    add_company(session, "Eerste")
    add_company(session, "Tweede")
    newest = latest_change(session)
    age_entries(session, days=30)

    with Session(session.get_bind()) as pruning:
        change_log.prune_change_log(pruning, timedelta(days=7))
        pruning.commit()
    add_company(session, "Derde")

    assert logged_ids(session) == [newest, newest + 1]


def test_a_write_prunes_the_log_on_schedule(session, monkeypatch):
    add_company(session, "Oud")
    age_entries(session, days=30)
    monkeypatch.setitem(change_log._last_prune, "at", float("-inf"))  # the schedule is due

    add_company(session, "Nieuw")

    assert len(logged_ids(session)) == 1


def test_a_worker_behind_the_pruned_horizon_resynchronises_from_the_database(session, tmp_path):
    kept = add_company(session, "Blijft", "Composieten frames voor drones.")
    changed = add_company(session, "Verandert", "Lassen en constructiewerk.")
    erased = add_company(session, "Verdwijnt", "Beschermende kleding van aramidevezels.")
    add_need(session, "Frames")
    # A second worker, in step with the database now, that then sleeps.
    sleeper = MatchingState.ready_with(make_engine(tmp_path / "sleeper"))
    for side in ("company", "need"):
        sleeper.engine.sync(side, documents_from_database(session, side))
    sleeper.applied_through = latest_change(session)

    # Meanwhile the other workers write, and the log is pruned past what the sleeper applied.
    changed.description = "Nachtzichtapparatuur en warmtebeeldcamera's."
    session.add(changed)
    session.delete(erased)
    session.commit()
    added = add_company(session, "Nieuwkomer", "Satellietcommunicatie en antennes.")
    add_need(session, "Antennes")
    archived = add_company(session, "Gearchiveerd", "Hydrauliek.")
    archived.status = "archived"
    session.add(archived)
    session.commit()
    age_entries(session, days=30)
    with Session(session.get_bind()) as pruning:
        change_log.prune_change_log(pruning, timedelta(days=7))
        pruning.commit()
    assert change_log.oldest_change(session) > sleeper.applied_through + 1

    with Session(session.get_bind()) as waking:
        sleeper.catch_up(waking)

    for side in ("company", "need"):
        assert indexed(sleeper, side) == in_database(session, side)
    companies = indexed(sleeper, "company")
    names = {text.splitlines()[0] for text in companies.values()}
    assert names == {"Blijft", "Verandert", "Nieuwkomer"}  # the erased and the archived ones are gone
    assert "Nachtzicht" in companies[changed.id]
    assert companies[kept.id].startswith("Blijft") and companies[added.id].startswith("Nieuwkomer")
    assert sleeper.applied_through == latest_change(session)
    # Caught up: the next request changes nothing.
    with Session(session.get_bind()) as later:
        assert sleeper.catch_up(later) == 0


def test_a_worker_within_the_retention_catches_up_write_by_write(session, tmp_path, caplog):
    for number in range(3):
        add_company(session, f"Eerder {number}")
    worker = MatchingState.ready_with(make_engine(tmp_path / "worker"))
    for side in ("company", "need"):
        worker.engine.sync(side, documents_from_database(session, side))
    worker.applied_through = latest_change(session)
    added = add_company(session, "Later", "Radar- en antennetechniek.")
    # Pruned up to what the worker applied, not past it.
    age_entries(session, days=30, up_to_id=worker.applied_through - 1)
    with Session(session.get_bind()) as pruning:
        assert change_log.prune_change_log(pruning, timedelta(days=7)) == 2
        pruning.commit()

    with Session(session.get_bind()) as request:
        worker.catch_up(request)

    assert "resynchronising" not in caplog.text
    assert added.id in indexed(worker, "company")
    assert indexed(worker, "company") == in_database(session, "company")
