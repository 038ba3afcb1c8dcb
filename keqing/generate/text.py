"""Text forms of typed columns, the same as ``write_csv`` gives them in the writer."""

from __future__ import annotations

import polars as pl

MONEY = {"amount", "price_per_box"}  # yuan, two decimals
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def text_column(frame: pl.DataFrame, name: str) -> pl.Expr:
    """A column as the text ``write_csv`` would give it."""
    c = pl.col(name)
    dtype = frame.schema[name]
    if dtype == pl.String:
        return c
    if dtype == pl.Date:
        return c.dt.strftime(DATE_FORMAT)
    if dtype == pl.Datetime:
        return c.dt.strftime(DATETIME_FORMAT)
    if name in MONEY:
        return c.round(2).cast(pl.Decimal(14, 2)).cast(pl.String)
    if dtype.is_float():  # 28.0 -> "28", 0.5 -> "0.5"
        return pl.when(c == c.floor()).then(c.cast(pl.Int64).cast(pl.String)).otherwise(c.cast(pl.String))
    return c.cast(pl.String)


def as_text(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(text_column(frame, name) for name in frame.columns if not name.startswith("_"))
