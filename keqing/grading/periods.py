"""Calendar periods of a run: months, quarters and their field working days (mainland calendar)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from keqing.calendar import workdays
from keqing.clock import cutoff_for


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved by whole months, clamped to the end of a shorter month (31 Mar - 1 month = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first = dt.date(year, month + 1, 1)
    last = (add_months_first(first, 1) - dt.timedelta(days=1)).day
    return first.replace(day=min(day.day, last))


def add_months_first(first: dt.date, months: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, 1)


def month_end(day: dt.date) -> dt.date:
    return add_months_first(month_start(day), 1) - dt.timedelta(days=1)


def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: dt.date) -> dt.date:
    return add_months_first(quarter_start(day), 3) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Periods:
    """The dates a run for ``run_date`` works with.

    Targets plan the run's own month (visits so far = ``plan_month_start`` .. ``cutoff``). Attainment
    reports the month (and quarter) of the cutoff, so the run on the 1st reports last month's final
    figures instead of an empty month.
    """

    run_date: dt.date
    cutoff: dt.date
    plan_month_start: dt.date
    plan_month_end: dt.date
    plan_quarter_start: dt.date
    plan_quarter_end: dt.date
    report_month_start: dt.date
    report_month_end: dt.date
    report_quarter_start: dt.date
    is_workday: bool  # run_date is a field working day
    workdays_left: int  # field working days from run_date to the end of its month, run_date included
    report_days_so_far: int  # field working days from the report month's start to the cutoff
    report_days_in_month: int

    def visits_since(self, lookback_months: int) -> dt.date:
        """The first day of visits read: ``lookback_months`` before the cutoff (never after the report quarter)."""
        return min(add_months(self.cutoff, -lookback_months) + dt.timedelta(days=1), self.report_quarter_start)

    @classmethod
    def for_run(cls, run_date: dt.date) -> Periods:
        cutoff = cutoff_for(run_date)
        plan_end = month_end(run_date)
        days_left = workdays(run_date, plan_end)
        return cls(
            run_date=run_date,
            cutoff=cutoff,
            plan_month_start=month_start(run_date),
            plan_month_end=plan_end,
            plan_quarter_start=quarter_start(run_date),
            plan_quarter_end=quarter_end(run_date),
            report_month_start=month_start(cutoff),
            report_month_end=month_end(cutoff),
            report_quarter_start=quarter_start(cutoff),
            is_workday=bool(days_left) and days_left[0] == run_date,
            workdays_left=len(days_left),
            report_days_so_far=len(workdays(month_start(cutoff), cutoff)),
            report_days_in_month=len(workdays(month_start(cutoff), month_end(cutoff))),
        )
