"""The transactional outbox: one rendered email per (run_date, recipient, kind), sent at most once.

Rendering writes the complete MIME message here; the sender sends rows that are ``pending`` and
records what happened. Status:

- ``pending``: rendered, not delivered yet (also after a 4xx answer, while retries remain).
- ``sending``: claimed by a sender right before it hands the message over; a row left in this state
  by a crash becomes ``unknown`` (SMTP) or ``pending`` again (file outbox, where rewriting is safe).
- ``sent``: accepted by the SMTP server (250 after DATA) or written to the file outbox.
- ``failed``: refused with a 5xx answer; reported to ops, never retried by itself.
- ``unknown``: the message data went out but no answer came back; the server may have it, so it is
  not resent unless an operator asks (``keqing run --date D --resend``).

Personal data: ``message`` holds the whole email (names, phones of the recipient's patients) and
``recipient`` the staff member's address; both stay in the database. ``last_error`` holds the SMTP
answer or exception text, never a credential.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, DateTime, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from keqing.clock import utc_now
from keqing.kinds import EMAIL_KINDS
from models.base import Base

OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "unknown")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class OutboxMessage(Base):
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[dt.date] = mapped_column(Date)
    staff_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))  # rep | callback | home_visit | manager | ops
    recipient: Mapped[str] = mapped_column(String(254))  # envelope address
    subject: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255))
    message: Mapped[bytes] = mapped_column(LargeBinary)  # the full MIME message, CRLF line ends
    size: Mapped[int] = mapped_column(Integer)  # bytes
    status: Mapped[str] = mapped_column(String(20), default="pending")
    transport: Mapped[str | None] = mapped_column(String(10))  # smtp | file, set when claimed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # delivery attempts, all runs
    resends: Mapped[int] = mapped_column(Integer, default=0)  # times an operator asked to resend
    last_error: Mapped[str | None] = mapped_column(Text)
    rendered_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("run_date", "staff_id", "kind", name="uq_outbox_run_date_staff_kind"),
        Index("ix_outbox_run_date_status", "run_date", "status"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint(_in("kind", EMAIL_KINDS), name="kind"),
    )
