"""Field working days on the mainland China calendar (``chinesecalendar``), adjusted weekends included.

``chinesecalendar`` knows the State Council's schedule up to its last published year (2026 in the
pinned release). For later dates keqing falls back to Monday-Friday without statutory holidays,
and ``calendar_known`` says so, so a report can mention it; upgrading the package fixes it.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import chinese_calendar
import polars as pl


def calendar_known(day: dt.date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=4096)
def is_workday(day: dt.date) -> bool:
    """A field working day: a weekday that is not a holiday, or an adjusted working weekend day."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        return day.weekday() < 5


@lru_cache(maxsize=4096)
def holiday_name(day: dt.date) -> str | None:
    """The statutory holiday on ``day`` (e.g. ``National Day``), or None (also for ordinary weekends)."""
    try:
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return name if on_holiday and name else None


def workdays(start: dt.date, end: dt.date) -> list[dt.date]:
    """Working days from ``start`` to ``end``, both included."""
    days = (end - start).days
    return [d for d in (start + dt.timedelta(n) for n in range(days + 1)) if is_workday(d)]


def next_workday(day: dt.date, *, after: bool = True) -> dt.date:
    """The first working day after ``day`` (or on or after it with ``after=False``)."""
    d = day + dt.timedelta(days=1) if after else day
    while not is_workday(d):
        d += dt.timedelta(days=1)
    return d


def calendar_frame(start: dt.date, end: dt.date) -> pl.DataFrame:
    """One row per day: ``date``, ``is_workday``, ``holiday`` (name or null), for joins in Polars."""
    dates = [start + dt.timedelta(n) for n in range((end - start).days + 1)]
    return pl.DataFrame(
        {"date": dates, "is_workday": [is_workday(d) for d in dates], "holiday": [holiday_name(d) for d in dates]},
        schema={"date": pl.Date, "is_workday": pl.Boolean, "holiday": pl.String},
    )
