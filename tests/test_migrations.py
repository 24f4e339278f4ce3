"""The migrations give exactly the models' schema, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from app import migrate
from app.core.db import get_engine
from app.models import metadata


def test_upgrade_head_matches_the_models():
    engine = get_engine()  # migrated from empty by the session fixture
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert migrate.is_up_to_date(engine)


def test_downgrade_and_upgrade_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    migrate.upgrade(url)
    from alembic import command

    command.downgrade(migrate.alembic_config(url), "base")
    command.upgrade(migrate.alembic_config(url), "head")
    from sqlalchemy import create_engine, inspect

    tables = set(inspect(create_engine(url)).get_table_names())
    assert {"company", "need", "organisation", "user", "apitoken", "auditevent"} <= tables


def test_companies_stored_before_the_name_key_get_theirs(tmp_path):
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'keys.db'}"
    migrate.upgrade(url, "0009")
    database = create_engine(url)
    with database.begin() as connection:
        connection.execute(text(
            "INSERT INTO company (name, description, sectors, nld_areas, capabilities, defence_experience, "
            "consent_matching, consent_defence_contact, status, source, created_at, updated_at) VALUES "
            "('  Café  Noord B.V.', 'x', '[]', '[]', '[]', 'none', 1, 0, 'active', 'self', "
            "'2026-01-01', '2026-01-01')"))
    migrate.upgrade(url)
    with database.connect() as connection:
        assert connection.execute(text("SELECT name_key FROM company")).scalar_one() == "cafe noord b.v."
