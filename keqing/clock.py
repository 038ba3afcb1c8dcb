"""Dates in Asia/Shanghai, the time zone of every date and schedule (contract section 1)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def shanghai_today(now: dt.datetime | None = None) -> dt.date:
    """The Shanghai calendar date at ``now`` (default: the current instant)."""
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(SHANGHAI).date()


def cutoff_for(run_date: dt.date) -> dt.date:
    """The last day whose records a run for ``run_date`` uses."""
    return run_date - dt.timedelta(days=1)
