"""The ANN index of a big segment kept in PostgreSQL with pgvector (KOPPELKANS_VECTOR_STORE=pgvector):
the same `PassageSearch` as the FAISS graph of ann.py, so the ranking does not know which it uses.

One table per distinct set of passage vectors (one segment and signal), in schema `SCHEMA`, named
by a hash of the vectors, with an HNSW index for the inner product (`<#>`). Several workers — or a
restart — that hold the same segment therefore share one table, built once (under an advisory lock).

Each process marks the tables it uses with a *shared* advisory lock on one long-lived connection.
When a merge replaces a segment, the process lets go of its table and drops every table that no
session holds any more; a process that dies lets go with its connection. So an erased document's
vectors leave PostgreSQL when the last process replaces the segment holding them, as they leave a
process's FAISS graph and saved index at its merge. Tables are kept at shutdown: the saved index
finds them again at the next start by the same hash, without rebuilding.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import Counter

import numpy as np
import psycopg
from pgvector.psycopg import register_vector
from psycopg import sql
from psycopg_pool import ConnectionPool
from sqlalchemy.engine import make_url

from app.matching.ann import HNSW_SEARCH_EFFORT, exact_search

logger = logging.getLogger(__name__)

SCHEMA = "koppelkans_ann"
# Advisory lock classes (the first of the two keys): a table in use (shared, held per session),
# a table being built (per transaction).
IN_USE, BUILDING = 0x4B50, 0x4B51
# pgvector's HNSW parameters (its defaults; measured with scripts/bench.py --vector-store).
HNSW_NEIGHBOURS = 16
HNSW_BUILD_EFFORT = 64
MAX_EF_SEARCH = 1000  # pgvector's limit: an HNSW scan returns at most ef_search rows
MAX_INDEXED_DIMS = 2000  # pgvector 0.6's limit for an HNSW index on `vector`

SEARCH_SQL = """
SELECT query.number, hit.position, hit.distance
FROM unnest(%b::vector[]) WITH ORDINALITY AS query (embedding, number)
CROSS JOIN LATERAL (
    SELECT position, embedding <#> query.embedding AS distance
    FROM {table} ORDER BY embedding <#> query.embedding LIMIT %s
) AS hit
ORDER BY query.number, hit.distance
"""


class VectorStoreUnavailable(RuntimeError):
    """PostgreSQL cannot hold the vectors (no pgvector); the message says what to do."""


def table_name(vectors: np.ndarray) -> str:
    """Named by the content: the same vectors in the same order give the same table."""
    digest = hashlib.sha256(f"{vectors.shape[0]}x{vectors.shape[1]}:".encode())
    digest.update(np.ascontiguousarray(vectors, dtype=np.float32).data)
    return f"segment_{digest.hexdigest()[:40]}"


def _lock_key(name: str) -> int:
    return int.from_bytes(bytes.fromhex(name.removeprefix("segment_")[:8]), "big", signed=True)


def psycopg_conninfo(database_url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy) as libpq understands it."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgvectorStore:
    """One process's access to the segment tables; called as the engine's ann_factory."""

    def __init__(self, database_url: str, *, schema: str = SCHEMA, pool_size: int = 4) -> None:
        self.schema = schema
        self._conninfo = psycopg_conninfo(database_url)
        self._lock = threading.Lock()  # guards the holder connection and `_held`
        self._held: Counter[str] = Counter()
        self._holder = self._connect_holder()
        self._pool = ConnectionPool(self._conninfo, min_size=1, max_size=pool_size, name="pgvector",
                                    kwargs={"autocommit": True}, configure=register_vector,
                                    check=ConnectionPool.check_connection, open=True)

    def __call__(self, vectors: np.ndarray) -> PgvectorPassageSearch:
        return self.build(vectors)

    def build(self, vectors: np.ndarray) -> PgvectorPassageSearch:
        """The index of these vectors: an existing table when another worker (or an earlier run)
        built it, else a new one."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape[1] > MAX_INDEXED_DIMS:
            raise VectorStoreUnavailable(f"pgvector indexes at most {MAX_INDEXED_DIMS} dimensions, "
                                         f"not {vectors.shape[1]}: use KOPPELKANS_VECTOR_STORE=faiss")
        name = table_name(vectors)
        with self._lock:
            connection = self._holder_connection()
            # Marked in use first: from here no other process drops it (see _drop_unused).
            connection.execute("SELECT pg_advisory_lock_shared(%s, %s)", (IN_USE, _lock_key(name)))
            try:
                with connection.transaction():
                    connection.execute("SELECT pg_advisory_xact_lock(%s, %s)", (BUILDING, _lock_key(name)))
                    found = connection.execute("SELECT to_regclass(%s)", [f"{self.schema}.{name}"]).fetchone()
                    if found is None or found[0] is None:
                        self._create_table(connection, name, vectors)
            except BaseException:
                if not connection.broken:
                    connection.execute("SELECT pg_advisory_unlock_shared(%s, %s)", (IN_USE, _lock_key(name)))
                raise
            self._held[name] += 1
        return PgvectorPassageSearch(self, name, vectors)

    def _create_table(self, connection: psycopg.Connection, name: str, vectors: np.ndarray) -> None:
        """Table, rows and index in one transaction: the table exists complete or not at all."""
        count, dims = vectors.shape
        logger.info("building the pgvector index %s.%s (%d × %d)", self.schema, name, count, dims)
        table = sql.Identifier(self.schema, name)
        create = "CREATE TABLE {} (position integer NOT NULL, embedding vector({}) NOT NULL)"
        connection.execute(sql.SQL(create).format(table, sql.Literal(dims)))
        copy_sql = sql.SQL("COPY {} (position, embedding) FROM STDIN WITH (FORMAT BINARY)").format(table)
        with connection.cursor().copy(copy_sql) as copy:
            copy.set_types(["int4", "vector"])
            for position, vector in enumerate(vectors):
                copy.write_row((position, vector))
        # The graph is built in memory when it fits (much faster): about twice the raw vectors.
        memory_mb = min(4096, 64 + 2 * count * (4 * dims + 8 * HNSW_NEIGHBOURS) // 2**20)
        connection.execute("SELECT set_config('maintenance_work_mem', %s, true)", [f"{memory_mb}MB"])
        connection.execute(sql.SQL("CREATE INDEX ON {} USING hnsw (embedding vector_ip_ops) "
                                   "WITH (m = {}, ef_construction = {})")
                           .format(table, sql.Literal(HNSW_NEIGHBOURS), sql.Literal(HNSW_BUILD_EFFORT)))

    def search(self, name: str, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        scores = np.full((len(queries), k), np.finfo(np.float32).min, dtype=np.float32)
        positions = np.full((len(queries), k), -1, dtype=np.int64)
        query = sql.SQL(SEARCH_SQL).format(table=sql.Identifier(self.schema, name))
        effort = str(max(HNSW_SEARCH_EFFORT, k))
        # One round trip (pipeline), vectors in binary: parsing them as text costs more than the trip.
        with self._pool.connection() as connection:
            with connection.pipeline():
                connection.execute("SELECT set_config('hnsw.ef_search', %s, false)", [effort])
                cursor = connection.execute(query, (list(queries), k), binary=True)
            rows = cursor.fetchall()
        if rows:
            number, position, distance = (np.array(column) for column in zip(*rows, strict=True))
            row = number.astype(np.int64) - 1
            rank = np.arange(len(row)) - np.searchsorted(row, row)  # rows arrive ordered per query
            positions[row, rank] = position
            scores[row, rank] = -distance  # `<#>` is the negative inner product
        return scores, positions

    def release(self, name: str) -> None:
        """This process no longer uses the table; drop the tables no process uses."""
        with self._lock:
            connection = self._holder_connection()
            connection.execute("SELECT pg_advisory_unlock_shared(%s, %s)", (IN_USE, _lock_key(name)))
            self._held[name] -= 1
            self._held += Counter()  # forget names no longer held
            self._drop_unused(connection)

    def _drop_unused(self, connection: psycopg.Connection) -> None:
        names = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename "
                                   "LIKE 'segment\\_%%'", [self.schema]).fetchall()
        for (name,) in names:
            # Our own shared lock would not stop our exclusive one: skip what this process holds.
            if name in self._held:
                continue
            key = _lock_key(name)
            locked = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", (IN_USE, key)).fetchone()
            if locked is not None and locked[0]:
                try:
                    table = sql.Identifier(self.schema, name)
                    connection.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(table))
                    logger.info("dropped the unused pgvector index %s.%s", self.schema, name)
                finally:
                    connection.execute("SELECT pg_advisory_unlock(%s, %s)", (IN_USE, key))

    def table_names(self) -> list[str]:
        """The segment tables in PostgreSQL now (for tests and diagnostics)."""
        with self._lock:
            rows = self._holder_connection().execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [self.schema])
            return [name for (name,) in rows.fetchall()]

    def _holder_connection(self) -> psycopg.Connection:
        """The connection holding this process's locks; after a lost connection, a new one that
        takes them again (a table dropped meanwhile is answered exactly until its segment goes)."""
        if self._holder.closed or self._holder.broken:
            logger.warning("connection to PostgreSQL lost: reconnecting the pgvector store")
            self._holder = self._connect_holder()
            for name, times in self._held.items():
                for _ in range(times):
                    self._holder.execute("SELECT pg_advisory_lock_shared(%s, %s)", (IN_USE, _lock_key(name)))
        return self._holder

    def _connect_holder(self) -> psycopg.Connection:
        connection = psycopg.connect(self._conninfo, autocommit=True)
        try:
            with connection.transaction():
                connection.execute("SELECT pg_advisory_xact_lock(%s, 0)", [BUILDING])  # one creator at a time
                connection.execute("SET LOCAL client_min_messages = warning")
                if not connection.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchall():
                    _create_extension(connection)
                schema = sql.Identifier(self.schema)
                connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        except BaseException:
            connection.close()
            raise
        register_vector(connection)
        return connection

    def close(self) -> None:
        """Close the connections: the locks go with them, the tables stay for the next start."""
        self._pool.close()
        with self._lock:
            self._holder.close()


def _create_extension(connection: psycopg.Connection) -> None:
    available = connection.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if available is None:
        raise VectorStoreUnavailable(
            "KOPPELKANS_VECTOR_STORE=pgvector, but this PostgreSQL server has no pgvector extension: install "
            "it (scripts/start-postgres.sh starts a server with it) or set KOPPELKANS_VECTOR_STORE=faiss")
    try:
        with connection.transaction():
            connection.execute("CREATE EXTENSION vector")
    except psycopg.errors.InsufficientPrivilege as error:
        raise VectorStoreUnavailable(
            "KOPPELKANS_VECTOR_STORE=pgvector, but the extension `vector` is not enabled in this database "
            "and this role may not enable it: run `CREATE EXTENSION vector` once as a superuser") from error


class PgvectorPassageSearch:
    """A segment's passages in a pgvector table; positions are passage positions, as in FAISS."""

    def __init__(self, store: PgvectorStore, name: str, vectors: np.ndarray) -> None:
        self._store = store
        self.name = name
        self._vectors = vectors  # the segment's own array (not a copy)
        self._closed = False

    def __len__(self) -> int:
        return len(self._vectors)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) of the best k passages per query row; -1 pads."""
        k = max(1, min(k, len(self)))
        # A search that began just before its segment was replaced, or that asks for more rows
        # than an HNSW scan gives: answered exactly from the segment's vectors.
        if self._closed or k > MAX_EF_SEARCH:
            return exact_search(self._vectors, queries, k)
        try:
            return self._store.search(self.name, queries, k)
        except psycopg.errors.UndefinedTable:
            if not self._closed:  # replaced (and dropped) while this search ran
                raise
            return exact_search(self._vectors, queries, k)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._store.release(self.name)
