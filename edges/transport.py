"""Where an outbox message goes: an SMTP server, or ``.eml`` files when no SMTP host is set.

A transport turns one send into an ``Outcome``:

- ``sent``: the server answered 250 to the message data (or the file was written);
- ``retry``: a 4xx answer, or the connection failed before the message data went out;
- ``failed``: a 5xx answer (also to the login): not retried;
- ``unknown``: the message data went out but no answer came (timeout, dropped connection): the
  server may have it, so it is never resent automatically.

The SMTP transport keeps one connection open for many messages and reconnects when it has to. The
password is only handed to ``login``; no outcome, log line or exception text carries it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import quote

OutcomeStatus = Literal["sent", "retry", "failed", "unknown"]
MAX_DETAIL = 500


@dataclass(frozen=True, slots=True)
class Outcome:
    status: OutcomeStatus
    detail: str | None = None  # the server's answer or the error, for last_error
    connection: bool = False  # the failure was connecting or logging in: it applies to every message


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """What a transport needs of an outbox row."""

    id: int
    run_date: dt.date
    staff_id: str
    kind: str
    recipient: str
    message: bytes


class Transport(Protocol):
    name: str  # smtp | file
    connections: int
    batched: bool  # sending twice is harmless, so rows may be claimed and recorded in batches

    def send(self, item: OutboxItem) -> Outcome: ...

    def flush(self) -> None:
        """Make what ``send`` did durable (before the outcomes are recorded)."""

    def close(self) -> None: ...


def _detail(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text[:MAX_DETAIL]


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}"


def classify(code: int, message: bytes | str, *, after_data: bool = False) -> Outcome:
    """An SMTP answer as an outcome: 2xx sent (only meaningful after data), 4xx retry, 5xx failed."""
    reply = _reply(code, message)
    if 200 <= code < 300:
        return Outcome("sent", reply)
    if 400 <= code < 500:
        return Outcome("retry", reply)
    if 500 <= code < 600:
        return Outcome("failed", reply)
    # A garbled answer: after the data the server may have the message, before it nothing happened.
    return Outcome("unknown" if after_data else "retry", reply)


class _TrackedSMTP(smtplib.SMTP):
    """smtplib.SMTP that remembers whether the message data has been handed to the socket."""

    data_sent = False

    def data(self, msg: bytes) -> tuple[int, bytes]:  # type: ignore[override]
        self.data_sent = False
        self.putcmd("data")
        code, repl = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        quoted = re.sub(rb"(?m)^\.", b"..", msg)
        if not quoted.endswith(b"\r\n"):
            quoted += b"\r\n"
        self.send(quoted + b".\r\n")
        self.data_sent = True
        return self.getreply()


class _TrackedSMTPSSL(smtplib.SMTP_SSL, _TrackedSMTP):
    pass


@dataclass
class SmtpConfig:
    host: str
    port: int | None
    security: Literal["none", "starttls", "ssl"]
    user: str | None
    password: str | None
    timeout: float
    mail_from: str  # envelope sender (bare address)
    ca_file: str | None = None


class SmtpTransport:
    """One reused SMTP connection for many messages."""

    name = "smtp"
    batched = False

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.connections = 0
        self._smtp: _TrackedSMTP | None = None

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.config.ca_file)

    def _connect(self) -> _TrackedSMTP:
        c = self.config
        if c.security == "ssl":
            smtp: _TrackedSMTP = _TrackedSMTPSSL(c.host, c.port or 465, timeout=c.timeout, context=self._context())
        else:
            smtp = _TrackedSMTP(c.host, c.port or (587 if c.security == "starttls" else 25), timeout=c.timeout)
        self.connections += 1
        try:
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if c.user:
                smtp.login(c.user, c.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None

    def _reset(self) -> None:
        """Abort the current transaction after a refusal, so the connection can carry the next message."""
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def send(self, item: OutboxItem) -> Outcome:
        secrets = (self.config.password or "",)
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except smtplib.SMTPResponseException as exc:  # e.g. 535 to the login, 421 on connect
                answer = classify(exc.smtp_code, exc.smtp_error)
                return Outcome(answer.status, _detail(f"connecting: {answer.detail}", secrets), connection=True)
            except (smtplib.SMTPException, OSError) as exc:
                detail = _detail(f"connection failed: {type(exc).__name__}: {exc}", secrets)
                return Outcome("retry", detail, connection=True)
        smtp = self._smtp
        smtp.data_sent = False
        try:
            code, reply = smtp.mail(self.config.mail_from)
            if code != 250:
                self._reset()
                return classify(code, reply)
            code, reply = smtp.rcpt(item.recipient)
            if code not in (250, 251):
                self._reset()
                return classify(code, reply)
            code, reply = smtp.data(item.message)
        except smtplib.SMTPResponseException as exc:  # an answer other than 354 to DATA
            self._reset()
            return classify(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:  # timeout or dropped connection
            after_data = smtp.data_sent
            self._drop()
            what = "no answer after the message data" if after_data else "connection lost"
            detail = _detail(f"{what}: {type(exc).__name__}: {exc}", secrets)
            return Outcome("unknown" if after_data else "retry", detail)
        outcome = classify(code, reply, after_data=True)
        if outcome.status != "sent":
            self._reset()
        return outcome

    def flush(self) -> None:
        return None

    def close(self) -> None:
        if self._smtp is None:
            return
        with contextlib.suppress(smtplib.SMTPException, OSError):
            self._smtp.quit()
        self._smtp = None


def eml_name(item: OutboxItem) -> str:
    """A stable file name per outbox row: ``<kind>-<staff_id>.eml``, the id percent-encoded if needed."""
    return f"{item.kind}-{quote(item.staff_id, safe='')}.eml"


class FileTransport:
    """Writes each message to ``<root>/YYYY-MM-DD/<kind>-<staff_id>.eml`` atomically.

    Each file is written under a temporary name and renamed; ``flush`` syncs the batch to disk once
    (one ``sync`` per batch instead of an ``fsync`` per file) before the sender records it. A process
    killed while writing leaves at most a hidden ``.<name>.eml.<random>.tmp`` file, never an
    incomplete ``.eml``: whatever picks up ``*.eml`` files sees whole messages only.
    """

    name = "file"
    batched = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.connections = 0

    def path_for(self, item: OutboxItem) -> Path:
        return self.root / item.run_date.isoformat() / eml_name(item)

    def send(self, item: OutboxItem) -> Outcome:
        path = self.path_for(item)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(item.message)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            return Outcome("retry", _detail(f"cannot write {path}: {exc}"))
        return Outcome("sent", str(path))

    def flush(self) -> None:
        os.sync()

    def close(self) -> None:
        return None
