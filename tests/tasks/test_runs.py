"""The runs table's bookkeeping: a run whose process died is marked crashed by whoever looks next, and
the ops email names it once."""

from __future__ import annotations

import datetime as dt
import os
import socket

import sqlalchemy as sa

from edges.db import get_engine
from edges.locks import held
from models import Run
from tasks.runs import crashes_to_report, mark_crashed, recent_runs, record_progress, start_run

NOV = dt.date(2026, 11, 2)


def _insert(database_url: str, run_date: dt.date, status: str = "running", lock_name: str | None = None) -> int:
    with get_engine(database_url).begin() as conn:
        return conn.execute(
            sa.insert(Run.__table__)
            .values(run_date=run_date, status=status, summary={}, lock_name=lock_name, host="h1", pid=1)
            .returning(Run.__table__.c.id)
        ).scalar_one()


def _statuses(database_url: str) -> dict[int, str]:
    t = Run.__table__
    with get_engine(database_url).connect() as conn:
        return dict(conn.execute(sa.select(t.c.id, t.c.status).order_by(t.c.id)).all())


def test_a_run_row_records_its_host_pid_and_lock(settings):
    run_id = start_run.fn(settings, NOV, None, "run:2026-11-02")
    (row,) = recent_runs(settings.database_url, 5)
    assert (row["id"], row["status"], row["host"], row["pid"], row["lock_name"]) == (
        run_id,
        "running",
        socket.gethostname(),
        os.getpid(),
        "run:2026-11-02",
    )
    record_progress(settings, run_id, {"stages": {"ingest": 1.5}})
    assert recent_runs(settings.database_url, 1)[0]["summary"] == {"stages": {"ingest": 1.5}}


def test_running_with_its_lock_free_is_crashed_and_with_its_lock_held_is_alive(settings):
    url = settings.database_url
    dead = _insert(url, NOV, lock_name="run:2026-11-02")
    alive = _insert(url, NOV + dt.timedelta(days=1), lock_name="run:2026-11-03")
    old_row = _insert(url, NOV + dt.timedelta(days=2))  # before migration 0009: no lock name, the date's lock
    done = _insert(url, NOV, status="succeeded", lock_name="run:2026-11-02")
    with held(url, "run:2026-11-03"):  # another holder (another connection, or another open file)
        assert mark_crashed(url) == [dead, old_row]
    assert _statuses(url) == {dead: "crashed", alive: "running", old_row: "crashed", done: "succeeded"}
    # Once that holder has gone, the next look finds it dead too.
    assert mark_crashed(url) == [alive]
    assert mark_crashed(url) == []


def test_a_run_holding_the_dates_lock_marks_the_dates_other_running_rows_and_not_its_own(settings):
    url = settings.database_url
    earlier = _insert(url, NOV, lock_name="run:2026-11-02")
    with held(url, "run:2026-11-02"):
        own = _insert(url, NOV, lock_name="run:2026-11-02")
        assert mark_crashed(url, holding="run:2026-11-02", own_run_id=own) == [earlier]
    assert _statuses(url) == {earlier: "crashed", own: "running"}


def test_the_ops_email_names_a_crashed_run_once_and_again_on_a_rerun_of_its_date(settings):
    url, engine = settings.database_url, get_engine(settings.database_url)
    first = _insert(url, NOV)
    mark_crashed(url)
    named = crashes_to_report(engine, NOV + dt.timedelta(days=1))
    assert [(r["run_id"], r["run_date"], r["host"], r["pid"]) for r in named] == [(first, NOV, "h1", 1)]
    assert [r["run_id"] for r in crashes_to_report(engine, NOV + dt.timedelta(days=1))] == [first]  # a rerun
    assert crashes_to_report(engine, NOV + dt.timedelta(days=2)) == []  # the next night: already reported
    second = _insert(url, NOV + dt.timedelta(days=2))
    mark_crashed(url)
    assert [r["run_id"] for r in crashes_to_report(engine, NOV + dt.timedelta(days=3))] == [second]


def test_the_calendar_check_names_the_years_of_the_horizon_nobody_knows():
    from keqing.rules import Rules, rules_from_mapping
    from tasks.runs import calendar_check

    # 2 December 2026 plans December and January: 2027 is unknown to chinesecalendar 1.11.
    assert calendar_check.fn(Rules(), dt.date(2026, 12, 2)) == {
        "unknown_years": [2027],
        "rules_key": "calendar.holidays",
    }
    assert calendar_check.fn(Rules(), dt.date(2026, 11, 30))["unknown_years"] == []
    with_2027 = rules_from_mapping(
        {"calendar": {"holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-01"}]}}
    )
    assert calendar_check.fn(with_2027, dt.date(2026, 12, 2))["unknown_years"] == []
