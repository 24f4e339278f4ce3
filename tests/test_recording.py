"""The audit lines of what match lists show go through a journal file first and are committed in
batches after; a process killed with lines still in its journal loses none of them, and none
counts twice (app/services/recording.py)."""

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from app.core.config import get_settings
from app.core.db import get_engine
from app.main import create_app
from app.models import AuditEvent, WriteJournal
from app.services.matching import MatchingState
from app.services.recording import RecordJournal, page_entry
from tests.factories import bearer, company_payload, create_need
from tests.test_matching_api import NIGHT_VISION, make_engine
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]

# A process that appends entries to its journal, commits the first FLUSHED of them, appends the
# rest, says so and waits to be killed.
DYING_PROCESS = """
import sys, time
from pathlib import Path
from app.services.recording import RecordJournal, page_entry
journal = RecordJournal(Path(sys.argv[1]), flush_seconds=3600)
journal.start()
flushed, total = int(sys.argv[2]), int(sys.argv[3])
for number in range(total):
    journal.append(page_entry("user:1 (adviser)", [(number, f"need {number}")]))
    if number + 1 == flushed:
        journal.flush()
print("appended", flush=True)
time.sleep(600)
"""


def audit_details() -> list[str]:
    """The details of the audit lines of contact details shown."""
    with Session(get_engine()) as session:
        return sorted(session.exec(select(AuditEvent.detail).where(AuditEvent.action == "read_contact")).all())


def test_a_journal_commits_its_entries_shortly_after_they_are_appended(tmp_path):
    journal = RecordJournal(tmp_path / "journal", flush_seconds=0.05)
    journal.start()
    try:
        journal.append(page_entry("user:1 (adviser)", [(7, "need 3")]))
        wait_until(audit_details, 5, 0.02)
        assert audit_details() == ["need 3"]
    finally:
        journal.close()
    assert list((tmp_path / "journal").iterdir()) == []  # a closed journal leaves no file behind


def test_an_answer_that_showed_no_contact_details_writes_nothing_to_the_journal(tmp_path):
    journal = RecordJournal(tmp_path / "journal", flush_seconds=3600)
    journal.start()
    try:
        def written() -> int:
            return sum(path.stat().st_size for path in (tmp_path / "journal").iterdir())

        journal.append(page_entry("user:1 (adviser)", []))
        assert written() == 0
        journal.append(page_entry("user:1 (adviser)", [(7, "need 3")]))
        assert written() > 0
    finally:
        journal.close()


def test_a_killed_process_loses_no_entry_of_its_journal_and_none_counts_twice(tmp_path):
    folder = tmp_path / "journal"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dying = subprocess.Popen([sys.executable, "-c", DYING_PROCESS, str(folder), "3", "8"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert dying.stdout is not None and dying.stdout.readline().strip() == "appended"
    finally:
        dying.send_signal(signal.SIGKILL)
        dying.wait(timeout=30)
    assert audit_details() == sorted(f"need {n}" for n in range(3))  # committed before the kill
    (journal_file,) = folder.glob("*.jsonl")
    with journal_file.open("ab") as cut_short:  # a line the kill cut short: its answer was never sent
        cut_short.write(b'{"actor": "user:1 (adviser)", "at": "2026-')

    next_process = RecordJournal(folder, flush_seconds=0.05)
    next_process.start()
    next_process.close()

    assert audit_details() == sorted(f"need {n}" for n in range(8))
    assert not journal_file.exists()
    with Session(get_engine()) as session:
        assert session.exec(select(WriteJournal)).all() == []


def test_a_journal_its_process_still_holds_is_left_alone(tmp_path):
    folder = tmp_path / "journal"
    living = RecordJournal(folder, flush_seconds=3600)
    living.start()
    try:
        living.append(page_entry("user:1 (adviser)", [(1, "need 1")]))
        other = RecordJournal(folder, flush_seconds=3600)
        other.start()
        other.close()
        assert audit_details() == []  # not another process's to commit
    finally:
        living.close()
    assert audit_details() == ["need 1"]


@pytest.fixture
def slow_journal_client(tmp_path, monkeypatch) -> Iterator[TestClient]:
    """A matching app whose journal commits only when the test says so."""
    monkeypatch.setenv("KOPPELKANS_RECORD_FLUSH_SECONDS", "60")
    get_settings.cache_clear()
    try:
        state = MatchingState.ready_with(make_engine(tmp_path / "matching"))
        with TestClient(create_app(matching_state=state)) as test_client:
            yield test_client
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_a_match_list_is_answered_before_its_audit_lines_are_committed(slow_journal_client, staff_tokens):
    client, adviser = slow_journal_client, staff_tokens["adviser"]
    need = create_need(client, adviser, title="Nachtzicht", description=NIGHT_VISION)
    company = client.post("/api/v1/companies", headers=bearer(adviser), json=company_payload(
        description="Nachtzichtapparatuur en warmtebeeldcamera's.")).json()

    # Weak ones too: the test encoders rate this pair weak.
    shown = client.get(f"/api/v1/needs/{need['id']}/matches", params={"min_fit": "weak"},
                       headers=bearer(adviser)).json()["items"]

    assert shown[0]["company"]["contact"]["email"] == company["contact"]["email"]
    assert audit_details() == []  # in the journal, not yet in the database
    client.app.state.journal.flush()
    assert audit_details() == [f"need {need['id']}"]
