"""The pgvector vector store (KOPPELKANS_VECTOR_STORE=pgvector) against a real PostgreSQL.

Runs when KOPPELKANS_TEST_POSTGRES_URL is set (.ci/run sets it, from scripts/start-postgres.sh),
in both passes of `make test`; fails when that server has no pgvector. Every test works in a
schema of its own, dropped afterwards.
"""

import logging
import os
import uuid

import numpy as np
import psycopg
import pytest
from psycopg import sql

from app.core.config import Settings
from app.matching.ann import exact_search
from app.matching.engine import Document
from app.matching.pgvector_ann import PgvectorStore, psycopg_conninfo
from tests.matching.factories import make_engine

POSTGRES_URL = os.environ.get("KOPPELKANS_TEST_POSTGRES_URL", "")
needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="KOPPELKANS_TEST_POSTGRES_URL is not set")

WORDS = (
    "drone", "radar", "sonar", "lidar", "camera", "sensor", "composiet", "aramide", "vest", "helm",
    "headset", "radio", "antenne", "satelliet", "waterstof", "batterij", "motor", "voertuig", "schip",
    "vliegtuig", "onderhoud", "software", "cyber", "netwerk", "data", "kleding", "voeding", "tent",
    "generator", "laser", "optiek", "nachtzicht", "warmtebeeld", "navigatie", "robot", "printer", "metaal",
    "kunststof",
)


def corpus(side: str, count: int, seed: int, first_id: int = 1) -> list[Document]:
    rng = np.random.default_rng(seed)
    return [
        Document(side, first_id + i, "Wij leveren " + " ".join(rng.choice(WORDS, size=8)) + ".")
        for i in range(count)
    ]


COMPANIES = corpus("company", 400, seed=1)
NEEDS = corpus("need", 30, seed=2, first_id=1001)
# Big enough for an ANN index with these settings: 400 passages ≥ 100, and 400 documents ≫ a pool of 30.
BIG = {"ann_min_passages": 100, "candidate_pool": 30}


@pytest.fixture
def connection():
    if not POSTGRES_URL:
        pytest.skip("KOPPELKANS_TEST_POSTGRES_URL is not set")
    with psycopg.connect(psycopg_conninfo(POSTGRES_URL), autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchall():
            where = f"{connection.info.host}:{connection.info.port}"
            pytest.fail(f"KOPPELKANS_TEST_POSTGRES_URL is set, but the server at {where} has no pgvector "
                        "extension: start it with scripts/start-postgres.sh")
        yield connection


@pytest.fixture
def schema(connection):
    name = f"koppelkans_ann_test_{uuid.uuid4().hex[:8]}"
    yield name
    connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture
def stores(schema):
    """Stores as separate worker processes would have them (each its own connections and locks)."""
    opened = []

    def open_store() -> PgvectorStore:
        opened.append(PgvectorStore(POSTGRES_URL, schema=schema, pool_size=2))
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


def unit_rows(count: int, dim: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def top_ids(engine, queries, target="company") -> list[list[tuple[int, float]]]:
    return [[(m.id, round(m.score, 5)) for m in engine.match(q, target=target, limit=10)] for q in queries]


def tables_holding(connection, schema: str, vector: np.ndarray) -> list[str]:
    """The segment tables that hold this vector (inner product ≈ 1 with a unit vector)."""
    literal = "[" + ",".join(f"{x:.7f}" for x in vector) + "]"
    found = []
    tables = connection.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema]).fetchall()
    for (table,) in tables:
        name = sql.Identifier(schema, table)
        dims_query = sql.SQL("SELECT vector_dims(embedding) FROM {} LIMIT 1").format(name)
        dims = connection.execute(dims_query).fetchone()
        query = sql.SQL("SELECT count(*) FROM {} WHERE embedding <#> %s::vector < -0.9999").format(name)
        if dims == (len(vector),) and connection.execute(query, [literal]).fetchone()[0]:
            found.append(table)
    return found


@needs_postgres
def test_pgvector_search_finds_the_exact_neighbours(stores):
    vectors, queries = unit_rows(2000, 32), unit_rows(5, 32, seed=1)
    index = stores()(vectors)
    scores, positions = index.search(queries, 10)
    exact_scores, exact_positions = exact_search(vectors, queries, 10)
    np.testing.assert_array_equal(positions, exact_positions)
    np.testing.assert_allclose(scores, exact_scores, atol=1e-5)
    _, everything = index.search(queries[:1], 5000)  # k beyond the vectors: clamped, like FAISS
    assert sorted(everything[0]) == list(range(2000))


@needs_postgres
def test_workers_share_one_table_which_goes_when_the_last_one_lets_go(stores):
    vectors = unit_rows(300, 16)
    first, second = stores(), stores()
    mine, theirs = first(vectors), second(vectors)
    assert mine.name == theirs.name and first.table_names() == [mine.name]
    mine.close()  # replaced in the first worker; the second still searches it
    assert first.table_names() == [mine.name]
    assert (theirs.search(vectors[:2], 1)[1][:, 0] == [0, 1]).all()
    theirs.close()
    assert first.table_names() == []
    # A search that began before its segment was replaced is answered exactly, without the table.
    assert (theirs.search(vectors[:2], 1)[1][:, 0] == [0, 1]).all()


@needs_postgres
def test_an_engine_on_pgvector_matches_like_one_on_faiss(tmp_path, stores):
    faiss_engine = make_engine(tmp_path / "faiss", **BIG)
    pg_engine = make_engine(tmp_path / "pgvector", ann_factory=stores(), **BIG)
    for engine in (faiss_engine, pg_engine):
        engine.upsert(COMPANIES + NEEDS)
    assert type(pg_engine.snapshot("company").main.ann["dense"]).__name__ == "PgvectorPassageSearch"
    assert type(faiss_engine.snapshot("company").main.ann["dense"]).__name__ == "HnswPassageSearch"
    assert top_ids(pg_engine, NEEDS) == top_ids(faiss_engine, NEEDS)
    free_text = ["drone met lidar en camera", "aramide vest en helm"]
    assert top_ids(pg_engine, free_text) == top_ids(faiss_engine, free_text)
    faiss_engine.close()
    pg_engine.close()


@needs_postgres
def test_a_restart_finds_its_tables_again_without_building(tmp_path, stores, caplog):
    engine = make_engine(tmp_path, ann_factory=stores(), **BIG)
    engine.upsert(COMPANIES + NEEDS)
    before = top_ids(engine, NEEDS)
    engine.save()
    engine.close()  # the process ends: its locks go, its tables stay
    store = stores()
    assert len(store.table_names()) == 2  # the dense and the multilingual signal of the company side
    caplog.set_level(logging.INFO, logger="app.matching.pgvector_ann")
    restarted = make_engine(tmp_path, ann_factory=store, **BIG)
    restarted.load_or_build(None)
    assert "building" not in caplog.text
    assert top_ids(restarted, NEEDS) == before
    restarted.close()


@needs_postgres
def test_loading_with_postgresql_unreachable_fails_rather_than_falling_back(tmp_path, stores):
    engine = make_engine(tmp_path, ann_factory=stores(), **BIG)
    engine.upsert(COMPANIES + NEEDS)
    engine.save()
    engine.close()

    def unreachable(_vectors):
        raise psycopg.OperationalError("connection refused")

    restarted = make_engine(tmp_path, ann_factory=unreachable, **BIG)
    with pytest.raises(psycopg.OperationalError):
        restarted.load_or_build(None)


@needs_postgres
def test_an_erased_company_leaves_postgresql_when_faiss_forgets_it(tmp_path, stores, schema, connection):
    """Erasure masks the document at once in both stores; its vectors go with the segment holding
    them, at the next merge: from the FAISS graph and arrays, and from PostgreSQL."""
    faiss_engine = make_engine(tmp_path / "faiss", **BIG)
    pg_engine = make_engine(tmp_path / "pgvector", ann_factory=stores(), **BIG)
    erased = COMPANIES[7]
    for engine in (faiss_engine, pg_engine):
        engine.upsert(COMPANIES + NEEDS)
    erased_vector = pg_engine.snapshot("company").vectors_of(erased.id)["dense"][0]
    assert tables_holding(connection, schema, erased_vector)

    for engine in (faiss_engine, pg_engine):
        engine.remove("company", [erased.id])
        found = engine.match(erased.text, target="company", limit=400)
        assert erased.id not in {m.id for m in found}
        engine.merge("company")
        main = engine.snapshot("company").main
        assert erased.id not in main.row_of
        assert not (main.vectors["dense"] @ erased_vector > 0.9999).any()
    assert tables_holding(connection, schema, erased_vector) == []
    assert len(pg_engine.ann_factory.table_names()) == 2  # the merged segment's, nothing older
    faiss_engine.close()
    pg_engine.close()


def test_the_embedding_backend_setting_is_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("KOPPELKANS_EMBEDDING_BACKEND", "cuda")
    message = "KOPPELKANS_EMBEDDING_BACKEND must be 'auto', 'torch-bf16', 'onnx-int8', 'onnx' or 'torch'"
    with pytest.raises(ValueError, match=message):
        Settings()
    monkeypatch.setenv("KOPPELKANS_EMBEDDING_BACKEND", " Torch ")
    assert Settings().embedding_backend == "torch"
    monkeypatch.delenv("KOPPELKANS_EMBEDDING_BACKEND")
    monkeypatch.setenv("KOPPELKANS_MODEL_CACHE_DIR", "")
    settings = Settings(data_dir=tmp_path)
    assert settings.embedding_backend == "auto"
    assert settings.resolved_model_cache_dir == tmp_path / "models"


def test_the_vector_store_setting_is_checked(monkeypatch):
    monkeypatch.setenv("KOPPELKANS_VECTOR_STORE", "milvus")
    with pytest.raises(ValueError, match="KOPPELKANS_VECTOR_STORE must be 'faiss' or 'pgvector'"):
        Settings()
    monkeypatch.setenv("KOPPELKANS_VECTOR_STORE", "pgvector")
    monkeypatch.setenv("KOPPELKANS_DATABASE_URL", "sqlite:///koppelkans.db")
    with pytest.raises(ValueError, match="set KOPPELKANS_DATABASE_URL to a PostgreSQL database"):
        Settings()
    monkeypatch.setenv("KOPPELKANS_DATABASE_URL", "postgresql+psycopg://user:secret@db:5432/koppelkans")
    assert Settings().vector_store == "pgvector"
    monkeypatch.delenv("KOPPELKANS_VECTOR_STORE")
    assert Settings().vector_store == "faiss"


@needs_postgres
def test_the_service_builds_its_engine_on_the_configured_vector_store(monkeypatch, tmp_path, connection):
    from app.matching import encoders
    from app.services.matching import build_engine

    monkeypatch.setattr(encoders, "bundled_dense_encoder", lambda **_: encoders.HashingEncoder(64))
    common = {"data_dir": tmp_path, "multilingual_encoder": False, "database_url": POSTGRES_URL}
    engine = build_engine(Settings(vector_store="pgvector", **common))
    assert isinstance(engine.ann_factory, PgvectorStore)
    engine.close()
    engine = build_engine(Settings(vector_store="faiss", **common))
    assert engine.ann_factory is None
    engine.close()
