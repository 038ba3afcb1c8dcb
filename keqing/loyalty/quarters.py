"""Calendar quarters as integers (``year * 4 + quarter - 1``) for arithmetic, labelled ``YYYYQn`` in tables."""

from __future__ import annotations

import datetime as dt

import polars as pl


def quarter_index(day: dt.date) -> int:
    return day.year * 4 + (day.month - 1) // 3


def quarter_label(index: int) -> str:
    return f"{index // 4}Q{index % 4 + 1}"


def parse_quarter(label: str) -> int:
    """``2026Q4`` -> its index; the inverse of ``quarter_label``."""
    year, _, number = label.partition("Q")
    if not (year.isdigit() and number in ("1", "2", "3", "4")):
        raise ValueError(f"not a quarter label: {label!r}")
    return int(year) * 4 + int(number) - 1


def first_day(index: int) -> dt.date:
    return dt.date(index // 4, (index % 4) * 3 + 1, 1)


def last_day(index: int) -> dt.date:
    return first_day(index + 1) - dt.timedelta(days=1)


def last_ended_quarter(cutoff: dt.date) -> int:
    """The latest quarter whose last day is on or before ``cutoff``."""
    return quarter_index(cutoff + dt.timedelta(days=1)) - 1


def quarter_index_expr(day: pl.Expr) -> pl.Expr:
    return day.dt.year().cast(pl.Int64) * 4 + (day.dt.month().cast(pl.Int64) - 1) // 3


def quarter_label_expr(index: pl.Expr) -> pl.Expr:
    return pl.format("{}Q{}", index // 4, index % 4 + 1)
