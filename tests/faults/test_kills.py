"""SIGKILL of `keqing run` in the middle of a load, at each stage boundary and in the middle of sending,
and an outbox folder that cannot be written: every later attempt picks up what the one before left,
and the night ends in the state of an undisturbed one, each email written once. A killed run shows
``crashed`` in ``keqing runs`` and the next ops email names it, once."""

from __future__ import annotations

import datetime as dt
import email
import re
from email import policy

import pytest

from tests.faults.conftest import RUN_DATE
from tests.faults.process import KILLED, keqing
from tests.faults.snapshot import differences

pytestmark = pytest.mark.e2e

STAFF_EMAILS = 16  # tiny on 2026-11-02: 9 reps, 3 callback nurses, 4 managers (no home visit falls that day)
FILES = 146  # tiny's inbox files (146 written by the generator, besides manifest.json)


def by(night, table: str, column: str) -> dict[str, int]:
    return dict(night.query(f"SELECT {column}, count(*) FROM {table} GROUP BY {column}"))


def count(night, table: str) -> int:
    return night.query(f"SELECT count(*) FROM {table}")[0][0]


def eml_files(night) -> dict[str, bytes]:
    folder = night.outbox / RUN_DATE.isoformat()
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def test_a_night_killed_at_every_step_in_turn_ends_as_an_undisturbed_night(night, reference, tmp_path):
    """Eleven attempts at one night, each starting from what the one before left: nine are killed
    with SIGKILL one step further on, one finds the outbox folder unwritable, the last finishes."""
    ref = {name: len(rows) for name, rows in reference.tables.items()}
    # A retried write is tried again 0.1 s later (not 5 s), twice at most: the same, only faster.
    night.env = {"KEQING_SMTP_MAX_ATTEMPTS": "2", "KEQING_SMTP_RETRY_DELAY": "0.1"}

    assert night.run(failpoint="load:visits:after_upsert=kill") == KILLED, night.log()
    # The visits load was one transaction: none of it is there, its files and those after are to do.
    assert count(night, "visits") == 0
    assert count(night, "patients") == ref["patients"] == 599  # 600 rows loaded, one of them an update
    pending = {feed: n for feed, status, n in night.query(FILES_BY_STATUS) if status == "pending"}
    assert pending == {"visits": 18, "consults": 30, "orders": 21, "rx_monthly": 1}

    assert night.run(failpoint="stage:ingest:done=kill") == KILLED, night.log()
    assert by(night, "ingest_files", "status") == {"done": FILES}
    assert count(night, "visits") == ref["visits"] == 3713
    assert count(night, "customer_grades") == 0

    assert night.run(failpoint="stage:loyalty:done=kill") == KILLED, night.log()
    assert count(night, "points_ledger") == ref["points_ledger"] == 43
    assert count(night, "customer_grades") == 0

    assert night.run(failpoint="stage:grading:done=kill") == KILLED, night.log()
    assert count(night, "customer_grades") == ref["customer_grades"] == 150
    assert count(night, "callback_list") == 0

    assert night.run(failpoint="stage:supply:done=kill") == KILLED, night.log()
    assert count(night, "callback_list") == ref["callback_list"] == 120
    assert count(night, "outbox") == 0

    assert night.run(failpoint="stage:render:done=kill") == KILLED, night.log()
    assert by(night, "outbox", "status") == {"pending": STAFF_EMAILS}
    assert eml_files(night) == {}

    # The outbox folder cannot be created (its parent is a file; root ignores permissions, so no chmod):
    # the run fails (exit 1) saying why, with every email still pending and none marked sent.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    assert night.run(keqing_outbox=str(blocker / "outbox")) == 1, night.log()
    assert "no email could be written to the outbox folder: 17 email(s) not delivered" in night.log()
    assert by(night, "outbox", "status") == {"pending": STAFF_EMAILS + 1}
    errors = night.query("SELECT DISTINCT substr(last_error, 1, 14) FROM outbox")
    assert errors == [("cannot write /",)]

    # The path works again. The file sender claims a batch, writes each file (temporary name, then
    # rename) and records the batch once it is synced to disk; killed after the third file.
    assert night.run(failpoint="deliver:sent@3=kill") == KILLED, night.log()
    assert by(night, "outbox", "status") == {"sending": STAFF_EMAILS, "pending": 1}  # ops: not yet
    written = eml_files(night)
    assert len(written) == 3  # whole files only: no temporary file is left behind

    assert night.run(failpoint="stage:deliver:done=kill") == KILLED, night.log()
    assert by(night, "outbox", "status") == {"sent": STAFF_EMAILS, "pending": 1}
    assert len(eml_files(night)) == STAFF_EMAILS
    # The killed sender's rows were made pending again and their files written again from the same
    # rows: the same bytes (Date and Message-ID included), so a reader never sees two versions.
    assert {name: eml_files(night)[name] for name in written} == written

    assert night.run(failpoint="stage:ops_email:done=kill") == KILLED, night.log()
    assert by(night, "outbox", "kind") == {"rep": 9, "callback": 3, "manager": 4, "ops": 1}
    assert by(night, "outbox", "status") == {"sent": STAFF_EMAILS + 1}
    assert len(eml_files(night)) == STAFF_EMAILS + 1

    assert night.run() == 0, night.log()
    assert differences(night.snapshot(), reference) == []
    # Each killed attempt was found dead (its lock free) by the next attempt, and marked crashed.
    assert by(night, "runs", "status") == {"crashed": 9, "failed": 1, "succeeded": 1}


FILES_BY_STATUS = "SELECT feed, status, count(*) FROM ingest_files GROUP BY feed, status"


def ops_text(night, day: str) -> str:
    (path,) = (night.outbox / day).glob("ops-*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    return message.get_body(preferencelist=("plain",)).get_content()


def test_a_killed_run_shows_crashed_in_keqing_runs_and_the_next_ops_email_names_it_once(night):
    assert night.run(failpoint="stage:grading:done=kill") == KILLED, night.log()
    assert by(night, "runs", "status") == {"running": 1}  # it had no chance to record anything else

    log = night.logs / "runs.log"
    assert keqing(night.base_env(), "runs", log=log) == 0
    out = log.read_text(encoding="utf-8")
    assert "marked crashed (process gone, lock free): #1" in out
    assert re.search(r"^#1 +2026-11-02 +crashed +started [-0-9]{10} [:0-9]{8} +- +\S+ pid [0-9]+$", out, re.M), out
    # how far it got: the stages before the kill, in the night's order
    assert re.search(r"^ +stages: ingest [0-9.]+ s, loyalty [0-9.]+ s, grading [0-9.]+ s$", out, re.M), out
    assert by(night, "runs", "status") == {"crashed": 1}

    assert night.run() == 0, night.log()
    assert "运行 #1（日期 2026-11-02，" in ops_text(night, "2026-11-02")
    assert night.run(date=RUN_DATE + dt.timedelta(days=1)) == 0, night.log()
    assert "异常中断" not in ops_text(night, "2026-11-03")  # named once
    assert by(night, "runs", "status") == {"crashed": 1, "succeeded": 2}
