"""Tiny scale end to end: speed, day-folder layout, every file parses back, manifest counts and lines."""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from keqing.feeds import FEEDS
from keqing.generate import generate
from tests.generate.reading import decode, manifest, read_feed, read_raw


def test_tiny_generates_well_under_two_seconds(tmp_path: Path):
    # CPU time, so that other work on a shared machine does not make the test flaky.
    began = time.process_time()
    summary = generate("tiny", tmp_path)
    assert time.process_time() - began < 2.0
    assert summary.days_written == 31
    assert summary.rows_per_feed["purchases"] > 500


def test_one_folder_per_day_with_master_data_first(tiny):
    out, _ = tiny
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == [(date(2026, 10, 1) + timedelta(days=i)).isoformat() for i in range(31)]
    first = {p.stem for p in (out / folders[0]).iterdir()}
    assert {"offices", "staff", "products", "customers", "patients", "rx_monthly"} <= first
    later = {p.stem for folder in folders[1:] for p in (out / folder).iterdir()}
    assert "offices" not in later and "products" not in later
    for path in out.glob("*/*"):
        assert re.fullmatch(r"[a-z_]+\.(csv|xlsx)", path.name)
        assert path.stem in FEEDS


def test_every_file_parses_into_its_feed_and_counts_match_the_manifest(tiny):
    out, summary = tiny
    info = manifest(out)
    totals = dict.fromkeys(FEEDS, 0)
    for entry in info["files"]:
        frame, unknown = read_feed(out / entry["path"], entry["feed"])
        assert frame.height == entry["rows"], entry["path"]
        assert unknown == entry["extra_columns"]
        totals[entry["feed"]] += frame.height
    assert totals == info["rows"] == summary.rows_per_feed
    assert len(info["files"]) == summary.files_written


def test_file_styles_in_the_manifest_are_what_is_on_disk(tiny):
    out, _ = tiny
    for entry in manifest(out)["files"]:
        path = out / entry["path"]
        raw = read_raw(path)
        chinese = {c.chinese for c in FEEDS[entry["feed"]].columns}
        english = set(FEEDS[entry["feed"]].column_names)
        expected = chinese if entry["headers"] == "chinese" else english
        assert set(raw.columns) - {"备注"} == expected
        if entry["format"] == "csv":
            raw_bytes = path.read_bytes()
            found = decode(raw_bytes)[1]
            # A GB18030 file without Chinese characters is plain ASCII, so it also reads as UTF-8.
            assert found == entry["encoding"] or (entry["encoding"] == "gb18030" and raw_bytes.isascii())


def test_listed_dirty_rows_are_at_their_lines(tiny):
    out, _ = tiny
    info = manifest(out)
    rows = info["dirty"]["row_list"]
    assert {r["kind"] for r in rows} == set(info["dirty"]["rows"])
    assert len(rows) == sum(info["dirty"]["rows"].values())
    feeds = {e["path"]: e["feed"] for e in info["files"]}
    for row in rows:
        frame, _ = read_feed(out / row["file"], feeds[row["file"]])
        record = frame.row(row["line"] - 2, named=True)
        value = record.get(row["column"]) if row["column"] else None
        match row["kind"]:
            case "phone_lost_digits":
                assert re.fullmatch(r"1\.\d\dE\+10", value)
            case "phone_excel_float":
                assert re.fullmatch(r"1[3-9]\d{9}\.0", value)
            case "date_invalid":
                assert value == "yesterday" or "-13-45" in value or "-02-30" in value
            case "duplicate_row":
                assert frame.row(row["line"] - 3) == frame.row(row["line"] - 2)
            case "unknown_reference":
                assert value[:2] in ("P9", "C9")
            case "bad_quantity":
                assert int(value) <= 0 or int(value) > 1000


def test_a_busy_output_folder_is_refused(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate("tiny", tmp_path)


def test_a_rerun_replaces_an_earlier_run(tmp_path: Path):
    generate("tiny", tmp_path, days=5)
    generate("tiny", tmp_path, days=3)
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 3
    assert manifest(tmp_path)["days"] == 3


def test_start_and_days_override_the_scale(tmp_path: Path):
    summary = generate("tiny", tmp_path, start=date(2025, 3, 1), days=10, dirty=0)
    assert summary.start == date(2025, 3, 1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir())[-1] == "2025-03-10"
    purchases = pl.concat(read_feed(p, "purchases")[0] for p in tmp_path.glob("*/purchases.csv"))
    assert purchases["purchase_date"].min() >= "2025-03-01"
    assert purchases["purchase_date"].max() <= "2025-03-10"
