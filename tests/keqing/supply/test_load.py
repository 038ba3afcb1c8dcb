"""A callback nurse's load: calls due against 40 a day, what waits and since when; staff an office needs."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.supply.load import callback_load, staffing_needed


def calls(office: str, staff: str | None, due_dates: list[dt.date], listed: int) -> pl.DataFrame:
    """A list as callback_list makes it: the first ``listed`` calls fit the day, the rest wait."""
    n = len(due_dates)
    return pl.DataFrame(
        {
            "office_code": [office] * n,
            "staff_id": [staff] * n,
            "due_date": due_dates,
            "listed": [i < listed for i in range(n)],
        },
        schema={"office_code": pl.String, "staff_id": pl.String, "due_date": pl.Date, "listed": pl.Boolean},
    )


def test_sixty_due_against_forty_leave_twenty_waiting_since_the_earliest_of_them():
    day = dt.date(2026, 11, 1)
    # N1: 60 due, one a day from 1 November; the first 40 are listed, the 20 due from 11 December wait.
    n1 = calls("OF1", "N1", [day + dt.timedelta(days=i) for i in range(60)], listed=40)
    n2 = calls("OF1", "N2", [day] * 25, listed=25)  # within the capacity
    n3 = calls("OF2", "N3", [day] * 81, listed=40)  # 41 wait: two days' work
    orphan = calls("OF3", None, [day] * 7, listed=7)  # an office without callback staff: nobody calls them
    load = callback_load(pl.concat([n1, n2, n3, orphan]), capacity=40)
    assert load.rows() == [
        ("OF1", "N1", 60, 40, 20, dt.date(2026, 12, 11), 1),  # day + 40
        ("OF1", "N2", 25, 40, 0, None, 0),
        ("OF2", "N3", 81, 40, 41, day, 2),
        ("OF3", None, 7, 40, 7, day, 1),
    ]
    # Staff needed at the current load: ceil(due / 40) per office (seed 000: 40 calls a person a day).
    assert staffing_needed(load).rows() == [
        ("OF1", 85, 2, 3, 1),  # ceil(85 / 40) = 3 against 2 nurses
        ("OF2", 81, 1, 3, 2),
        ("OF3", 7, 0, 1, 1),
    ]


def test_exactly_the_capacity_waits_for_nobody():
    load = callback_load(calls("OF1", "N1", [dt.date(2026, 11, 1)] * 40, listed=40), capacity=40)
    assert load.select("due", "waiting", "waiting_since", "backlog_days").rows() == [(40, 0, None, 0)]
    assert staffing_needed(load).select("needed", "short").rows() == [(1, 0)]
