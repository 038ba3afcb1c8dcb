"""Calendar arithmetic on months and quarters (no working days here: see ``keqing.calendar``)."""

from __future__ import annotations

import datetime as dt


def month_start(day: dt.date, months_ahead: int = 0) -> dt.date:
    """The first day of ``day``'s month, or of the month ``months_ahead`` later (earlier if negative)."""
    index = day.year * 12 + day.month - 1 + months_ahead
    return dt.date(index // 12, index % 12 + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return month_start(day, 1) - dt.timedelta(days=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the end of a shorter month (31 Mar - 1 month = 28/29 Feb)."""
    first = month_start(day, months)
    return first.replace(day=min(day.day, month_end(first).day))


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
