"""Field working days and statutory holidays on the mainland China calendar (contract section 1).

``WorkCalendar`` answers every question keqing asks about a day (a field working day? which
holiday?). Its sources, in order of precedence:

1. the rules file's ``calendar:`` section (``calendar.holidays``: name, from, to;
   ``calendar.workdays``: adjusted working days), day by day;
2. the ``chinesecalendar`` package, for the years it knows (2004-2026 in the pinned release);
3. a year that the rules file names (any holiday or workday in it) but the package does not:
   its other days are Monday-Friday working days, the rules being that year's whole schedule;
4. a year that neither knows: Monday-Friday without holidays (``fallback``). A run whose planning
   horizon reaches such a year says so first in the ops email (``unknown_years``).

Holiday names are in Chinese (the package's English names are translated).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import chinese_calendar
import polars as pl

from keqing.dates import month_end, month_start

Source = Literal["rules", "package", "fallback"]
RULES_KEY = "calendar.holidays"  # the rules key an operator fills for a year nobody knows

# chinese_calendar's English holiday names, as people here call them.
PACKAGE_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    is_workday: bool
    holiday: str | None  # the statutory holiday's name (Chinese), None on ordinary days and weekends
    source: Source


@lru_cache(maxsize=8192)
def _package_day(day: dt.date) -> tuple[bool, str | None] | None:
    """(is_workday, holiday name) from ``chinesecalendar``, or None for a year it does not know."""
    try:
        workday = chinese_calendar.is_workday(day)
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return None
    return workday, PACKAGE_NAMES.get(name, name) if on_holiday and name else None


def package_knows(year: int) -> bool:
    return _package_day(dt.date(year, 6, 30)) is not None


class WorkCalendar:
    """The calendar keqing plans on: the rules file's dates over the package's (module docstring)."""

    def __init__(self, holidays: Mapping[dt.date, str] | None = None, workdays: Iterable[dt.date] = ()) -> None:
        self.rule_holidays: dict[dt.date, str] = dict(holidays or {})
        self.rule_workdays: frozenset[dt.date] = frozenset(workdays)
        self.rule_years = frozenset(d.year for d in (*self.rule_holidays, *self.rule_workdays))
        self._days: dict[dt.date, CalendarDay] = {}

    @classmethod
    def from_ranges(cls, holidays: Iterable[tuple[str, dt.date, dt.date]], workdays: Iterable[dt.date]) -> WorkCalendar:
        """From the rules file's shape: (name, from, to) ranges, both ends included, and workdays."""
        days = {
            start + dt.timedelta(days=n): name for name, start, end in holidays for n in range((end - start).days + 1)
        }
        return cls(days, workdays)

    def day(self, day: dt.date) -> CalendarDay:
        known = self._days.get(day)
        if known is None:
            known = self._days[day] = self._lookup(day)
        return known

    def _lookup(self, day: dt.date) -> CalendarDay:
        if day in self.rule_holidays:
            return CalendarDay(day, False, self.rule_holidays[day], "rules")
        if day in self.rule_workdays:
            return CalendarDay(day, True, None, "rules")
        package = _package_day(day)
        if package is not None:
            return CalendarDay(day, package[0], package[1], "package")
        source: Source = "rules" if day.year in self.rule_years else "fallback"
        return CalendarDay(day, day.weekday() < 5, None, source)

    def is_workday(self, day: dt.date) -> bool:
        """A field working day: a weekday that is not a holiday, or an adjusted working weekend day."""
        return self.day(day).is_workday

    def holiday_name(self, day: dt.date) -> str | None:
        """The statutory holiday on ``day`` (e.g. ``国庆节``), or None (also for ordinary weekends)."""
        return self.day(day).holiday

    def workdays(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Working days from ``start`` to ``end``, both included."""
        return [d for d in _days(start, end) if self.is_workday(d)]

    def next_workday(self, day: dt.date, *, after: bool = True) -> dt.date:
        """The first working day after ``day`` (or on or after it with ``after=False``)."""
        d = day + dt.timedelta(days=1) if after else day
        while not self.is_workday(d):
            d += dt.timedelta(days=1)
        return d

    def frame(self, start: dt.date, end: dt.date) -> pl.DataFrame:
        """One row per day: ``date``, ``is_workday``, ``holiday`` (name or null), for joins in Polars."""
        days = [self.day(d) for d in _days(start, end)]
        return pl.DataFrame(
            {
                "date": [d.date for d in days],
                "is_workday": [d.is_workday for d in days],
                "holiday": [d.holiday for d in days],
            },
            schema={"date": pl.Date, "is_workday": pl.Boolean, "holiday": pl.String},
        )

    def year_source(self, year: int) -> Source:
        """Where a year's schedule comes from: the package (with any rules days over it), the rules, or neither."""
        if package_knows(year):
            return "package"
        return "rules" if year in self.rule_years else "fallback"

    def unknown_years(self, start: dt.date, end: dt.date) -> list[int]:
        """The years from ``start`` to ``end`` that neither the package nor the rules file knows."""
        return [y for y in range(start.year, end.year + 1) if self.year_source(y) == "fallback"]

    def special_days(self, year: int) -> list[CalendarDay]:
        """The year's holidays and adjusted working days (weekend days worked, and every workday the
        rules file names, e.g. a package holiday it turns back into a working day), in date order."""
        days = (self.day(d) for d in _days(dt.date(year, 1, 1), dt.date(year, 12, 31)))
        return [
            d
            for d in days
            if d.holiday is not None or (d.is_workday and (d.date.weekday() >= 5 or d.date in self.rule_workdays))
        ]


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(n) for n in range((end - start).days + 1)]


def planning_horizon(run_date: dt.date) -> tuple[dt.date, dt.date]:
    """The days a run plans over (contract section 1): the run's month and the next."""
    return month_start(run_date), month_end(month_start(run_date, 1))


PACKAGE = WorkCalendar()  # the package alone (the synthetic data generator's calendar)
