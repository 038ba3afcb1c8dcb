"""Working days on the mainland calendar, with adjusted weekends."""

from __future__ import annotations

import datetime as dt

from keqing.calendar import calendar_frame, holiday_name, is_workday, next_workday, workdays


def test_october_2026_has_18_field_working_days():
    # National Day and Mid-Autumn: 1-7 October off; Saturday 10 October is an adjusted working day.
    days = workdays(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    assert len(days) == 18
    assert dt.date(2026, 10, 10) in days  # adjusted Saturday
    assert dt.date(2026, 10, 8) == days[0]
    assert not is_workday(dt.date(2026, 10, 5))


def test_holiday_names_and_next_workday():
    assert holiday_name(dt.date(2026, 10, 1)) == "National Day"
    assert holiday_name(dt.date(2026, 11, 21)) is None  # an ordinary Saturday
    assert next_workday(dt.date(2026, 9, 30)) == dt.date(2026, 10, 8)
    assert next_workday(dt.date(2026, 11, 20), after=False) == dt.date(2026, 11, 20)


def test_years_beyond_the_package_fall_back_to_weekdays():
    assert is_workday(dt.date(2027, 3, 1)) and not is_workday(dt.date(2027, 3, 6))


def test_calendar_frame():
    frame = calendar_frame(dt.date(2026, 9, 30), dt.date(2026, 10, 2))
    assert frame.rows() == [
        (dt.date(2026, 9, 30), True, None),
        (dt.date(2026, 10, 1), False, "National Day"),
        (dt.date(2026, 10, 2), False, "National Day"),
    ]
