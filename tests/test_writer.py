"""The batch writer: what a request records is committed before it is answered, the event loop
never waits for SQLite's write lock, and one failing write fails only its own request."""

import asyncio

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

from app.core.db import get_engine, read
from app.core.writer import BatchWriter
from app.models import AuditEvent
from app.services import audit


def audit_line(detail: str):
    def work(session: Session) -> str:
        audit.record_many(session, "cli", "read_contact", "company", [(1, detail)])
        return detail

    return work


def details() -> list[str]:
    with Session(get_engine()) as session:
        return sorted(session.exec(select(AuditEvent.detail)).all())


def test_a_write_is_committed_when_it_returns():
    writer = BatchWriter()

    async def scenario():
        return await writer.write(audit_line("first"))

    assert asyncio.run(scenario()) == "first"
    assert details() == ["first"]
    writer.close()


@pytest.mark.sqlite_only
def test_with_the_write_lock_free_the_write_is_made_on_the_loop():
    writer = BatchWriter()
    asyncio.run(writer.write(audit_line("on the loop")))
    assert (writer.on_loop, writer.batches) == (1, 0)
    writer.close()


@pytest.mark.sqlite_only
def test_while_another_connection_holds_the_write_lock_the_loop_goes_on_and_the_write_waits_for_it():
    writer = BatchWriter()
    holder = get_engine().connect()
    holder.exec_driver_sql("BEGIN IMMEDIATE")  # what a CLI job or another worker process does
    holder.exec_driver_sql("INSERT INTO auditevent (at, actor, action, subject_type, detail) "
                           "VALUES ('2026-01-01', 'cli', 'import', 'company', 'held')")

    async def scenario():
        pending = asyncio.create_task(writer.write(audit_line("waited")))
        ticks = 0
        for _ in range(20):  # the loop keeps running: other requests are served meanwhile
            await asyncio.sleep(0.01)
            ticks += 1
        assert not pending.done()
        # Reads on the loop do not wait for the lock either.
        count = select(func.count()).select_from(AuditEvent)
        assert await read(lambda session: session.exec(count).one()) == 0
        await asyncio.to_thread(holder.commit)
        return ticks, await pending

    ticks, result = asyncio.run(scenario())
    holder.close()
    assert (ticks, result) == (20, "waited")
    assert details() == ["held", "waited"]
    assert writer.on_loop == 0 and writer.batches >= 1
    writer.close()


def test_one_failing_write_in_a_batch_fails_only_its_own_request():
    writer = BatchWriter()

    def broken(session: Session):
        session.connection().execute(text("INSERT INTO no_such_table VALUES (1)"))

    async def scenario():
        # Queued together for the writer thread (as when the loop found the lock taken).
        writer._ensure_started()
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(3)]
        for work, done in zip((audit_line("a"), broken, audit_line("b")), futures, strict=True):
            writer._queue.put((work, loop, done))
        return await asyncio.gather(*futures, return_exceptions=True)

    first, failed, last = asyncio.run(scenario())
    assert (first, last) == ("a", "b")
    assert isinstance(failed, Exception)
    assert details() == ["a", "b"]
    writer.close()
