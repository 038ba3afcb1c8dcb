"""Deliver: send the outbox's pending emails over SMTP, or write them as .eml files without SMTP."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.utils import parseaddr

from edges import outbox
from edges.db import get_engine
from edges.sender import deliver
from edges.transport import FileTransport, OutboxItem, Outcome, SmtpConfig, SmtpTransport, Transport
from keqing.settings import Settings
from reports.render import DEFAULT_FROM
from tasks import IO_RETRIES, keqing_task, run_logger


def make_transport(settings: Settings) -> Transport:
    """SMTP when ``KEQING_SMTP_HOST`` is set, else the file outbox ``KEQING_OUTBOX/YYYY-MM-DD/``."""
    if not settings.smtp_enabled:
        return FileTransport(settings.outbox)
    return SmtpTransport(
        SmtpConfig(
            host=settings.smtp_host or "",
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout,
            mail_from=parseaddr(settings.mail_from or DEFAULT_FROM)[1] or DEFAULT_FROM,
            ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        )
    )


class _EngineStore:
    """The sender's view of the outbox table."""

    def __init__(self, settings: Settings) -> None:
        self.engine = get_engine(settings.database_url)

    def load(self, ids: Sequence[int]) -> list[OutboxItem]:
        return outbox.load_items(self.engine, ids)

    def claim(self, row_id: int, transport: str) -> bool:
        return outbox.claim(self.engine, row_id, transport)

    def record(self, row_id: int, outcome: Outcome) -> None:
        outbox.record(self.engine, row_id, outcome)

    def claim_many(self, row_ids: Sequence[int], transport: str) -> set[int]:
        return outbox.claim_many(self.engine, row_ids, transport)

    def record_many(self, outcomes: dict[int, Outcome]) -> None:
        outbox.record_many(self.engine, outcomes)


@keqing_task(**IO_RETRIES)
def mark_for_resend(
    settings: Settings, run_date: dt.date, staff_ids: Sequence[str] | None = None, kinds: Sequence[str] | None = None
) -> int:
    """Make run_date's emails (all, or those of ``staff_ids``) pending again, so they are sent again."""
    n = outbox.resend(get_engine(settings.database_url), run_date, staff_ids, kinds)
    run_logger().info("resend: %d email(s) of %s marked pending", n, run_date)
    return n


@keqing_task(**IO_RETRIES)
def deliver_pending(
    settings: Settings,
    run_date: dt.date,
    kinds: Sequence[str] | None = None,
    staff_ids: Sequence[str] | None = None,
) -> dict:
    """Send run_date's pending emails (of ``kinds``, default all; of ``staff_ids``, default everyone's)
    and record each outcome."""
    engine = get_engine(settings.database_url)
    interrupted = outbox.sweep_interrupted(engine, run_date, staff_ids)
    ids = outbox.pending_ids(engine, run_date, kinds, staff_ids)
    transport = make_transport(settings)
    report = deliver(
        ids,
        _EngineStore(settings),
        transport,
        max_attempts=settings.smtp_max_attempts,
        first_delay=settings.smtp_retry_delay,
        max_delay=settings.smtp_retry_delay_max,
    )
    result = report.as_dict() | {
        "pending": len(ids),
        "interrupted": interrupted,
        "first_error": report.errors[0] if report.errors else None,
    }
    log = run_logger()
    log.info(
        "delivered %s via %s: %d sent, %d written, %d failed, %d unknown, %d deferred, %d connection(s)",
        run_date,
        report.transport,
        report.sent,
        report.written,
        report.failed,
        report.unknown,
        report.deferred,
        report.connections,
    )
    for error in report.errors[:10]:
        log.warning("delivery problem: %s", error)
    return result


@keqing_task(**IO_RETRIES)
def outbox_status(settings: Settings, run_date: dt.date) -> dict[str, int]:
    """How many of run_date's emails are in each status (all runs so far)."""
    return outbox.status_counts(get_engine(settings.database_url), run_date)


class DeliveryFailed(RuntimeError):
    """No email of the run could be written or sent."""


def delivery_failure(deliver: dict, run_date: dt.date) -> str | None:
    """Why the run's delivery failed, or None: there were emails to deliver and not one was sent or
    written (outbox folder not writable, SMTP server unusable for every message)."""
    delivered = deliver.get("sent", 0) + deliver.get("written", 0)
    undelivered = sum(deliver.get(k, 0) for k in ("failed", "unknown", "deferred"))
    if delivered or not undelivered:
        return None
    where = "written to the outbox folder" if deliver.get("transport") == "file" else "sent over SMTP"
    return (
        f"no email could be {where}: {undelivered} email(s) not delivered (first error: "
        f"{deliver.get('first_error') or 'none recorded'}). They stay in the outbox; fix the cause and "
        f"rerun `keqing run --date {run_date}`, which delivers each of them once."
    )


@keqing_task
def check_delivered(deliver: dict, run_date: dt.date) -> None:
    """Fail the run when no email could be delivered (``delivery_failure``)."""
    reason = delivery_failure(deliver, run_date)
    if reason:
        raise DeliveryFailed(reason)
