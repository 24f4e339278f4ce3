"""Test set-up: a real database (a SQLite file, or PostgreSQL when KOPPELKANS_DATABASE_URL is set),
migrated once per run and emptied after every test."""

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from app.core.config import get_settings
from app.core.db import get_engine
from app.models import metadata

# Set before any test module is imported: some build an app at import time (the fuzzing reads the
# OpenAPI schema from one), and its settings must already be the test settings.
os.environ.setdefault("KOPPELKANS_DATA_DIR", tempfile.mkdtemp(prefix="koppelkans-test-"))
os.environ["KOPPELKANS_ENVIRONMENT"] = "test"
# One ONNX export of the dense model for the whole run, servers started by tests included.
if "KOPPELKANS_MODEL_CACHE_DIR" not in os.environ:
    os.environ["KOPPELKANS_MODEL_CACHE_DIR"] = tempfile.mkdtemp(prefix="koppelkans-models-")
    atexit.register(shutil.rmtree, os.environ["KOPPELKANS_MODEL_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("KOPPELKANS_MATCHING_ENABLED", "false")


def _database_of_this_worker(url: str, worker: str) -> str:
    """Under pytest-xdist each worker empties its database's schema: on PostgreSQL every worker
    gets a database of its own beside the given one (created when missing)."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    given = make_url(url)
    own = given.set(database=f"{given.database}_{worker}")
    admin = create_engine(given.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            found = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                       {"name": own.database}).first()
            if found is None:
                connection.execute(text(f'CREATE DATABASE "{own.database}"'))
    finally:
        admin.dispose()
    # The pgvector tests read vectors through this server as well (scripts/start-postgres.sh
    # enables the extension in the given database the same way).
    database = create_engine(own, isolation_level="AUTOCOMMIT")
    try:
        with database.connect() as connection:
            connection.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    finally:
        database.dispose()
    return own.render_as_string(hide_password=False)


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker and os.environ.get("KOPPELKANS_DATABASE_URL", "").startswith("postgresql"):
    # Set before anything reads the settings, and inherited by the servers tests start.
    os.environ["KOPPELKANS_DATABASE_URL"] = _database_of_this_worker(os.environ["KOPPELKANS_DATABASE_URL"], _worker)
os.environ["KOPPELKANS_REGISTRATION_RATE_LIMIT"] = "100000"
os.environ["KOPPELKANS_LOGIN_RATE_LIMIT"] = "100000"
# The limits count per fixed window: a test that crossed a window's boundary (every minute by default)
# would see its count start again. A day's window puts the boundary at midnight UTC.
os.environ["KOPPELKANS_RATE_LIMIT_WINDOW_SECONDS"] = "86400"


def _reset_caches() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("data")
    os.environ["KOPPELKANS_DATA_DIR"] = str(data_dir)
    _reset_caches()
    url = get_settings().resolved_database_url
    if not url.startswith("sqlite"):
        with get_engine().begin() as connection:  # start from an empty schema
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    from app import migrate

    migrate.upgrade()
    yield url
    get_engine().dispose()


@pytest.fixture(autouse=True)
def empty_tables(request: pytest.FixtureRequest, database: str) -> Iterator[None]:
    yield
    if not request.node.get_closest_marker("tables_shared_by_class"):
        empty_every_table()


@pytest.fixture(scope="class", autouse=True)
def empty_tables_after_a_sharing_class(request: pytest.FixtureRequest, database: str) -> Iterator[None]:
    """A class marked `tables_shared_by_class` has its tables emptied after its last test."""
    yield
    if request.node.get_closest_marker("tables_shared_by_class"):
        empty_every_table()


def empty_every_table() -> None:
    engine = get_engine()
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        if engine.dialect.name == "postgresql":
            # Ids start at 1 again, as SQLite's do once a table is empty. (TRUNCATE … RESTART
            # IDENTITY does the same in about 120 ms a test instead of 10: on PostgreSQL it
            # makes every table's files anew.)
            connection.execute(text(
                "SELECT setval(c.oid::regclass, 1, false) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S' AND n.nspname = 'public'"))


@pytest.fixture
def session() -> Iterator[Session]:
    with Session(get_engine()) as db_session:
        yield db_session


@pytest.fixture
def client() -> Iterator[TestClient]:
    from app.main import create_app

    with TestClient(create_app()) as test_client:
        yield test_client


@pytest.fixture
def staff_tokens(session: Session) -> dict[str, str]:
    """A bearer token for one user of each role."""
    from tests.factories import make_user

    return {role: make_user(session, role=role)[1] for role in ("admin", "adviser", "scout", "regioteam")}
