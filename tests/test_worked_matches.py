"""Looking is not working: only an action opens a match record, and the migration that made it so
removes the records looking had opened."""

import pytest
from sqlalchemy import create_engine, text

from app import migrate

pytestmark = pytest.mark.sqlite_only

NOW = "2026-11-30 10:00:00"


def test_the_migration_removes_records_nobody_worked_on(tmp_path):
    url = f"sqlite:///{tmp_path / 'before.db'}"
    migrate.upgrade(url, "0006")
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("INSERT INTO company (id, name, description, sectors, nld_areas, capabilities, "
                        "defence_experience, consent_matching, consent_defence_contact, status, source, created_at, "
                        "updated_at) VALUES (1, 'A', 'x', '[]', '[]', '[]', 'none', 1, 0, 'active', 'self', :t, :t)"),
                   {"t": NOW})
        for need_id in (1, 2, 3):
            db.execute(text("INSERT INTO need (id, title, description, kind, nld_areas, sectors, eligible_regions, "
                            "status, visibility, created_at, updated_at) VALUES (:id, 'N', 'y', 'call', '[]', '[]', "
                            "'[]', 'open', 'public', :t, :t)"), {"id": need_id, "t": NOW})
            db.execute(text("INSERT INTO match (id, company_id, need_id, status, created_at, updated_at) "
                            "VALUES (:id, 1, :id, 'new', :t, :t)"), {"id": need_id, "t": NOW})
        db.execute(text("INSERT INTO matchevent (match_id, at, actor, kind, note) "
                        "VALUES (1, :t, 'user:1 (adviser)', 'note', 'bellen')"), {"t": NOW})
        db.execute(text("INSERT INTO introductionconsent (company_id, need_id, consented_at) VALUES (1, 3, :t)"),
                   {"t": NOW})
    migrate.upgrade(url)
    with engine.connect() as db:
        kept = sorted(db.execute(text("SELECT need_id FROM match")).scalars())
    assert kept == [1, 3]  # the note and the consent keep theirs; the one only looked at is gone
