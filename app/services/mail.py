"""E-mail: queued in the caller's transaction, sent after it commits, never inside a request.

``queue_mail`` adds a row to the outbox table in the caller's transaction, so a message goes out
only when what it tells about is stored (and never when that rolls back). The rows are sent by
``send_due``: from the web app's background sender (one thread per process, woken by every commit
that queued mail and every ``POLL_SECONDS`` for retries and for mail queued elsewhere) and from
``koppelkans mail send`` (cron, or after a command line job). Several processes may send at once:
each claims a row with one conditional UPDATE before sending it, so a message goes out once.

Without ``KOPPELKANS_SMTP_URL`` a message becomes an ``.eml`` file in ``<data_dir>/outbox/``. A
failed try is retried with a growing delay; once sent or given up, the row keeps no address,
subject or body. Logs name a message by its id, purpose and company id, never by its address.
"""

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import ColumnElement, event, or_, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.core.config import Settings, get_settings
from app.core.db import new_session
from app.domain import MailStatus
from app.models import OutboxMail, utcnow
from app.services.mail_transport import PermanentFailure, Transport, transport_for

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 6 * 3600
CLAIM_SECONDS = 300  # a sender that died while sending lets go of its message after this
POLL_SECONDS = 30.0
MIN_WAIT_SECONDS = 0.5  # between rounds, so a message that cannot be claimed is not asked for in a tight loop
BATCH = 50
_QUEUED_FLAG = "koppelkans_mail_queued"


def queue_mail(
    session: Session, *, to: str, subject: str, body: str, purpose: str, company_id: int | None = None
) -> None:
    """Adds a message to the outbox in the caller's transaction; nothing is sent before it commits."""
    session.add(OutboxMail(purpose=purpose, company_id=company_id, to_address=to, subject=subject, body=body))
    session.info[_QUEUED_FLAG] = True


@event.listens_for(OrmSession, "after_commit")
def _wake_sender_after_commit(session: OrmSession) -> None:
    if session.info.pop(_QUEUED_FLAG, False):
        sender.wake()


@event.listens_for(OrmSession, "after_rollback")
def _forget_rolled_back_mail(session: OrmSession) -> None:
    session.info.pop(_QUEUED_FLAG, None)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    given_up: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retried} to try again later, {self.given_up} given up"


def send_due(*, settings: Settings | None = None, now: datetime | None = None, limit: int = 1000) -> SendReport:
    """Sends every message that is due (at most ``limit``), each claimed first; returns the counts."""
    settings = settings or get_settings()
    report = SendReport()
    transport = transport_for(settings.smtp_url, settings.outbox_dir)
    try:
        while limit > 0:
            moment = now or utcnow()
            due = _due_ids(moment, min(BATCH, limit))
            if not due:
                break
            for mail_id in due:
                limit -= 1
                if _claim(mail_id, moment):
                    _send_one(mail_id, transport, settings, report, moment)
            if len(due) < BATCH:
                break
    finally:
        transport.close()
    return report


def next_due(now: datetime | None = None) -> datetime | None:
    """When the next queued message is due (None: nothing is queued)."""
    with new_session() as session:
        found = session.exec(
            select(OutboxMail.next_attempt_at).where(OutboxMail.status == MailStatus.queued)
            .order_by(col(OutboxMail.next_attempt_at)).limit(1)
        ).first()
    return found


def _due(moment: datetime) -> ColumnElement[bool]:
    return or_(
        (col(OutboxMail.status) == MailStatus.queued) & (col(OutboxMail.next_attempt_at) <= moment),
        (col(OutboxMail.status) == MailStatus.sending) & (col(OutboxMail.claimed_until) < moment),
    )


def _due_ids(moment: datetime, limit: int) -> list[int]:
    with new_session() as session:
        found = session.exec(select(OutboxMail.id).where(_due(moment)).order_by(col(OutboxMail.id)).limit(limit))
        return [mail_id for mail_id in found if mail_id is not None]


def _claim(mail_id: int, moment: datetime) -> bool:
    """Marks the message as being sent by this sender; False when another one was first."""
    with new_session() as session:
        claimed = session.connection().execute(
            update(OutboxMail)
            .where(col(OutboxMail.id) == mail_id, _due(moment))
            .values(status=MailStatus.sending, claimed_until=moment + timedelta(seconds=CLAIM_SECONDS),
                    attempts=col(OutboxMail.attempts) + 1)
        ).rowcount
        session.commit()
    return claimed == 1


def _send_one(mail_id: int, transport: Transport, settings: Settings, report: SendReport, moment: datetime) -> None:
    with new_session() as session:
        mail = session.get(OutboxMail, mail_id)
        if mail is None:  # the company was erased meanwhile
            return
        stem = file_stem(mail)
        try:
            transport.send(compose(mail, settings), file_stem=stem)
        except Exception as error:
            _record_failure(session, mail, error, report, moment)
        else:
            _forget_content(mail, MailStatus.sent)
            mail.sent_at = utcnow()
            report.sent += 1
        session.add(mail)
        session.commit()


def _record_failure(session: Session, mail: OutboxMail, error: Exception, report: SendReport,
                    moment: datetime) -> None:
    # The error's kind and code only: a server's message may quote the address.
    reason = str(error) if isinstance(error, PermanentFailure) else type(error).__name__
    mail.last_error = reason[:200]
    if isinstance(error, PermanentFailure) or mail.attempts >= MAX_ATTEMPTS:
        _forget_content(mail, MailStatus.failed)
        report.given_up += 1
        logger.error("mail %d (%s, company %s) given up after %d tries: %s",
                     mail.id, mail.purpose, mail.company_id, mail.attempts, mail.last_error)
        return
    delay = min(FIRST_RETRY_SECONDS * 2 ** (mail.attempts - 1), LONGEST_RETRY_SECONDS)
    mail.status = MailStatus.queued
    mail.claimed_until = None
    mail.next_attempt_at = moment + timedelta(seconds=delay)
    report.retried += 1
    logger.warning("mail %d (%s, company %s): try %d failed (%s), next try in %d s",
                   mail.id, mail.purpose, mail.company_id, mail.attempts, mail.last_error, delay)


def _forget_content(mail: OutboxMail, status: MailStatus) -> None:
    mail.status = status
    mail.claimed_until = None
    mail.to_address = mail.subject = mail.body = ""


def file_stem(mail: OutboxMail) -> str:
    """The message's name in logs and in the outbox folder: when, which message, which company, why."""
    company = f"company{mail.company_id}" if mail.company_id is not None else "nocompany"
    return f"{mail.created_at:%Y%m%dT%H%M%S%f}-mail{mail.id:09d}-{company}-{mail.purpose}"


def compose(mail: OutboxMail, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to_address
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(idstring=f"mail{mail.id}", domain="koppelkans.invalid")
    message.set_content(mail.body)
    return message


def forget_company_files(company_id: int, settings: Settings | None = None) -> int:
    """Deletes the erased company's messages from the outbox folder; returns how many."""
    folder = (settings or get_settings()).outbox_dir
    removed = 0
    for path in folder.glob(f"*-company{company_id}-*.eml") if folder.is_dir() else ():
        path.unlink(missing_ok=True)
        removed += 1
    return removed


class MailSender:
    """The process's one background sender: a thread that sends due mail when woken and every
    ``POLL_SECONDS``. Started and stopped by the web app's lifespan (counted, so several apps in
    one process share it)."""

    def __init__(self, poll_seconds: float = POLL_SECONDS) -> None:
        self.poll_seconds = poll_seconds
        self._woken = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._users = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self._users += 1
            if self._thread is None:
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name="mail-sender", daemon=True)
                self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users or self._thread is None:
                return
            thread, self._thread = self._thread, None
            self._stopping.set()
            self._woken.set()
        thread.join(timeout)

    def wake(self) -> None:
        self._woken.set()

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._woken.wait(self._wait_seconds())
            self._woken.clear()
            if self._stopping.is_set():
                break
            try:
                send_due()
            except Exception:  # the database is away or not migrated yet: the next round tries again
                logger.exception("sending queued mail failed; trying again in %.0f s", self.poll_seconds)

    def _wait_seconds(self) -> float:
        try:
            due = next_due()
        except Exception:
            return self.poll_seconds
        if due is None:
            return self.poll_seconds
        waiting = (_aware(due) - utcnow()).total_seconds()
        return min(self.poll_seconds, max(MIN_WAIT_SECONDS, waiting))


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every one is stored in UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


sender = MailSender()


def outbox_files(settings: Settings | None = None) -> list[Path]:
    """The messages in the outbox folder, oldest first; a file still being written (a hidden
    temporary name until its rename) is not one yet."""
    folder = (settings or get_settings()).outbox_dir
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.glob("*.eml") if not path.name.startswith("."))
