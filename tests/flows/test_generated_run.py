"""A generated `small` inbox with dirty rows: every file reconciles and every injected fault is accounted for."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from keqing.generate import generate
from tests.helpers import quarantine, run_ingest, run_nightly, table

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

START = dt.date(2026, 8, 1)
DAYS = 10


def test_every_file_reconciles_and_every_dirty_row_is_accounted_for(settings):
    generate("small", settings.inbox, seed=7, start=START, days=DAYS, dirty=0.02)
    manifest = json.loads((settings.inbox / "manifest.json").read_text(encoding="utf-8"))
    summary = run_nightly(START + dt.timedelta(days=DAYS))

    files = table(settings, "ingest_files")
    assert set(files["status"]) == {"done"}
    reconciled = files.select(
        (pl.col("rows_read") == pl.col("rows_loaded") + pl.col("rows_quarantined") + pl.col("rows_duplicate")).all()
    ).item()
    assert reconciled
    expected_rows = {f["path"]: f["rows"] for f in manifest["files"]}
    assert dict(files.select("path", "rows_read").rows()) == expected_rows
    assert summary["ingest"]["files_ignored"] == ["manifest.json"]

    q = quarantine(settings).join(files.select(pl.col("id").alias("file_id"), "path"), on="file_id")
    per_file = q.group_by("path").len()
    assert dict(per_file.rows()) == {p: n for p, n in files.select("path", "rows_quarantined").rows() if n}

    found = {
        (path, line): (reason, status)
        for path, line, reason, status in q.select("path", "line", "reason", "status").rows()
    }
    expectations = manifest["dirty"]["expected"]
    checked = 0
    for item in manifest["dirty"]["row_list"]:
        where = (item["file"], item["line"])
        outcome = expectations[item["kind"]].split(":")[0]
        if outcome == "quarantine":
            assert where in found, f"{item} should be quarantined"
            reason, status = found[where]
            assert status == ("waiting" if item["kind"] == "unknown_reference" else "rejected"), item
        elif outcome in ("load", "update"):
            # It loads, unless it refers to a record that was itself quarantined (then it waits for it).
            reason, status = found.get(where, (None, None))
            assert reason is None or (status == "waiting" and reason.startswith("unknown_")), item
        checked += 1
    assert checked == len(manifest["dirty"]["row_list"]) > 20
    assert files["rows_duplicate"].sum() == manifest["dirty"]["rows"]["duplicate_row"]

    again = run_ingest(settings, START + dt.timedelta(days=DAYS + 1))  # the ingest stage alone: a night costs 20-45 s
    assert again["files_new"] == 0 and again["rows_loaded"] == 0
    assert table(settings, "ingest_files").height == files.height
