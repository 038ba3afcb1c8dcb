"""Working days and holidays: the package's mainland calendar, the rules file's dates over it, and the
Monday-Friday fallback for a year neither knows."""

from __future__ import annotations

import datetime as dt

import pytest

from keqing.calendar import PACKAGE, WorkCalendar, planning_horizon
from keqing.rules import RulesError, rules_from_mapping

d = dt.date.fromisoformat

SPRING_2027 = {
    "calendar": {
        "holidays": [{"name": "春节", "from": d("2027-02-06"), "to": d("2027-02-13")}],
        "workdays": [d("2027-02-14"), d("2027-02-20")],  # a Sunday and a Saturday worked
    }
}


def test_october_2026_has_18_field_working_days():
    # National Day and Mid-Autumn: 1-7 October off; Saturday 10 October is an adjusted working day.
    days = PACKAGE.workdays(d("2026-10-01"), d("2026-10-31"))
    assert len(days) == 18
    assert d("2026-10-10") in days  # adjusted Saturday
    assert d("2026-10-08") == days[0]
    assert not PACKAGE.is_workday(d("2026-10-05"))


def test_holiday_names_in_chinese_and_next_workday():
    assert PACKAGE.holiday_name(d("2026-10-01")) == "国庆节"
    assert PACKAGE.holiday_name(d("2026-02-17")) == "春节"
    assert PACKAGE.holiday_name(d("2026-11-21")) is None  # an ordinary Saturday
    assert PACKAGE.next_workday(d("2026-09-30")) == d("2026-10-08")
    assert PACKAGE.next_workday(d("2026-11-20"), after=False) == d("2026-11-20")


def test_a_year_nobody_knows_falls_back_to_monday_to_friday():
    assert PACKAGE.is_workday(d("2027-03-01")) and not PACKAGE.is_workday(d("2027-03-06"))
    assert PACKAGE.holiday_name(d("2027-02-06")) is None  # Spring Festival 2027 is unknown to the package
    assert PACKAGE.day(d("2027-02-08")).source == "fallback"
    assert PACKAGE.year_source(2026) == "package" and PACKAGE.year_source(2027) == "fallback"
    assert PACKAGE.unknown_years(*planning_horizon(d("2026-12-02"))) == [2027]  # December and January
    assert PACKAGE.unknown_years(*planning_horizon(d("2026-11-30"))) == []  # November and December


def test_the_rules_file_calendar_for_a_year_the_package_does_not_know():
    cal = rules_from_mapping(SPRING_2027).work_calendar
    assert [cal.holiday_name(d(f"2027-02-{n:02d}")) for n in (5, 6, 12, 13, 14)] == [None, "春节", "春节", "春节", None]
    assert not cal.is_workday(d("2027-02-08"))  # a Monday of the holiday
    assert cal.is_workday(d("2027-02-14")) and cal.is_workday(d("2027-02-20"))  # Sunday and Saturday worked
    assert not cal.is_workday(d("2027-02-27"))  # another Saturday: the rules' year is Monday-Friday otherwise
    assert cal.day(d("2027-02-27")).source == "rules"
    assert cal.year_source(2027) == "rules" and cal.unknown_years(d("2026-12-01"), d("2027-01-31")) == []
    assert cal.unknown_years(d("2027-12-01"), d("2028-01-31")) == [2028]
    # February 2027: 20 weekdays - 5 of the holiday (8-12) + 14th and 20th = 17 working days.
    assert len(cal.workdays(d("2027-02-01"), d("2027-02-28"))) == 17
    assert cal.next_workday(d("2027-02-05")) == d("2027-02-14")


def test_the_rules_file_takes_precedence_over_the_package():
    # 2026: the package has 1-7 October off and Saturday 10 October worked.
    cal = WorkCalendar.from_ranges([("公司假", d("2026-12-31"), d("2026-12-31"))], [d("2026-10-07")])
    assert cal.is_workday(d("2026-10-07")) and cal.day(d("2026-10-07")).source == "rules"
    assert cal.holiday_name(d("2026-10-07")) is None
    assert cal.holiday_name(d("2026-10-06")) == "国庆节" and cal.day(d("2026-10-06")).source == "package"
    assert not cal.is_workday(d("2026-12-31")) and cal.holiday_name(d("2026-12-31")) == "公司假"
    assert cal.year_source(2026) == "package"
    assert PACKAGE.is_workday(d("2026-12-31")) and not PACKAGE.is_workday(d("2026-10-07"))


def test_special_days_of_a_year():
    cal = rules_from_mapping(SPRING_2027).work_calendar
    assert [(x.date, x.is_workday, x.holiday, x.source) for x in cal.special_days(2027)] == [
        *[(d(f"2027-02-{n:02d}"), False, "春节", "rules") for n in range(6, 14)],
        (d("2027-02-14"), True, None, "rules"),
        (d("2027-02-20"), True, None, "rules"),
    ]
    october = [x for x in PACKAGE.special_days(2026) if x.date.month == 10]
    assert [(x.date.day, x.holiday) for x in october] == [
        *[(n, "国庆节") for n in range(1, 8)],
        (10, None),  # adjusted working Saturday
    ]


def test_calendar_frame():
    frame = PACKAGE.frame(d("2026-09-30"), d("2026-10-02"))
    assert frame.rows() == [
        (d("2026-09-30"), True, None),
        (d("2026-10-01"), False, "国庆节"),
        (d("2026-10-02"), False, "国庆节"),
    ]


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        ({"holidays": [{"name": "春节", "from": "2027-02-13", "to": "2027-02-06"}]}, "is before 'from'"),
        (
            {"holidays": [{"name": "春节", "from": "2027-02-06", "to": "2027-02-13"}], "workdays": ["2027-02-08"]},
            "2027-02-08: both a holiday and a workday",
        ),
        ({"holidays": [{"name": "春节", "from": "2027-02-06"}]}, "calendar.holidays.0.to"),
        ({"holidays": [{"name": "春节", "from": "2027-02-06", "to": "2027-02-13", "days": 8}]}, "days"),
        ({"workdays": ["2027-02-30"]}, "calendar.workdays.0"),
    ],
)
def test_a_wrong_calendar_section_names_the_key(calendar, message):
    with pytest.raises(RulesError, match=message):
        rules_from_mapping({"calendar": calendar})
