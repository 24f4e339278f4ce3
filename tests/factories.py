"""Helpers that build valid test data; override any field to test one thing at a time."""

import itertools
import re
import time
from email import message_from_bytes, policy
from email.message import EmailMessage

from sqlmodel import Session, select

from app.core.db import get_engine
from app.domain import MailStatus
from app.models import OutboxMail
from app.services import mail
from app.services import users as user_service

_kvk_numbers = itertools.count(10_000_001)


def next_kvk() -> str:
    return f"{next(_kvk_numbers):08d}"


def company_payload(**overrides) -> dict:
    payload = {
        "name": "Veenstra Precisietechniek",
        "kvk_number": next_kvk(),
        "municipality": "Emmen",
        "description": (
            "Verspanend toeleverancier: CNC-frezen en draaien van precisieonderdelen in aluminium en titanium."
        ),
        "contact_name": "J. Veenstra",
        "contact_email": "info@veenstra.example.org",
        "contact_phone": "+31 591 123456",
        "sectors": ["maakindustrie"],
        "nld_areas": ["slimme-materialen"],
        "capabilities": ["CNC-frezen", "draaien"],
        "consent": True,
    }
    payload.update(overrides)
    return payload


def need_payload(**overrides) -> dict:
    payload = {
        "title": "Lichtgewicht composieten voor drones",
        "description": "Lichtgewicht, sterke materialen voor defensie, ruimtevaart, drones en voertuigen.",
        "kind": "defence_need",
        "nld_areas": ["slimme-materialen"],
    }
    payload.update(overrides)
    return payload


def make_user(session: Session, *, role: str, username: str | None = None, password: str | None = None):
    """Creates a user and returns (user, bearer token)."""
    user = user_service.create_user(
        session=session, username=username or f"{role}-{next(_kvk_numbers)}", role=role, password=password
    )
    token, _ = user_service.issue_token(session=session, user=user)
    session.commit()
    return user, token


def recorded(client) -> None:
    """Commit the audit lines of the contact details that match lists, searches, company pages and
    company lists showed through ``client``: the journal commits them shortly after each answer
    (app/services/recording.py)."""
    client.app.state.journal.flush()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def register_company(client, **overrides) -> dict:
    """Registers a company through the API as itself, picks its edit link from the registration
    mail, and returns the profile as the company reads it with that token, edit token included."""
    payload = company_payload(**overrides)
    response = client.post("/api/v1/companies", json=payload)
    assert response.status_code == 202, response.text
    company_id, edit_token = edit_link_from_mail(payload["kvk_number"])
    profile = client.get(f"/api/v1/companies/{company_id}", headers={"X-Edit-Token": edit_token})
    assert profile.status_code == 200, profile.text
    return {**profile.json(), "edit_token": edit_token}


_EDIT_LINK = re.compile(r"/ui/bedrijf/(\d+)\?token=(\S+)")


def mails_about(kvk_number: str) -> list[EmailMessage]:
    """The mails sent so far that name this KvK number, oldest first (everything due is sent first)."""
    sent_everything_due()
    wanted = f"KvK {kvk_number}"
    return [message for message, text in _outbox_messages() if wanted in text]


def sent_everything_due(wait_seconds: float = 10) -> None:
    """Sends what is due, and waits while the app's background sender is writing a message."""
    deadline = time.monotonic() + wait_seconds
    mail.send_due()
    while _being_sent() and time.monotonic() < deadline:
        time.sleep(0.01)


def _being_sent() -> int:
    with Session(get_engine()) as session:
        return len(session.exec(select(OutboxMail.id).where(OutboxMail.status == MailStatus.sending)).all())


def mails_to(address: str, subject: str) -> list[EmailMessage]:
    """The mails sent so far to this address with this subject, oldest first."""
    sent_everything_due()
    return [message for message, _text in _outbox_messages() if message["To"] == address
            and message["Subject"] == subject]


def edit_link_from_mail(kvk_number: str) -> tuple[int, str]:
    """(company id, token) of the newest edit link mailed about this KvK number."""
    found = mails_about(kvk_number)
    assert found, f"no mail about KvK {kvk_number} in the outbox"
    link = _EDIT_LINK.search(found[-1].get_content())
    assert link, "the mail holds no edit link"
    return int(link.group(1)), link.group(2)


# outbox file (path, modification time) → its message and text: a written message never changes.
_read_files: dict[tuple[str, int], tuple[EmailMessage, str]] = {}


def _outbox_messages() -> list[tuple[EmailMessage, str]]:
    found = []
    for path in mail.outbox_files():
        try:
            key = (str(path), path.stat().st_mtime_ns)
            read = _read_files.get(key)
            if read is None:
                message = message_from_bytes(path.read_bytes(), policy=policy.default)
                read = _read_files[key] = (message, message.get_content())  # type: ignore[assignment,attr-defined]
        except FileNotFoundError:  # erased meanwhile
            continue
        found.append(read)
    return found


def create_need(client, token: str, **overrides) -> dict:
    response = client.post("/api/v1/needs", json=need_payload(**overrides), headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()
