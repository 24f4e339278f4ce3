"""Leases: work that one process of all does at a time, whichever machine it runs on.

A lease is a row (table `lease`) naming its holder and until when it holds it; the holder renews
it while it lives, and when it stops renewing (it stopped or died) another process takes it
over once it has expired. Plain rows rather than advisory locks: they work on SQLite and on
PostgreSQL behind a connection pooler alike.
"""

import os
import socket
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from app.core.db import session_scope
from app.models import Lease


def this_process() -> str:
    """How a process names itself as a holder: its machine and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def hold(name: str, holder: str, seconds: float) -> bool:
    """Take or renew the lease ``name`` for ``seconds`` if it is free, expired or ``holder``'s
    own; returns whether ``holder`` holds it now."""
    now = datetime.now(UTC)
    until = now + timedelta(seconds=seconds)
    try:
        with session_scope() as session:
            connection = session.connection()
            taken = connection.execute(
                update(Lease).where(col(Lease.name) == name,
                                    or_(col(Lease.holder) == holder, col(Lease.expires_at) < now))
                .values(holder=holder, expires_at=until)).rowcount
            if taken:
                return True
            if session.get(Lease, name) is not None:
                return False
            session.add(Lease(name=name, holder=holder, expires_at=until))
        return True
    except IntegrityError:  # another process made the row at the same moment: it holds it
        return False


def let_go(name: str, holder: str) -> None:
    """Give the lease up (a process that stops), so another takes it over at once."""
    with session_scope() as session:
        session.connection().execute(update(Lease).where(col(Lease.name) == name, col(Lease.holder) == holder)
                                     .values(expires_at=datetime(2000, 1, 1, tzinfo=UTC)))
