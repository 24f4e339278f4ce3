"""A company that ticks "stuur ons wekelijks een e-mail" in its profile gets one message a week
about its new strong matches; without the tick, or with nothing new and strong, it gets none."""

import json

from sqlmodel import Session

from app.domain import ListLineChange, Visibility
from app.models import MatchList, Need
from app.services import match_lists, match_mail
from app.services.fit import bands
from tests.factories import mails_to, make_user, register_company
from tests.web.conftest import PASSWORD, csrf_from, log_in
from tests.web.test_pages import add_need
from tests.web.test_registration import form_fields

WEEK = "2026-W50"


def opt_in_through_the_form(web, company: dict) -> None:
    assert web.get(f"/ui/bedrijf/{company['id']}", params={"token": company["edit_token"]}).status_code == 200
    form = web.get(f"/ui/bedrijf/{company['id']}/wijzigen")
    assert 'id="weekly_match_mail"' in form.text and 'id="weekly_match_mail" name="weekly_match_mail" ' \
        'type="checkbox" value="ja" aria' in form.text  # off until the company ticks it
    fields = form_fields(name=company["name"], contact_email=company["contact"]["email"], weekly_match_mail="ja")
    saved = web.post(f"/ui/bedrijf/{company['id']}/wijzigen", data={**fields, "csrf_token": csrf_from(form.text)})
    assert saved.status_code == 200 and "Het profiel is opgeslagen." in saved.text
    assert "Wekelijkse e-mail over nieuwe, sterk passende behoeften: <strong>aan</strong>" in saved.text
    web.cookies.clear()


def line(company: dict, need: dict, score: float, change: ListLineChange = ListLineChange.new) -> dict:
    return {"week": WEEK, "direction": "bedrijf→behoefte", "change": change, "company_id": company["id"],
            "need_id": need["id"], "score": score}


def store_week(session: Session, week: str, lines: list[dict]) -> None:
    """A week's list as the build stores it, and the mail it queues."""
    stored = MatchList(week=week, content=json.dumps({"week": week, "lines": lines}))
    session.add(stored)
    match_mail.queue_for_week(session, week, match_lists.lines_of(stored))
    session.commit()


def test_an_opted_in_company_gets_its_new_strong_matches_by_mail(web, session):
    keen = register_company(web, name="Noordlicht Optiek", contact_email="info@noordlicht.example.org")
    quiet = register_company(web, name="Stille Optiek", contact_email="info@stil.example.org")
    opt_in_through_the_form(web, keen)
    strong = add_need(web, session, title="Nachtzicht voor voertuigen")
    fair = add_need(web, session, title="Composieten voor drones")
    internal = add_need(web, session, title="Interne vraag van de landmacht")
    hidden = session.get(Need, internal["id"])
    hidden.visibility = Visibility.staff
    session.add(hidden)
    session.commit()

    store_week(session, WEEK, [
        line(keen, strong, bands().strong + 0.1), line(keen, fair, (bands().strong + bands().fair) / 2),
        line(keen, internal, 0.95), line(quiet, strong, 0.95),
    ])
    [message] = mails_to("info@noordlicht.example.org", match_mail.SUBJECT)
    text = message.get_content()
    assert "Nachtzicht voor voertuigen" in text and f"/ui/behoefte/{strong['id']}" in text
    assert "Composieten voor drones" not in text  # fair, not strong
    assert "Interne vraag" not in text  # staff-only needs never leave the desk
    assert "Uitzetten doet u daar" in text
    assert mails_to("info@stil.example.org", match_mail.SUBJECT) == []  # it did not opt in

    store_week(session, "2026-W51", [line(keen, strong, bands().strong + 0.1, ListLineChange.unchanged)])
    assert len(mails_to("info@noordlicht.example.org", match_mail.SUBJECT)) == 1  # nothing new: no mail


def test_the_weekly_build_mails_an_opted_in_company(web, session, monkeypatch):
    # The test engine's hashing encoders give no meaningful scores: every pair it lists counts as strong.
    monkeypatch.setattr(match_mail, "fits", lambda score, min_fit: True)
    description = "Wij ontwerpen nachtzichtapparatuur en warmtebeeldcamera's voor militaire voertuigen."
    keen = register_company(web, name="Bouwlicht Optiek", contact_email="info@bouwlicht.example.org",
                            description=description, nld_areas=["sensoren"])
    opt_in_through_the_form(web, keen)
    need = add_need(web, session, title="Warmtebeeld voor voertuigen", description=description,
                    nld_areas=["sensoren"])
    make_user(session, role="admin", username="ada-mail", password=PASSWORD)
    assert log_in(web, "ada-mail").status_code == 303
    weekly = web.get("/ui/weeklijst")
    assert web.post("/ui/weeklijst", data={"csrf_token": csrf_from(weekly.text)}).status_code == 200
    [message] = mails_to("info@bouwlicht.example.org", match_mail.SUBJECT)
    assert "Warmtebeeld voor voertuigen" in message.get_content()
    assert f"/ui/behoefte/{need['id']}" in message.get_content()
