"""Dirty input (small, default share): every kind is injected, counted and findable; valid ones parse."""

from __future__ import annotations

import re
from datetime import date, timedelta

import polars as pl

from keqing.generate.dirty import EXPECTED, ROW_DEFECTS
from tests.generate.reading import load_feed, manifest, read_feed

ROW_KINDS = {kind for defects in ROW_DEFECTS.values() for kind, _ in defects}
FILE_KINDS = {"gb18030", "utf8_bom", "chinese_headers", "shuffled_columns", "extra_column", "xlsx"}


def test_every_kind_is_injected_and_listed(small_dirty):
    out, summary = small_dirty
    dirty = manifest(out)["dirty"]
    assert set(dirty["rows"]) == ROW_KINDS and all(n > 0 for n in dirty["rows"].values())
    assert set(dirty["files"]) == FILE_KINDS and all(n > 0 for n in dirty["files"].values())
    assert dirty["rows"] == summary.dirty_rows and dirty["files"] == summary.dirty_files
    assert set(dirty["expected"]) == ROW_KINDS | FILE_KINDS <= set(EXPECTED)
    listed = {}
    for row in dirty["row_list"]:
        listed[row["kind"]] = listed.get(row["kind"], 0) + 1
    assert listed == dirty["rows"]


def test_about_the_requested_share_of_rows_is_dirty(small_dirty):
    _, summary = small_dirty
    rows = sum(summary.rows_per_feed.values())
    assert 0.002 < sum(summary.dirty_rows.values()) / rows < 0.01


def test_file_defect_shares(small_dirty):
    out, _ = small_dirty
    files = manifest(out)["files"]
    share = {
        "gb18030": sum(f["encoding"] == "gb18030" for f in files) / len(files),
        "chinese": sum(f["headers"] == "chinese" for f in files) / len(files),
        "xlsx": sum(f["format"] == "xlsx" for f in files) / len(files),
    }
    assert 0.04 < share["gb18030"] < 0.18 and 0.04 < share["chinese"] < 0.18 and 0.01 < share["xlsx"] < 0.1


def test_dirty_values_look_the_part(small_dirty):
    out, _ = small_dirty
    info = manifest(out)
    feeds = {e["path"]: e["feed"] for e in info["files"]}
    cache: dict[str, pl.DataFrame] = {}
    checked = {"phone_excel_sci", "phone_formatted", "date_alt_format", "bool_alt_format"}
    for row in (r for r in info["dirty"]["row_list"] if r["kind"] in checked and r["file"].endswith(".csv")):
        if row["file"] not in cache:
            cache[row["file"]] = read_feed(out / row["file"], feeds[row["file"]])[0]
        value = cache[row["file"]].row(row["line"] - 2, named=True).get(row["column"] or "", None)
        match row["kind"]:
            case "phone_excel_sci":
                assert re.fullmatch(r"1\.\d{10}E10", value)
            case "phone_formatted":
                digits = re.sub(r"[\s-]", "", value).removeprefix("+86").removeprefix("86")
                assert re.fullmatch(r"1[3-9]\d{9}", digits)
            case "date_alt_format":
                assert re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}( \d{2}:\d{2}(:\d{2})?)?|\d{8}( \d{2}:\d{2}:\d{2})?", value)
            case "bool_alt_format":
                assert value in {"true", "false", "是", "否", "Y", "N"}


def test_late_master_rows_come_the_day_after_the_first_purchase(small_dirty):
    out, _ = small_dirty
    info = manifest(out)
    paths = {e["path"].split(".")[0]: e["path"] for e in info["files"]}
    late = [r for r in info["dirty"]["row_list"] if r["kind"] == "late_master"]
    assert late
    for row in late:
        patient = read_feed(out / row["file"], "patients")[0].row(row["line"] - 2, named=True)["patient_id"]
        day_before = (date.fromisoformat(row["file"][:10]) - timedelta(days=1)).isoformat()
        purchases = read_feed(out / paths[f"{day_before}/purchases"], "purchases")[0]
        assert patient in purchases["patient_id"].to_list()


def test_corrections_reuse_an_id_in_a_later_file(small_dirty):
    out, _ = small_dirty
    orders = load_feed(out, "orders")
    repeated = orders.filter(pl.col("order_id").is_duplicated())
    corrected = repeated.group_by("order_id").agg(pl.col("amount").n_unique(), pl.col("_folder").n_unique())
    assert ((corrected["amount"] == 2) & (corrected["_folder"] == 2)).any()
