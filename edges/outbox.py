"""Statements on the outbox table, each its own short transaction (SQLite and PostgreSQL).

The life of a row: rendering inserts it ``pending`` (a rerun replaces a row that is still pending,
and leaves every other row alone); the sender ``claim``s it (``sending``, one more attempt,
committed before a byte goes out), hands it over, and ``record``s the outcome; ``resend`` is the
only way back to ``pending`` for a row that was sent, failed or is unknown.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from edges.db import dialect_insert
from edges.transport import OutboxItem, Outcome
from keqing.clock import utc_now
from models import OutboxMessage

T = OutboxMessage.__table__
RECORDED = {"sent": "sent", "retry": "pending", "failed": "failed", "unknown": "unknown"}


def _scope(query, run_date: dt.date, kinds: Sequence[str] | None, staff_ids: Sequence[str] | None = None):
    query = query.where(T.c.run_date == run_date)
    if kinds is not None:
        query = query.where(T.c.kind.in_(list(kinds)))
    if staff_ids is not None:
        query = query.where(T.c.staff_id.in_(list(staff_ids)))
    return query


def existing_statuses(conn: Connection, run_date: dt.date, kinds: Sequence[str] | None = None) -> dict:
    """{(staff_id, kind): status} of the date's rows."""
    rows = conn.execute(_scope(sa.select(T.c.staff_id, T.c.kind, T.c.status), run_date, kinds))
    return {(r.staff_id, r.kind): r.status for r in rows}


def upsert_rendered(conn: Connection, rows: list[dict], chunk: int = 500) -> None:
    """Insert rendered messages; a row already there is replaced only while it is still ``pending``.

    ``rows``: dicts with run_date, staff_id, kind, recipient, subject, message_id, message.
    """
    now = utc_now()
    for start in range(0, len(rows), chunk):
        fresh = {"status": "pending", "attempts": 0, "resends": 0, "rendered_at": now, "updated_at": now}
        batch = [{**r, "size": len(r["message"]), **fresh} for r in rows[start : start + chunk]]
        stmt = dialect_insert(conn, T)
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.run_date, T.c.staff_id, T.c.kind],
            set_={
                "recipient": excluded.recipient,
                "subject": excluded.subject,
                "message_id": excluded.message_id,
                "message": excluded.message,
                "size": excluded.size,
                "rendered_at": excluded.rendered_at,
                "updated_at": excluded.updated_at,
            },
            where=T.c.status == "pending",
        )
        conn.execute(stmt, batch)


def upsert_alerts(conn: Connection, rows: list[dict]) -> None:
    """Insert rendered ops alerts (``rows`` as for ``upsert_rendered``), one statement.

    An alert's ``message_id`` names the flow run it is about: the same alert again (an automation
    firing twice, the alert flow rerun) changes nothing once it went out, while an alert about
    another flow run of the same date and kind (a rerun that failed too) replaces the row and is
    sent, as new.
    """
    if not rows:
        return
    now = utc_now()
    fresh = {"status": "pending", "attempts": 0, "resends": 0, "rendered_at": now, "updated_at": now}
    stmt = dialect_insert(conn, T)
    excluded = stmt.excluded
    stmt = stmt.on_conflict_do_update(
        index_elements=[T.c.run_date, T.c.staff_id, T.c.kind],
        set_={
            **{c: excluded[c] for c in ("recipient", "subject", "message_id", "message", "size")},
            **{c: excluded[c] for c in ("status", "attempts", "rendered_at", "updated_at")},
            "transport": None,
            "last_error": None,
            "sent_at": None,
        },
        where=sa.or_(T.c.message_id != excluded.message_id, T.c.status == "pending"),
    )
    conn.execute(stmt, [{**r, "size": len(r["message"]), **fresh} for r in rows])


def sweep_interrupted(engine: Engine, run_date: dt.date, staff_ids: Sequence[str] | None = None) -> int:
    """Rows a crashed sender left ``sending``: ``unknown`` over SMTP (the server may have the message),
    ``pending`` again for the file outbox (rewriting the same file is harmless). Returns the count.

    With ``staff_ids`` (one region of a fan-out) only their rows: another region's sender may be
    sending its own rows at this very moment."""
    with engine.begin() as conn:
        base = _scope(sa.update(T), run_date, None, staff_ids).where(T.c.status == "sending")
        n = conn.execute(
            base.where(T.c.transport == "smtp").values(
                status="unknown",
                last_error="the sender stopped while sending; the server may have the message",
                updated_at=utc_now(),
            )
        ).rowcount
        n += conn.execute(base.where(T.c.transport != "smtp").values(status="pending", updated_at=utc_now())).rowcount
    return n


def pending_ids(
    engine: Engine, run_date: dt.date, kinds: Sequence[str] | None = None, staff_ids: Sequence[str] | None = None
) -> list[int]:
    with engine.connect() as conn:
        query = _scope(sa.select(T.c.id), run_date, kinds, staff_ids).where(T.c.status == "pending").order_by(T.c.id)
        return list(conn.execute(query).scalars())


def load_items(engine: Engine, ids: Iterable[int]) -> list[OutboxItem]:
    ids = list(ids)
    if not ids:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(T.c.id, T.c.run_date, T.c.staff_id, T.c.kind, T.c.recipient, T.c.message)
            .where(T.c.id.in_(ids))
            .order_by(T.c.id)
        )
        return [OutboxItem(r.id, r.run_date, r.staff_id, r.kind, r.recipient, bytes(r.message)) for r in rows]


def claim(engine: Engine, row_id: int, transport: str) -> bool:
    """Mark a pending row ``sending`` (one more attempt) and commit, before anything is sent.

    False when the row is no longer pending (another sender took it, or an operator changed it).
    """
    with engine.begin() as conn:
        result = conn.execute(
            sa.update(T)
            .where(T.c.id == row_id, T.c.status == "pending")
            .values(status="sending", transport=transport, attempts=T.c.attempts + 1, updated_at=utc_now())
        )
        return result.rowcount == 1


def claim_many(engine: Engine, row_ids: Sequence[int], transport: str) -> set[int]:
    """``claim`` for a batch, in one transaction; returns the ids claimed."""
    if not row_ids:
        return set()
    with engine.begin() as conn:
        pending = set(
            conn.execute(sa.select(T.c.id).where(T.c.id.in_(list(row_ids)), T.c.status == "pending")).scalars()
        )
        if pending:
            conn.execute(
                sa.update(T)
                .where(T.c.id.in_(sorted(pending)), T.c.status == "pending")
                .values(status="sending", transport=transport, attempts=T.c.attempts + 1, updated_at=utc_now())
            )
        return pending


def _recorded(outcome: Outcome, now: dt.datetime) -> dict:
    values: dict = {"status": RECORDED[outcome.status], "updated_at": now, "last_error": outcome.detail}
    if outcome.status == "sent":
        values |= {"sent_at": now, "last_error": None}
    return values


def record(engine: Engine, row_id: int, outcome: Outcome) -> None:
    """Store a claimed row's outcome (``retry`` puts it back to ``pending`` with the error)."""
    with engine.begin() as conn:
        values = _recorded(outcome, utc_now())
        conn.execute(sa.update(T).where(T.c.id == row_id, T.c.status == "sending").values(**values))


def record_many(engine: Engine, outcomes: dict[int, Outcome]) -> None:
    """``record`` for a batch, in one transaction: one statement per distinct outcome."""
    groups: dict[tuple[str, str | None], list[int]] = {}
    for row_id, outcome in outcomes.items():
        detail = None if outcome.status == "sent" else outcome.detail
        groups.setdefault((outcome.status, detail), []).append(row_id)
    now = utc_now()
    with engine.begin() as conn:
        for (status, detail), ids in groups.items():
            values = _recorded(Outcome(status, detail), now)  # type: ignore[arg-type]
            conn.execute(sa.update(T).where(T.c.id.in_(ids), T.c.status == "sending").values(**values))


def resend(
    engine: Engine,
    run_date: dt.date,
    staff_ids: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> int:
    """Make the date's rows (all, or those of ``staff_ids`` / ``kinds``) pending again; returns how many.

    The only way a message that was sent, failed or is unknown goes out again.
    """
    with engine.begin() as conn:
        stmt = _scope(sa.update(T), run_date, kinds, staff_ids).values(
            status="pending", resends=T.c.resends + 1, last_error=None, updated_at=utc_now()
        )
        return conn.execute(stmt).rowcount


def status_counts(engine: Engine, run_date: dt.date) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(T.c.status, sa.func.count()).where(T.c.run_date == run_date).group_by(T.c.status))
        return {status: n for status, n in rows}


def problems(engine: Engine, run_date: dt.date, kinds: Sequence[str] | None = None) -> list[dict]:
    """Rows that did not go out: failed, unknown, or pending with an error (retries used up)."""
    query = _scope(sa.select(T.c.staff_id, T.c.kind, T.c.status, T.c.last_error, T.c.attempts), run_date, kinds).where(
        sa.or_(T.c.status.in_(["failed", "unknown"]), sa.and_(T.c.status == "pending", T.c.attempts > 0))
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(T.c.kind, T.c.staff_id))]
