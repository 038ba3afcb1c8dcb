"""``keqing calendar YEAR``: the year's holidays and adjusted working days as keqing plans with them."""

from __future__ import annotations

import datetime as dt
from importlib.metadata import version
from itertools import groupby
from typing import Annotated

import typer

from keqing.calendar import RULES_KEY, CalendarDay, Source, WorkCalendar

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def source_label(source: Source, rules_path: str | None) -> str:
    if source == "rules":
        return f"rules file {rules_path}" if rules_path else "rules file"
    if source == "package":
        return f"chinesecalendar {version('chinesecalendar')}"
    return "Monday-Friday fallback"


def _day(day: dt.date) -> str:
    return f"{day.isoformat()} {WEEKDAYS[day.weekday()]}"


def format_year(calendar: WorkCalendar, year: int, rules_path: str | None = None) -> str:
    """The year's schedule: where it comes from, its holidays (one line per stretch of days) and its
    adjusted working days, each with its source."""
    source = calendar.year_source(year)
    days = calendar.special_days(year)
    if source == "fallback":
        return (
            f"{year}: neither chinesecalendar {version('chinesecalendar')} nor the rules file knows this year.\n"
            f"keqing plans it Monday-Friday, without holidays or adjusted working days (Monday-Friday fallback).\n"
            f"Add the State Council's schedule to the rules file (KEQING_RULES) under {RULES_KEY} "
            f"(name, from, to) and calendar.workdays, for example:\n"
            f"calendar:\n"
            f"  holidays:\n"
            f"    - {{name: 春节, from: {year}-MM-DD, to: {year}-MM-DD}}\n"
            f"  workdays: [{year}-MM-DD]"
        )
    lines = [f"{year}: {source_label(source, rules_path)}"]
    if source == "package" and calendar.rule_years & {year}:
        lines[0] += f", with the days the rules file names over it ({source_label('rules', rules_path)})"
    if source == "rules":
        lines[0] += " (days it does not name are Monday-Friday)"
    holidays = [d for d in days if d.holiday is not None]
    lines.append(f"holidays ({len(holidays)} days):")
    for (name, src), stretch in _stretches(holidays):
        first, last = stretch[0].date, stretch[-1].date
        span = _day(first) if first == last else f"{_day(first)} .. {_day(last)}"
        lines.append(f"  {span:<33} {len(stretch)} day(s)  {name}  [{source_label(src, rules_path)}]")
    worked = [d for d in days if d.holiday is None]
    lines.append(f"adjusted working days ({len(worked)}):")
    for d in worked:
        lines.append(f"  {_day(d.date):<33} worked  [{source_label(d.source, rules_path)}]")
    return "\n".join(lines)


def _stretches(days: list[CalendarDay]) -> list[tuple[tuple[str, Source], list[CalendarDay]]]:
    """Consecutive days with the same holiday name and source."""
    groups: list[tuple[tuple[str, Source], list[CalendarDay]]] = []
    for key, run in groupby(days, key=lambda d: (d.holiday or "", d.source)):
        for day in run:
            if groups and groups[-1][0] == key and groups[-1][1][-1].date == day.date - dt.timedelta(days=1):
                groups[-1][1].append(day)
            else:
                groups.append((key, [day]))
    return groups


def calendar(year: Annotated[int, typer.Argument(help="the year, e.g. 2027", min=1900, max=2999)]) -> None:
    """The year's holidays and adjusted working days as keqing uses them, and where each came from."""
    from cli.main import _load_settings_and_rules

    settings, rules = _load_settings_and_rules()
    typer.echo(format_year(rules.work_calendar, year, str(settings.rules) if settings.rules else None))
