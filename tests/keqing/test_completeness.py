"""Completeness before publishing, pure: which daily feeds are expected, missing, announced to whom,
and which files are broken batches."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.completeness import (
    broken_batches,
    expected_daily_feeds,
    file_frame,
    missing_daily_feeds,
    missing_feed_report,
    notices_for,
)
from keqing.rules import Rules, rules_from_mapping

CUTOFF = dt.date(2026, 11, 1)


def test_visits_are_expected_only_when_the_cutoff_day_was_a_working_day():
    rules = Rules().freshness
    assert expected_daily_feeds(rules, cutoff_is_workday=True) == ("purchases", "visits")
    assert expected_daily_feeds(rules, cutoff_is_workday=False) == ("purchases",)
    custom = rules_from_mapping({"freshness": {"daily_feeds": ["orders", "purchases"], "working_day_feeds": []}})
    assert expected_daily_feeds(custom.freshness, cutoff_is_workday=False) == ("orders", "purchases")


def test_missing_feeds_are_the_expected_ones_without_a_record_in_the_rules_order():
    assert missing_daily_feeds(("purchases", "visits"), {"purchases": False, "visits": True}) == ["purchases"]
    assert missing_daily_feeds(("purchases", "visits"), {}) == ["purchases", "visits"]
    assert missing_daily_feeds(("purchases",), {"purchases": True}) == []


def test_a_missing_purchases_feed_is_announced_to_nurses_home_visits_and_reps_not_managers():
    line = (
        "数据未到：昨日（2026-11-01）的购药记录尚未收到，今天的名单未包含昨日的购药，"
        "已复购的患者可能仍显示为待回访或即将到期，请以实际情况为准。"
    )
    for kind in ("callback", "home_visit", "rep"):
        assert notices_for(kind, ["purchases"], CUTOFF) == (line,)
    assert notices_for("manager", ["purchases"], CUTOFF) == ()
    assert notices_for("ops", ["purchases", "visits"], CUTOFF) == ()
    # Both missing: a nurse's list depends on both, one line each, in the order given.
    assert [n[:24] for n in notices_for("callback", ["purchases", "visits"], CUTOFF)] == [
        "数据未到：昨日（2026-11-01）的购药记录",
        "数据未到：昨日（2026-11-01）的拜访记录",
    ]


def test_the_ops_report_of_a_missing_feed_names_it_and_whose_lists_it_affects():
    report = missing_feed_report("purchases", CUTOFF)
    assert report["feed"] == "purchases" and report["label"] == "购药记录"
    assert report["text"] == (
        "购药记录（purchases）：没有 2026-11-01 的任何记录，数据未到。"
        "回访员、家访员、代表的名单仍已发送，邮件中已注明数据未到；数据到达后可重跑该日期。"
    )


def test_a_file_over_the_quarantined_share_is_a_broken_batch_rejected_and_empty_files_are_not():
    files = file_frame(
        [
            {"path": "a/purchases.csv", "feed": "purchases", "status": "done", "rows_read": 40, "rows_quarantined": 9},
            {"path": "b/purchases.csv", "feed": "purchases", "status": "done", "rows_read": 40, "rows_quarantined": 8},
            {"path": "c/visits.csv", "feed": "visits", "status": "rejected", "rows_read": 10, "rows_quarantined": 10},
            {"path": "d/visits.csv", "feed": "visits", "status": "done", "rows_read": 0, "rows_quarantined": 0},
            {"path": "e/orders.csv", "status": "done", "rows_read": 3, "rows_quarantined": 3},
        ]
    )
    broken = broken_batches(files, 0.2)
    # 9/40 = 22.5% > 20%; 8/40 = 20% is not over it; the rejected file is reported as rejected.
    assert broken.to_dicts() == [
        {"path": "a/purchases.csv", "feed": "purchases", "rows_read": 40, "rows_quarantined": 9}
        | {"quarantined_share": 0.225},
        {"path": "e/orders.csv", "feed": None, "rows_read": 3, "rows_quarantined": 3} | {"quarantined_share": 1.0},
    ]
    assert broken_batches(files, 0.1)["path"].to_list() == ["a/purchases.csv", "b/purchases.csv", "e/orders.csv"]
    assert broken_batches(file_frame([]), 0.2).height == 0
    assert isinstance(broken, pl.DataFrame)
