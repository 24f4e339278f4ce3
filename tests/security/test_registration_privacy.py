"""Findings 2 and 8: nobody learns from a registration whether a KvK number is registered, and a
registration whose answer was lost locks nobody out.

Anonymous registrations get 202 with the same Dutch message for a new and a known number; the
contact address on record gets the next step by e-mail (an edit link, or a "someone tried to
register you" notice with a link). Staff still see the conflict. ``Idempotency-Key`` makes a retry
get the first answer again."""

import uuid

from sqlmodel import select

from app.models import Company
from tests.factories import (
    bearer,
    company_payload,
    edit_link_from_mail,
    mails_about,
    need_payload,
    register_company,
)


def test_a_known_kvk_number_gets_the_same_answer_as_a_new_one(client):
    known = register_company(client, contact_email="eigenaar@bekend-bedrijf.example")
    new = client.post("/api/v1/companies", json=company_payload())
    again = client.post("/api/v1/companies", json=company_payload(kvk_number=known["kvk_number"],
                                                                  contact_email="vreemde@elders.example"))
    assert (new.status_code, again.status_code) == (202, 202)
    assert new.json() == again.json()
    assert "e-mail" in again.json()["message"] and "KvK-nummer" in again.json()["message"]
    assert set(new.headers) - {"content-length"} == set(again.headers) - {"content-length"}


def test_the_known_company_is_told_by_mail_with_a_working_link_and_the_stranger_gets_nothing(client):
    known = register_company(client, contact_email="eigenaar@bekend-bedrijf.example")
    stranger = company_payload(kvk_number=known["kvk_number"], contact_email="vreemde@elders.example")
    assert client.post("/api/v1/companies", json=stranger).status_code == 202
    first, notice = mails_about(known["kvk_number"])
    assert notice["To"] == "eigenaar@bekend-bedrijf.example"
    assert "geprobeerd" in notice.get_content() and "aan te melden" in notice["Subject"]
    company_id, link_token = edit_link_from_mail(known["kvk_number"])
    assert company_id == known["id"] and link_token.startswith("kk_link_")
    opened = client.get(f"/api/v1/companies/{company_id}", headers={"X-Edit-Token": link_token})
    assert opened.status_code == 200 and opened.json()["name"] == known["name"]
    # The permanent edit token still works: the stranger locked nobody out.
    still = client.get(f"/api/v1/companies/{company_id}", headers={"X-Edit-Token": known["edit_token"]})
    assert still.status_code == 200
    assert all(message["To"] != "vreemde@elders.example" for message in mails_about(known["kvk_number"]))


def test_a_new_company_gets_its_edit_link_by_mail_and_nowhere_else(client, session):
    payload = company_payload(contact_email="nieuw@nieuw-bedrijf.example")
    response = client.post("/api/v1/companies", json=payload)
    assert "kk_edit_" not in response.text
    [message] = mails_about(payload["kvk_number"])
    assert message["To"] == "nieuw@nieuw-bedrijf.example"
    company_id, token = edit_link_from_mail(payload["kvk_number"])
    assert token.startswith("kk_edit_")
    assert session.get(Company, company_id).source == "self"


def test_staff_still_see_the_conflict(client, staff_tokens):
    known = register_company(client)
    response = client.post("/api/v1/companies", json=company_payload(kvk_number=known["kvk_number"]),
                           headers=bearer(staff_tokens["adviser"]))
    assert response.status_code == 409 and known["kvk_number"] in response.json()["detail"]


def test_a_company_cannot_probe_numbers_by_changing_its_own(client, staff_tokens):
    mine, other = register_company(client), register_company(client)
    headers = {"X-Edit-Token": mine["edit_token"]}
    taken = client.patch(f"/api/v1/companies/{mine['id']}", json={"kvk_number": other["kvk_number"]}, headers=headers)
    free = client.patch(f"/api/v1/companies/{mine['id']}", json={"kvk_number": "99887766"}, headers=headers)
    assert taken.status_code == free.status_code == 403
    assert taken.json() == free.json()
    by_desk = client.patch(f"/api/v1/companies/{mine['id']}", json={"kvk_number": other["kvk_number"]},
                           headers=bearer(staff_tokens["adviser"]))
    assert by_desk.status_code == 409


def test_a_lost_answer_locks_nobody_out(client):
    """Sending the registration again (without a key) mails a link that opens the profile."""
    payload = company_payload()
    assert client.post("/api/v1/companies", json=payload).status_code == 202  # the answer is lost
    assert client.post("/api/v1/companies", json=payload).status_code == 202
    company_id, token = edit_link_from_mail(payload["kvk_number"])
    assert client.get(f"/api/v1/companies/{company_id}", headers={"X-Edit-Token": token}).status_code == 200


def test_the_same_idempotency_key_gets_the_first_answer_again_edit_token_included(client, staff_tokens, session):
    from app.models import IdempotentRequest

    adviser = {**bearer(staff_tokens["adviser"]), "Idempotency-Key": str(uuid.uuid4())}
    payload = company_payload()
    first = client.post("/api/v1/companies", json=payload, headers=adviser)
    second = client.post("/api/v1/companies", json=payload, headers=adviser)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert first.json()["edit_token"].startswith("kk_edit_")
    token = second.json()["edit_token"]
    assert client.get(f"/api/v1/companies/{first.json()['id']}", headers={"X-Edit-Token": token}).status_code == 200
    assert len(session.exec(select(Company)).all()) == 1
    stored = session.exec(select(IdempotentRequest)).one()
    assert token not in stored.model_dump_json() and payload["contact_email"] not in stored.model_dump_json()


def test_an_anonymous_retry_with_its_key_gets_202_and_sends_no_second_mail(client):
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    payload = company_payload()
    assert client.post("/api/v1/companies", json=payload, headers=headers).status_code == 202
    assert client.post("/api/v1/companies", json=payload, headers=headers).status_code == 202
    assert len(mails_about(payload["kvk_number"])) == 1


def test_the_same_key_with_another_body_is_refused(client, staff_tokens):
    adviser = {**bearer(staff_tokens["adviser"]), "Idempotency-Key": "retry-1"}
    assert client.post("/api/v1/companies", json=company_payload(), headers=adviser).status_code == 201
    refused = client.post("/api/v1/companies", json=company_payload(), headers=adviser)
    assert refused.status_code == 422 and "Idempotency-Key" in refused.json()["detail"]
    need_headers = {**bearer(staff_tokens["adviser"]), "Idempotency-Key": "need-1"}
    first = client.post("/api/v1/needs", json=need_payload(), headers=need_headers)
    again = client.post("/api/v1/needs", json=need_payload(), headers=need_headers)
    assert first.status_code == again.status_code == 201 and first.json()["id"] == again.json()["id"]
    other = client.post("/api/v1/needs", json=need_payload(title="Iets anders"), headers=need_headers)
    assert other.status_code == 422


def test_keys_belong_to_their_caller(client, staff_tokens):
    key = {"Idempotency-Key": "gedeelde-sleutel"}
    payload = company_payload()
    first = client.post("/api/v1/companies", json=payload, headers={**bearer(staff_tokens["adviser"]), **key})
    other = client.post("/api/v1/companies", json=payload, headers={**bearer(staff_tokens["admin"]), **key})
    assert first.status_code == 201
    assert other.status_code == 409  # a new request of another caller, not the adviser's answer


def test_a_key_expires_after_a_day(client, staff_tokens, session):
    from datetime import timedelta

    from app.models import IdempotentRequest

    headers = {**bearer(staff_tokens["adviser"]), "Idempotency-Key": "oud"}
    assert client.post("/api/v1/needs", json=need_payload(), headers=headers).status_code == 201
    stored = session.exec(select(IdempotentRequest)).one()
    stored.created_at -= timedelta(hours=25)
    session.add(stored)
    session.commit()
    again = client.post("/api/v1/needs", json=need_payload(title="Een nieuwe vraag"), headers=headers)
    assert again.status_code == 201
