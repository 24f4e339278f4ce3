"""Reads made by requests (app/core/db.py ``read``): a scan over many rows runs beside the event
loop, so the loop answers other requests meanwhile."""

import threading

import anyio
import pytest
from sqlalchemy import text
from sqlmodel import Session

from app.core.db import read


def test_a_scan_leaves_the_loop_free_for_another_read():
    other_answered = threading.Event()

    def slow_scan(session: Session) -> int:
        # Waits for a read that only the event loop can make: were the scan on the loop, it never comes.
        assert other_answered.wait(10), "the loop made no other read while the scan ran"
        return session.exec(text("SELECT 1")).one()[0]

    def quick_read(session: Session) -> int:
        value = session.exec(text("SELECT 2")).one()[0]
        other_answered.set()
        return value

    async def both() -> list[int]:
        results: list[int] = []

        async def scan() -> None:
            results.append(await read(slow_scan, scan=True))

        async with anyio.create_task_group() as group:
            group.start_soon(scan)
            await anyio.sleep(0.05)  # the scan has started
            results.append(await read(quick_read))
        return results

    assert sorted(anyio.run(both)) == [1, 2]


@pytest.mark.sqlite_only  # PostgreSQL reads through pooled sessions: the read-only connection is SQLite's
def test_a_scan_cannot_write(session):
    def writes(session: Session) -> None:
        session.exec(text("CREATE TABLE scratch (x INTEGER)"))

    with pytest.raises(Exception, match="readonly|read-only|query_only"):
        anyio.run(lambda: read(writes, scan=True))
