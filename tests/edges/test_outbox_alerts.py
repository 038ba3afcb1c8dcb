"""Ops alerts in the outbox: the alert kinds are allowed, and an alert is stored once per flow run (the
same alert again changes nothing, one about another run of the same date is sent as new); on both databases."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from edges import outbox
from edges.db import make_engine
from edges.transport import Outcome

DAY = dt.date(2026, 11, 24)


def alert(message_id: str, kind: str = "alert_failed", body: bytes = b"crashed") -> dict:
    return {
        "run_date": DAY,
        "staff_id": "S900",
        "kind": kind,
        "recipient": "ops@example.com",
        "subject": "alert",
        "message_id": message_id,
        "message": body,
    }


def rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.text("SELECT kind, message_id, status, attempts, message FROM outbox ORDER BY kind, id")
            )
        ]


def test_an_alert_is_stored_once_per_flow_run_and_a_new_runs_alert_replaces_it(database_url):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        outbox.upsert_alerts(
            conn, [alert("<alert_failed.run-1.S900@x>"), alert("<alert_late.run-1.S900@x>", "alert_late")]
        )
    (row_id,) = outbox.pending_ids(engine, DAY, ["alert_failed"])
    assert outbox.claim(engine, row_id, "smtp")
    outbox.record(engine, row_id, Outcome("sent"))

    # The same alert again (the automation fired twice, or the alert flow was rerun): nothing changes.
    with engine.begin() as conn:
        outbox.upsert_alerts(conn, [alert("<alert_failed.run-1.S900@x>", body=b"crashed again")])
    assert rows(engine) == [
        ("alert_failed", "<alert_failed.run-1.S900@x>", "sent", 1, b"crashed"),
        ("alert_late", "<alert_late.run-1.S900@x>", "pending", 0, b"crashed"),
    ]
    assert outbox.pending_ids(engine, DAY, ["alert_failed"]) == []

    # The rerun of the date failed too: its alert replaces the row and is pending, to be sent.
    with engine.begin() as conn:
        outbox.upsert_alerts(conn, [alert("<alert_failed.run-2.S900@x>", body=b"failed")])
    assert rows(engine)[0] == ("alert_failed", "<alert_failed.run-2.S900@x>", "pending", 0, b"failed")
    assert outbox.pending_ids(engine, DAY, ["alert_failed"]) == [row_id]
    engine.dispose()


def test_the_outbox_refuses_a_kind_that_is_not_an_email_kind(database_url):
    import pytest

    engine = make_engine(database_url)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        outbox.upsert_alerts(conn, [alert("<x@x>", kind="alert_other")])
    engine.dispose()
