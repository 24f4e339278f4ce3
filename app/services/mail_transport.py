"""How a message leaves: through an SMTP server (``KOPPELKANS_SMTP_URL``) or as an ``.eml`` file in
the outbox folder. Nothing here logs or returns an address."""

import logging
import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

logger = logging.getLogger("app.services.mail")

SMTP_TIMEOUT_SECONDS = 30
DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class PermanentFailure(Exception):
    """The server refused the message for good (5xx): trying again gives the same answer."""


class Transport(Protocol):
    def send(self, message: EmailMessage, *, file_stem: str) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpServer:
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> "SmtpServer":
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError("KOPPELKANS_SMTP_URL must look like smtp+starttls://user:password@host:587")
        return cls(
            scheme=parts.scheme,
            host=parts.hostname,
            port=parts.port or DEFAULT_PORTS[parts.scheme],
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


class SmtpTransport:
    """One connection for a run of messages, opened on the first and reopened after a failure."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self._connection: smtplib.SMTP | None = None

    def send(self, message: EmailMessage, *, file_stem: str) -> None:
        connection = self._connect()
        try:
            refused = connection.send_message(message)
        except smtplib.SMTPResponseException as error:
            self.close()
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(f"{type(error).__name__} {error.smtp_code}") from None
            raise
        except smtplib.SMTPRecipientsRefused as error:
            codes = sorted({code for code, _ in error.recipients.values()})
            if codes and all(500 <= code < 600 for code in codes):
                raise PermanentFailure(f"recipient refused {codes[0]}") from None
            raise
        except (smtplib.SMTPException, OSError):
            self.close()
            raise
        if refused:  # some recipients refused: with one recipient per message this does not happen
            raise PermanentFailure("recipient refused")
        logger.info("%s sent through %s:%d", file_stem, self.server.host, self.server.port)

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        server = self.server
        connection: smtplib.SMTP
        if server.scheme == "smtps":
            connection = smtplib.SMTP_SSL(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS,
                                          context=ssl.create_default_context())
        else:
            connection = smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            if server.scheme == "smtp+starttls":
                connection.starttls(context=ssl.create_default_context())
            if server.username:
                connection.login(server.username, server.password or "")
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.quit()
            except (smtplib.SMTPException, OSError):
                self._connection.close()
            self._connection = None


class OutboxFolder:
    """Writes each message to ``<folder>/<file_stem>.eml`` (readable by its owner only), whole or not at all."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage, *, file_stem: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{file_stem}.eml"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".writing-", suffix=".eml")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(message.as_bytes())
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        logger.info("mail written to %s", target)

    def close(self) -> None:
        return None


def transport_for(smtp_url: str, outbox_dir: Path) -> Transport:
    if smtp_url:
        return SmtpTransport(SmtpServer.from_url(smtp_url))
    return OutboxFolder(outbox_dir)
