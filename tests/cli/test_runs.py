"""``keqing runs``: each run's date, state, start, duration, stage timings and counts, newest first; a
run whose process died shows ``crashed``, marked by the command that looked."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from typer.testing import CliRunner

from cli.main import app
from cli.runs import format_runs
from edges.db import get_engine
from models import Run

SUMMARY = {
    "run_date": "2026-11-02",
    "stages": {"ingest": 12.34, "grading": 2.1, "supply": 3.0, "loyalty": 0.5, "render": 4.0, "deliver": 1.2},
    "ingest": {"files_new": 146, "rows_loaded": 12345, "rows_quarantined": 67},
    "grading": {"targets": 96},
    "supply": {"callbacks": {"listed": 120}},
    "render": {"emails": 16},
    "ops_email": {"emails": 1},
    "deliver": {"sent": 0, "written": 17, "failed": 0, "unknown": 0, "deferred": 0},
}
RUNS = [
    {
        "id": 3, "run_date": dt.date(2026, 11, 3), "status": "running", "host": "keqing-1", "pid": 77,
        "started_at": dt.datetime(2026, 11, 2, 17, 30), "finished_at": None, "summary": {}, "error": None,
    },
    {
        "id": 2, "run_date": dt.date(2026, 11, 2), "status": "succeeded", "host": "keqing-1", "pid": 42,
        "started_at": dt.datetime(2026, 11, 1, 17, 30), "finished_at": dt.datetime(2026, 11, 1, 17, 31, 5, 500000),
        "summary": SUMMARY, "error": None,
    },
    {
        "id": 1, "run_date": dt.date(2026, 11, 2), "status": "crashed", "host": None, "pid": None,
        "started_at": dt.datetime(2026, 11, 1, 17, 0), "finished_at": None,
        "summary": {"stages": {"ingest": 10.0}, "ingest": {"files_new": 146, "rows_loaded": 12345}},
        "error": "the run's process died without finishing (its lock was free while it said running)",
    },
]  # fmt: skip


def test_format_runs():
    now = dt.datetime(2026, 11, 2, 17, 30, 42)
    assert format_runs(RUNS, now).splitlines() == [
        "#3     2026-11-03  running    started 2026-11-03 01:30:00   42.0 s so far  keqing-1 pid 77",
        "#2     2026-11-02  succeeded  started 2026-11-02 01:30:00    1 min 05.5 s  keqing-1 pid 42",
        "       stages: ingest 12.3 s, grading 2.1 s, supply 3.0 s, loyalty 0.5 s, render 4.0 s, deliver 1.2 s",
        "       counts: 146 new file(s), 12,345 rows loaded, 67 quarantined; 96 visit targets; 120 calls; "
        "17 emails rendered, 0 sent, 17 written, 0 failed/unknown, 0 deferred",
        "#1     2026-11-02  crashed    started 2026-11-02 01:00:00               -  host unknown",
        "       stages: ingest 10.0 s",
        "       counts: 146 new file(s), 12,345 rows loaded, 0 quarantined",
        "       error: the run's process died without finishing (its lock was free while it said running)",
    ]
    assert format_runs([], now) == "no runs yet"


def test_keqing_runs_marks_a_dead_run_crashed_and_shows_the_last_n(settings):
    t = Run.__table__
    with get_engine(settings.database_url).begin() as conn:
        for day, status in ((1, "succeeded"), (2, "running"), (3, "succeeded")):
            started = dt.datetime(2026, 11, day, 1, 30)
            finished = started + dt.timedelta(seconds=60) if status != "running" else None
            conn.execute(
                sa.insert(t).values(
                    run_date=dt.date(2026, 11, day),
                    status=status,
                    summary={},
                    lock_name=f"run:2026-11-0{day}",
                    started_at=started,
                    finished_at=finished,
                )
            )
    result = CliRunner().invoke(app, ["runs", "--last", "2"])
    assert result.exit_code == 0, result.output
    assert "marked crashed (process gone, lock free): #2" in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("#")]
    assert [line.split()[:3] for line in lines] == [["#3", "2026-11-03", "succeeded"], ["#2", "2026-11-02", "crashed"]]
    again = CliRunner().invoke(app, ["runs"])
    assert "marked crashed" not in again.output and len([x for x in again.output.splitlines() if x[0] == "#"]) == 3


def test_the_run_summary_on_the_command_line_opens_with_the_calendar_and_crashed_runs():
    from cli.main import format_summary

    lines = format_summary(
        {"run_date": "2026-12-02", "calendar": {"unknown_years": [2027]}, "crashed_runs": [3, 5], "ingest": {}}
    ).splitlines()
    assert lines[:3] == [
        "run_date 2026-12-02",
        "calendar: 2027 is unknown to chinesecalendar and the rules file, planned Monday-Friday; "
        "add it under calendar.holidays in the rules file (check with `keqing calendar 2027`)",
        "earlier runs found dead (lock free, said running), now crashed: #3, #5",
    ]
    assert (
        format_summary({"run_date": "2026-11-24", "calendar": {"unknown_years": []}})
        .splitlines()[1]
        .startswith("files:")
    )
