"""run_date is the Shanghai date, whatever the machine's time zone."""

from __future__ import annotations

import datetime as dt

import pytest

from keqing.clock import cutoff_for, shanghai_today


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (dt.datetime(2026, 11, 20, 17, 30, tzinfo=dt.UTC), dt.date(2026, 11, 21)),  # the 01:30 run
        (dt.datetime(2026, 11, 21, 15, 59, tzinfo=dt.UTC), dt.date(2026, 11, 21)),  # 23:59 in Shanghai
        (dt.datetime(2026, 11, 21, 16, 1, tzinfo=dt.UTC), dt.date(2026, 11, 22)),  # 00:01 in Shanghai
    ],
)
def test_shanghai_date(utc, expected):
    assert shanghai_today(utc) == expected


def test_naive_times_are_refused_and_the_cutoff_is_the_day_before():
    with pytest.raises(ValueError):
        shanghai_today(dt.datetime(2026, 11, 21, 12, 0))
    assert cutoff_for(dt.date(2026, 11, 1)) == dt.date(2026, 10, 31)


def test_a_frozen_clock_fixes_now_utc_now_and_todays_shanghai_date():
    from keqing.clock import frozen, now, utc_now

    at = dt.datetime(2026, 11, 20, 17, 30, tzinfo=dt.UTC)
    with frozen(at):
        assert now() == at
        assert utc_now() == dt.datetime(2026, 11, 20, 17, 30)  # naive UTC, as the database stores it
        assert shanghai_today() == dt.date(2026, 11, 21)
    assert now() != at
    with pytest.raises(ValueError, match="timezone-aware"), frozen(dt.datetime(2026, 11, 20)):
        pass
