"""Rate limits counted in the database, so every worker process and machine shares them.

Per limit, client and fixed window (``rate_limit_window_seconds``) one row counts the requests
let through (table `rate_counter`): a request adds one in a single statement and is refused, and
not counted, when that makes more than the limit. A client may so send up to twice the limit
across the boundary of two windows; ``Retry-After`` is the time left in its window. The client
is stored as a hash of its address. Rows of past windows are deleted every few minutes.
"""

import hashlib
import math
import time
from functools import cache

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import ReturningInsert
from sqlmodel import col

from app.core.db import session_scope
from app.models import RateCounter

PRUNE_EVERY_SECONDS = 600
_last_prune = {"at": float("-inf")}


@cache
def _count_one(dialect: str) -> ReturningInsert[int]:
    """The statement that adds one to a counter (making it at 1) and returns its count."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(RateCounter)
    return statement.on_conflict_do_update(
        index_elements=["limiter", "client", "window"], set_={"hits": col(RateCounter.hits) + 1},
    ).returning(col(RateCounter.hits))


def hit(*, limiter: str, client: str, limit: int, window_seconds: int) -> int:
    """Counts one request of ``client`` against ``limiter``; returns 0 when it may go through,
    else the seconds to wait before trying again."""
    now = time.time()
    window = int(now // window_seconds)
    key = {"limiter": limiter, "client": hashlib.sha256(client.encode()).hexdigest(), "window": window}
    with session_scope() as session:
        connection = session.connection()
        hits = connection.execute(_count_one(connection.dialect.name), {**key, "hits": 1}).scalar_one()
        if hits > limit:
            connection.execute(update(RateCounter).filter_by(**key).values(hits=col(RateCounter.hits) - 1))
            return max(1, math.ceil((window + 1) * window_seconds - now))
        if time.monotonic() - _last_prune["at"] >= PRUNE_EVERY_SECONDS:
            _last_prune["at"] = time.monotonic()
            connection.execute(delete(RateCounter).where(col(RateCounter.window) < window - 1))
    return 0
