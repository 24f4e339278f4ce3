"""E-mail: queued in the caller's transaction, sent after it commits, through a real SMTP server
(aiosmtpd, in this process) or as .eml files in the outbox folder."""

import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select
from typer.testing import CliRunner

from app.core.config import get_settings
from app.domain import MailStatus
from app.models import OutboxMail, utcnow
from app.services import mail
from app.services.mail_transport import SmtpServer
from tests.factories import company_payload
from tests.waiting import wait_until

ADDRESS = "piet@voorbeeld-bedrijf.example"


class Recorder:
    """An SMTP handler that keeps what it receives, or refuses it with ``refuse_with``."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.recipients: list[str] = []
        self.refuse_with: str | None = None

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        if self.refuse_with:
            return self.refuse_with
        self.recipients.extend(envelope.rcpt_tos)
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_settings(smtp_server, monkeypatch):
    _recorder, port = smtp_server
    monkeypatch.setenv("KOPPELKANS_SMTP_URL", f"smtp://127.0.0.1:{port}")
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.delenv("KOPPELKANS_SMTP_URL")
    get_settings.cache_clear()


def app_log(caplog: pytest.LogCaptureFixture) -> str:
    """What the service logged (aiosmtpd's own debug log quotes the envelope)."""
    return "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("app"))


def queue_one(session: Session, *, company_id: int | None = None, purpose: str = "test") -> None:
    mail.queue_mail(session, to=ADDRESS, subject="Uw aanmelding bij Koppelkans", body="Welkom, Piet.\nGroet.",
                    purpose=purpose, company_id=company_id)


def stored(session: Session) -> list[OutboxMail]:
    session.expire_all()
    return list(session.exec(select(OutboxMail).order_by(OutboxMail.id)).all())


def test_nothing_is_sent_from_a_transaction_that_rolls_back(session):
    before = mail.outbox_files()
    queue_one(session)
    session.rollback()
    assert mail.send_due().sent == 0
    assert stored(session) == []
    assert mail.outbox_files() == before


def test_without_smtp_a_committed_message_becomes_an_eml_file_and_leaves_no_content_behind(session, caplog):
    before = set(mail.outbox_files())
    queue_one(session, purpose="registration")
    session.commit()
    with caplog.at_level(logging.INFO, logger="app.services.mail"):
        report = mail.send_due()
    assert report.sent == 1
    [written] = set(mail.outbox_files()) - before
    message = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert message["To"] == ADDRESS
    assert message["Subject"] == "Uw aanmelding bij Koppelkans"
    assert "Welkom, Piet." in message.get_content()
    assert str(written) in caplog.text  # the file's path is logged …
    assert ADDRESS not in caplog.text  # … never the address
    [row] = stored(session)
    assert (row.status, row.to_address, row.subject, row.body) == (MailStatus.sent, "", "", "")
    assert row.sent_at is not None
    assert mail.send_due().sent == 0  # sent once


def test_a_message_goes_through_a_real_smtp_server(session, smtp_server, smtp_settings, caplog):
    recorder, _port = smtp_server
    queue_one(session)
    session.commit()
    with caplog.at_level(logging.DEBUG, logger="app"):
        assert mail.send_due().sent == 1
    assert recorder.recipients == [ADDRESS]
    [message] = recorder.messages
    assert message["Subject"] == "Uw aanmelding bij Koppelkans"
    assert message["From"] == smtp_settings.mail_from
    assert "Welkom, Piet." in message.get_content()
    assert ADDRESS not in app_log(caplog)
    [row] = stored(session)
    assert (row.status, row.to_address, row.body) == (MailStatus.sent, "", "")


def test_a_failed_try_is_retried_later_with_a_growing_delay(session, monkeypatch, caplog):
    port = free_port()  # nothing listens here yet
    monkeypatch.setenv("KOPPELKANS_SMTP_URL", f"smtp://127.0.0.1:{port}")
    get_settings.cache_clear()
    queue_one(session)
    session.commit()
    with caplog.at_level(logging.INFO, logger="app"):
        first = mail.send_due()
    assert (first.sent, first.retried) == (0, 1)
    [row] = stored(session)
    assert row.status == MailStatus.queued and row.attempts == 1 and row.to_address == ADDRESS
    assert ADDRESS not in app_log(caplog)
    assert mail.send_due().retried == 0  # not due yet: nothing is tried
    later = utcnow() + timedelta(seconds=mail.FIRST_RETRY_SECONDS + 1)
    assert mail.send_due(now=later).retried == 1
    [row] = stored(session)
    second_delay = 2 * mail.FIRST_RETRY_SECONDS  # the delay doubles with every failed try
    assert row.attempts == 2
    assert abs((_aware(row.next_attempt_at) - later).total_seconds() - second_delay) < 2

    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        assert mail.send_due(now=later + timedelta(seconds=second_delay + 1)).sent == 1
    finally:
        controller.stop()
        get_settings.cache_clear()
    assert recorder.recipients == [ADDRESS]


def test_a_message_the_server_refuses_for_good_is_given_up_without_keeping_its_content(
    session, smtp_server, smtp_settings, caplog
):
    recorder, _port = smtp_server
    recorder.refuse_with = f"550 5.1.1 <{ADDRESS}>: recipient unknown"
    queue_one(session)
    session.commit()
    with caplog.at_level(logging.INFO, logger="app"):
        report = mail.send_due()
    assert report.given_up == 1
    [row] = stored(session)
    assert (row.status, row.to_address, row.subject, row.body) == (MailStatus.failed, "", "", "")
    assert ADDRESS not in row.last_error and "550" in row.last_error
    assert ADDRESS not in app_log(caplog)


def test_two_senders_at_once_send_each_message_once(session):
    for _ in range(20):
        queue_one(session)
    session.commit()
    before = set(mail.outbox_files())
    reports: list[mail.SendReport] = []
    threads = [threading.Thread(target=lambda: reports.append(mail.send_due())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(report.sent for report in reports) == 20
    assert len(set(mail.outbox_files()) - before) == 20


def test_a_sender_that_died_while_sending_lets_go_after_its_claim_expires(session):
    queue_one(session)
    session.commit()
    [row] = stored(session)
    assert mail._claim(row.id, utcnow())  # claimed by a sender that then dies
    assert mail.send_due().sent == 0
    assert mail.send_due(now=utcnow() + timedelta(seconds=mail.CLAIM_SECONDS + 1)).sent == 1


def test_the_web_app_sends_mail_in_the_background_after_the_commit(client, session):
    before = set(mail.outbox_files())
    queue_one(session, purpose="background")
    session.commit()  # wakes the app's sender
    wait_until(lambda: _new_files(before, "-background.eml"), 10)
    assert len(_new_files(before, "-background.eml")) == 1


def _new_files(before: set, suffix: str) -> list:
    return [path for path in set(mail.outbox_files()) - before if path.name.endswith(suffix)]


def test_erasing_a_company_deletes_its_queued_mail(client, session):
    registered = client.post("/api/v1/companies", json=company_payload(), headers=_adviser(session)).json()
    mail.sender.stop()  # keep this test's message queued
    try:
        queue_one(session, company_id=registered["id"])
        session.commit()
        erased = client.delete(f"/api/v1/companies/{registered['id']}",
                               headers={"X-Edit-Token": registered["edit_token"]})
        assert erased.status_code == 204
        assert [m for m in stored(session) if m.to_address] == []
    finally:
        mail.sender.start()


def test_the_command_line_sends_what_is_due(session):
    from app.cli import app as cli

    queue_one(session)
    session.commit()
    result = CliRunner().invoke(cli, ["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "1 sent" in result.output and ADDRESS not in result.output


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.example.org", SmtpServer("smtp", "mail.example.org", 25, None, None)),
        ("smtp+starttls://user%40x:p%3Ass@mail.example.org:2525",
         SmtpServer("smtp+starttls", "mail.example.org", 2525, "user@x", "p:ss")),
        ("smtps://mail.example.org", SmtpServer("smtps", "mail.example.org", 465, None, None)),
    ],
)
def test_smtp_urls(url, expected):
    assert SmtpServer.from_url(url) == expected


def test_an_unknown_smtp_scheme_is_refused_at_start_up(monkeypatch):
    from pydantic import ValidationError

    from app.core.config import Settings

    with pytest.raises(ValidationError, match="smtp\\+starttls://"):
        Settings(smtp_url="http://mail.example.org")


def _adviser(session: Session) -> dict[str, str]:
    from tests.factories import bearer, make_user

    return bearer(make_user(session, role="adviser")[1])


def _aware(moment):
    from datetime import UTC

    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
