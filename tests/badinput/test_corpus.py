"""The bad-input corpus through one nightly run on SQLite and PostgreSQL: the run finishes, every row of
every file is loaded or quarantined with its file, line, column and reason, every file reconciles, and
SQL, HTML and formula payloads load verbatim and stay inert in the database and the emails."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import time
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from edges.db import get_engine
from keqing.feeds import FEEDS, feed_for_filename
from models.base import Base
from tests.badinput.corpus import PAYLOADS, RUN_DATE, Case, corpus
from tests.helpers import quarantine, run_nightly, table, write

# Slow (about 30-60 s a database, most of it the fixed cost of a first nightly run in a process).
pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.e2e]

DATE_COLUMNS = {"purchase_date", "visit_at", "month", "order_date"}
# The loaded rx_monthly rows of the corpus are told apart by month (all are doctor D001, product PR01).
KEY_COLUMN = {name: feed.key[0] for name, feed in FEEDS.items()}


def test_every_bad_input_is_loaded_or_quarantined_with_file_line_and_column(settings, record_property):
    cases = corpus()
    for case in cases:
        write(settings, case.path, case.data)
    started = time.perf_counter()
    summary = run_nightly(RUN_DATE)
    seconds = time.perf_counter() - started

    assert table(settings, "runs")["status"].to_list() == ["succeeded"]
    assert summary["ingest"]["files_new"] == len(cases)
    files = _check_files(settings, cases)
    _check_quarantine(settings, cases, files)
    _check_loaded_rows(settings, cases, files)
    _check_stored_values(settings, cases)
    _check_tables_intact(settings)
    inert = _check_emails(settings.outbox / RUN_DATE.isoformat())

    bad = [c for c in cases if c.bad]
    outcomes = Counter(r.outcome for c in bad for r in c.rows)
    figures = {
        "bad_files": len(bad),
        "rows": sum(c.rows_read for c in bad),
        "whole_file_rejections": outcomes["file"],
        "loaded": outcomes["loaded"] + outcomes["superseded"],
        "quarantined": outcomes["quarantined"],
        "duplicates": outcomes["duplicate"],
        "payload_cells": sum(len(v) for c in bad if c.name.startswith("payloads") for v in c.stored.values()),
    }
    # Hand-counted from corpus.py (one line per row there); docs/reliability.md quotes these numbers.
    assert figures == {
        "bad_files": 47,
        "rows": 248,
        "whole_file_rejections": 5,
        "loaded": 152,
        "quarantined": 95,
        "duplicates": 1,
        "payload_cells": 9 * 22,  # every payload in each of the 22 text fields and fact ids
    }
    accounted = sum(
        row["rows_loaded"] + row["rows_quarantined"] + row["rows_duplicate"]
        for row in files.filter(pl.col("bad")).iter_rows(named=True)
    )
    assert accounted == figures["rows"]
    line = (
        f"bad input: {figures['bad_files']} files, {figures['rows']} rows and {figures['whole_file_rejections']} "
        f"whole-file rejections tried; {accounted + figures['whole_file_rejections']} accounted for "
        f"({figures['loaded']} loaded, {figures['quarantined']} quarantined, {figures['duplicates']} duplicate); "
        f"{figures['payload_cells']} payload cells stored verbatim, {inert} made inert in email attachments; "
        f"nightly run {seconds:.1f} s"
    )
    print(line)
    record_property("badinput", line)


def _check_files(settings, cases: list[Case]) -> pl.DataFrame:
    """Every file: its status, its messages, and rows read = loaded + quarantined + duplicates, as expected."""
    files = table(settings, "ingest_files")
    by_path = {row["path"]: row for row in files.iter_rows(named=True)}
    assert set(by_path) == {c.path for c in cases}
    for case in cases:
        row = by_path[case.path]
        counts = Counter(r.outcome for r in case.rows)
        expected = {
            "status": case.status,
            "rows_read": case.rows_read,
            "rows_loaded": counts["loaded"] + counts["superseded"],
            "rows_quarantined": counts["quarantined"],
            "rows_duplicate": counts["duplicate"],
        }
        assert {k: row[k] for k in expected} == expected, case.name
        assert row["rows_read"] == row["rows_loaded"] + row["rows_quarantined"] + row["rows_duplicate"]
        if case.message is not None:
            assert case.message in " ".join(_json_list(row["messages"])), case.name
    return files.with_columns(bad=pl.col("path").is_in([c.path for c in cases if c.bad]))


def _json_list(value) -> list[str]:
    import json

    return json.loads(value) if isinstance(value, str) else list(value)


def _check_quarantine(settings, cases: list[Case], files: pl.DataFrame) -> None:
    """Exactly the expected entries: file, line, column, reason, status, and a message naming them."""
    q = quarantine(settings).join(files.select(pl.col("id").alias("file_id"), "path"), on="file_id")
    found = {
        (path, line, reason, column, status)
        for path, line, reason, column, status in q.select("path", "line", "reason", "column_name", "status").rows()
    }
    expected = {
        (c.path, r.line, r.reason, r.column, r.status)
        for c in cases
        for r in c.rows
        if r.outcome in ("quarantined", "file")
    }
    assert sorted(found - expected, key=str) == [] and sorted(expected - found, key=str) == []
    assert q.height == len(expected)  # one entry per (file, line)
    for path, line, column, message in q.select("path", "line", "column_name", "message").rows():
        assert message.startswith(path), message
        assert f"line {line}" in message, message
        assert column is None or f"column {column}" in message or column in message, message


def _check_loaded_rows(settings, cases: list[Case], files: pl.DataFrame) -> None:
    """Each feed table holds exactly the rows expected to load (by lineage), none dropped, none extra."""
    ids = dict(files.select("id", "path").rows())
    for feed in FEEDS:
        rows = table(settings, feed)
        found = (
            set()
            if rows.height == 0
            else {(ids[f], line) for f, line in rows.select("source_file_id", "source_line").rows()}
        )
        expected = {
            (c.path, r.line)
            for c in cases
            if feed_for_filename(Path(c.path).name) == feed
            for r in c.rows
            if r.outcome == "loaded"
        }
        assert found == expected, (feed, sorted(found - expected), sorted(expected - found))


def _check_stored_values(settings, cases: list[Case]) -> None:
    """Values as the contract asks them stored: dates, phones, numbers, and payload text verbatim."""
    checked = 0
    for case in cases:
        for (feed, key), values in case.stored.items():
            key_text = pl.col(KEY_COLUMN[feed]).cast(pl.String)
            match = key_text.str.starts_with(key) if feed == "rx_monthly" else key_text == key
            rows = table(settings, feed).filter(match)
            assert rows.height == 1, (case.name, key)
            for column, want in values.items():
                got = rows[column][0]
                if column in DATE_COLUMNS:
                    assert str(got).replace("T", " ")[: len(want)] == want, (case.name, key, column)
                elif isinstance(want, float):
                    assert float(got) == want, (case.name, key, column)
                else:
                    assert got == want, (case.name, key, column)
                checked += 1
    assert checked > 200


def _check_tables_intact(settings) -> None:
    """No payload ran: every table of the schema is still there, and the master data still loaded."""
    engine = get_engine(settings.database_url)
    names = set(sa.inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names
    assert table(settings, "staff").height > 0 and table(settings, "patients").height > 0


def _check_emails(outbox: Path) -> int:
    """Payloads in the emails: HTML escaped, and formula cells of CSV attachments made inert (``'=...``)."""
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in outbox.glob("*.eml")]
    assert messages, "the run wrote no email"
    html_payloads = [p for p in PAYLOADS if "<" in p]
    formulas = [p for p in PAYLOADS if p[0] in "=+-@"]
    escaped = inert = 0
    for message in messages:
        for part in message.walk():
            if part.get_content_type() == "text/html":
                html = part.get_content()
                assert not any(p in html for p in html_payloads)
                escaped += html.count("&lt;script&gt;")
            elif part.get_filename() and part.get_filename().endswith(".csv"):
                text = part.get_payload(decode=True).decode("utf-8-sig")
                cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
                assert not any(cell in formulas for cell in cells)
                inert += sum(1 for cell in cells if cell.startswith("'") and cell[1:] in formulas)
    assert escaped > 0, "no payload reached an HTML email: the check above proved nothing"
    assert inert > 0, "no formula payload reached an attachment: the check above proved nothing"
    return inert
