"""Calendar periods of a run: months, quarters and their field working days (mainland calendar)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from keqing.calendar import WorkCalendar
from keqing.clock import cutoff_for
from keqing.dates import add_months, month_end, month_start, quarter_start


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
    plan_quarter_start: dt.date
    report_month_start: dt.date
    report_quarter_start: dt.date
    is_workday: bool  # run_date is a field working day
    workdays_left: int  # field working days from run_date to the end of its month, run_date included
    report_days_so_far: int  # field working days from the report month's start to the cutoff
    report_days_in_month: int

    def visits_since(self, lookback_months: int) -> dt.date:
        """The first day of visits read: ``lookback_months`` before the cutoff (never after the report quarter)."""
        return min(add_months(self.cutoff, -lookback_months) + dt.timedelta(days=1), self.report_quarter_start)

    @classmethod
    def for_run(cls, run_date: dt.date, calendar: WorkCalendar) -> Periods:
        """``calendar``: the rules' (``rules.work_calendar``)."""
        workdays = calendar.workdays
        cutoff = cutoff_for(run_date)
        plan_end = month_end(run_date)
        days_left = workdays(run_date, plan_end)
        return cls(
            run_date=run_date,
            cutoff=cutoff,
            plan_month_start=month_start(run_date),
            plan_quarter_start=quarter_start(run_date),
            report_month_start=month_start(cutoff),
            report_quarter_start=quarter_start(cutoff),
            is_workday=bool(days_left) and days_left[0] == run_date,
            workdays_left=len(days_left),
            report_days_so_far=len(workdays(month_start(cutoff), cutoff)),
            report_days_in_month=len(workdays(month_start(cutoff), month_end(cutoff))),
        )
