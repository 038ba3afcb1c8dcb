"""Completeness before publishing (contract section 3): daily feeds without records for the cutoff
day, and broken batches (files with too many quarantined rows).

Pure: what is expected, what is missing, which emails must say so and in what words, and which files
are broken batches. Reading whether a feed has records is ``tasks/completeness.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import polars as pl

from keqing.rules import FreshnessRules

FEED_LABELS: dict[str, str] = {
    "purchases": "购药记录",
    "visits": "拜访记录",
    "consults": "咨询记录",
    "orders": "订货记录",
}

# The emails whose lists are built on each daily feed (contract section 5): purchases drive the
# nurses' calls and expiry lists, the village visits and the reps' lists; visits clear due calls and
# make the reps' and managers' attainment; consults make consult follow-ups; orders make reorders.
DEPENDENT_EMAILS: dict[str, tuple[str, ...]] = {
    "purchases": ("callback", "home_visit", "rep"),
    "visits": ("rep", "callback", "manager"),
    "consults": ("callback",),
    "orders": ("rep",),
}

# What a missing feed means for the person reading the list (one line, after 数据未到).
MEANINGS: dict[str, str] = {
    "purchases": "今天的名单未包含昨日的购药，已复购的患者可能仍显示为待回访或即将到期，请以实际情况为准",
    "visits": "昨日完成的拜访和回访尚未计入，名单和达成率可能按旧数据计算，请以实际情况为准",
    "consults": "昨日的来电咨询尚未列入咨询跟进",
    "orders": "订货提醒可能包含昨日已订货的终端",
}

EMAIL_LABELS: dict[str, str] = {"rep": "代表", "callback": "回访员", "home_visit": "家访员", "manager": "经理"}


def expected_daily_feeds(rules: FreshnessRules, cutoff_is_workday: bool) -> tuple[str, ...]:
    """The daily feeds that must have records for the cutoff day (working-day feeds only on working days)."""
    return tuple(f for f in rules.daily_feeds if cutoff_is_workday or f not in rules.working_day_feeds)


def missing_daily_feeds(expected: Iterable[str], present: Mapping[str, bool]) -> list[str]:
    """The expected feeds without any record for the cutoff day, in the rules' order."""
    return [f for f in expected if not present.get(f, False)]


def missing_notice(feed: str, cutoff: dt.date) -> str:
    """The one line a staff email carries when a feed its list depends on has not arrived."""
    meaning = MEANINGS.get(feed, "名单可能基于旧数据")
    return f"数据未到：昨日（{cutoff.isoformat()}）的{FEED_LABELS.get(feed, feed)}尚未收到，{meaning}。"


def notices_for(kind: str, missing: Iterable[str], cutoff: dt.date) -> tuple[str, ...]:
    """The 数据未到 lines for an email of ``kind``: one per missing feed its list depends on."""
    return tuple(missing_notice(f, cutoff) for f in missing if kind in DEPENDENT_EMAILS.get(f, ()))


def missing_feed_report(feed: str, cutoff: dt.date) -> dict:
    """A missing feed as the run summary keeps it (JSON-ready) and the ops email shows it."""
    emails = [EMAIL_LABELS[k] for k in DEPENDENT_EMAILS.get(feed, ())]
    return {
        "feed": feed,
        "label": FEED_LABELS.get(feed, feed),
        "cutoff": cutoff.isoformat(),
        "emails": emails,
        "text": (
            f"{FEED_LABELS.get(feed, feed)}（{feed}）：没有 {cutoff.isoformat()} 的任何记录，数据未到。"
            f"{'、'.join(emails)}的名单仍已发送，邮件中已注明数据未到；数据到达后可重跑该日期。"
        ),
    }


BATCH_COLUMNS = {
    "path": pl.String,
    "feed": pl.String,
    "status": pl.String,
    "rows_read": pl.Int64,
    "rows_quarantined": pl.Int64,
}


def broken_batches(files: pl.DataFrame, max_share: float) -> pl.DataFrame:
    """Files with more than ``max_share`` of their rows quarantined: path, feed, rows_read,
    rows_quarantined, quarantined_share. Rejected files are reported as rejected, not here."""
    return (
        files.select(list(BATCH_COLUMNS))
        .filter((pl.col("status") != "rejected") & (pl.col("rows_read") > 0))
        .with_columns(quarantined_share=pl.col("rows_quarantined") / pl.col("rows_read"))
        .filter(pl.col("quarantined_share") > max_share)
        .drop("status")
        .sort("path")
    )


def file_frame(file_reports: Iterable[Mapping]) -> pl.DataFrame:
    """The ingest summary's file reports as a frame of ``BATCH_COLUMNS`` (missing keys are null)."""
    rows = [{c: r.get(c) for c in BATCH_COLUMNS} for r in file_reports]
    return pl.DataFrame(rows, schema=BATCH_COLUMNS)
