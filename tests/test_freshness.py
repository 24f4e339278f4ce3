"""Freshness: calls past their deadline leave matches and weekly lists (still found with the filter,
marked closed); a profile untouched for a year is marked stale to staff, and its contact gets one
reminder with a working edit link."""

import email
import email.policy
import json
import re
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.cli import app as cli
from app.main import create_app
from app.models import Company, OutboxMail, utcnow
from app.services import freshness, mail, match_lists
from app.services.matching import MatchingState
from tests.factories import bearer, create_need, register_company
from tests.test_matching_api import make_engine

DRONES = "Lichtgewicht composieten frames voor drones en onbemande luchtvaartuigen."


@pytest.fixture
def state(tmp_path) -> MatchingState:
    return MatchingState.ready_with(make_engine(tmp_path / "matching"))


@pytest.fixture
def mclient(state) -> Iterator[TestClient]:
    with TestClient(create_app(matching_state=state)) as test_client:
        yield test_client


def week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def current_lines(match_list) -> list[dict]:
    return [line for line in json.loads(match_list.content)["lines"] if line["change"] != "gone"]


def test_a_call_whose_deadline_passed_drops_out_of_next_weeks_list(mclient, staff_tokens, state, session):
    company = register_company(mclient, name="Emmer Composiet", description=DRONES)
    year, week, _ = date.today().isocalendar()
    sunday = date.fromisocalendar(year, week, 7)  # the call closes at the end of this week
    call = create_need(mclient, staff_tokens["adviser"], kind="call", title="Call drones", description=DRONES,
                       deadline=sunday.isoformat())
    this_week, next_week = week_of(date.today()), week_of(sunday + timedelta(days=1))

    built, _ = match_lists.build(session, state.engine, this_week)
    session.commit()
    assert (company["id"], call["id"]) in {(line["company_id"], line["need_id"]) for line in current_lines(built)}
    following, _ = match_lists.build(session, state.engine, next_week)
    session.commit()
    assert call["id"] not in {line["need_id"] for line in current_lines(following)}
    gone = [line for line in json.loads(following.content)["lines"] if line["need_id"] == call["id"]]
    assert gone and {line["change"] for line in gone} == {"gone"}


def test_past_deadline_calls_leave_a_companys_matches_but_the_filter_finds_them_marked_closed(mclient, staff_tokens):
    company = register_company(mclient, name="Emmer Composiet", description=DRONES)
    closed = create_need(mclient, staff_tokens["adviser"], kind="call", title="Verlopen call drones",
                         description=DRONES, deadline=(date.today() - timedelta(days=1)).isoformat())
    url = f"/api/v1/companies/{company['id']}/matches"
    headers = bearer(staff_tokens["adviser"])
    assert closed["id"] not in [item["need"]["id"] for item in mclient.get(url, headers=headers).json()["items"]]
    found = mclient.get(url, params={"include_closed": True}, headers=headers).json()["items"]
    marked = [item["need"] for item in found if item["need"]["id"] == closed["id"]]
    assert marked and marked[0]["closed"] is True and marked[0]["status"] == "open"


def _sent_text(queued: OutboxMail) -> str:
    """The message as written to the outbox folder (by this test, or by the app's own sender)."""
    stem = mail.file_stem(queued)
    deadline = time.monotonic() + 10
    while not (written := [path for path in mail.outbox_files() if path.name.startswith(stem)]):
        assert time.monotonic() < deadline, "the reminder was not sent"
        mail.send_due()  # or the app's own sender is writing it right now
        time.sleep(0.05)
    message = written[0]
    parsed = email.message_from_bytes(message.read_bytes(), policy=email.policy.default)
    assert parsed["To"] == "oud@profiel.example.org" and parsed["Subject"] == freshness.REMINDER_SUBJECT
    return parsed.get_body().get_content()


def _age(session: Session, company_id: int, days: int) -> None:
    company = session.get(Company, company_id)
    company.updated_at = utcnow() - timedelta(days=days)
    session.add(company)
    session.commit()


def test_a_profile_untouched_for_a_year_is_stale_to_staff_and_its_contact_gets_one_reminder(mclient, staff_tokens,
                                                                                           session):
    company = register_company(mclient, name="Oud Profiel BV", contact_email="oud@profiel.example.org")
    fresh = register_company(mclient, name="Vers Profiel BV")
    _age(session, company["id"], 400)
    _age(session, fresh["id"], 300)
    staff = bearer(staff_tokens["adviser"])
    assert mclient.get(f"/api/v1/companies/{company['id']}", headers=staff).json()["stale"] is True
    assert mclient.get(f"/api/v1/companies/{fresh['id']}", headers=staff).json()["stale"] is False
    own = mclient.get(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": company["edit_token"]})
    assert own.json()["stale"] is False  # the mark is for staff

    result = CliRunner().invoke(cli, ["remind-stale"])
    assert result.exit_code == 0 and "reminders queued: 1" in result.output
    assert "reminders queued: 0" in CliRunner().invoke(cli, ["remind-stale"]).output  # one reminder only
    session.expire_all()
    mails = session.exec(select(OutboxMail).where(OutboxMail.purpose == freshness.REMINDER_PURPOSE)).all()
    assert [m.company_id for m in mails] == [company["id"]]
    text = _sent_text(mails[0])
    assert "wijzigt u het profiel in uw browser" in text and "API" not in text  # no technical detour
    link = re.search(r"(/ui/bedrijf/\d+\?token=\S+)", text).group(1)
    assert mclient.get(link, follow_redirects=False).status_code == 303  # the new edit link works …
    assert mclient.get(f"/api/v1/companies/{company['id']}",
                       headers={"X-Edit-Token": company["edit_token"]}).status_code == 403  # … and replaces the old

    token = link.split("token=")[1]
    updated = mclient.patch(f"/api/v1/companies/{company['id']}", headers={"X-Edit-Token": token},
                            json={"description": "Wij maken nu ook lichtgewicht composieten voor drones."})
    assert updated.status_code == 200
    assert mclient.get(f"/api/v1/companies/{company['id']}", headers=staff).json()["stale"] is False
    # A year after that update the profile is stale again, and gets its next reminder then.
    assert freshness.due_for_reminder(session, utcnow() + timedelta(days=366))[0].id == company["id"]
