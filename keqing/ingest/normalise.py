"""Typed values from text cells, vectorised in Polars (contract section 2).

``normalise(feed, rows)`` takes the reader's text frame and returns the typed frame and a long
frame of cell errors (row, column, reason). A cell that has text but cannot be parsed is an error,
never a silent null; a phone that Excel rounded is an error, never a guess; text longer than its
column allows (``Column.max_length``) is an error, never truncated.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.feeds import FEEDS, Column, Feed, Kind

ROW = "_row"  # position of the row in the batch, the key that ties errors to rows
EXCEL_EPOCH = dt.date(1899, 12, 30)

TRUE_TEXT = ("1", "1.0", "true", "t", "y", "yes", "是", "对")
FALSE_TEXT = ("0", "0.0", "false", "f", "n", "no", "否", "不")

MOBILE = r"^1[3-9]\d{9}$"
LANDLINE = r"^0\d{2,3}-\d{7,8}$"
PHONE_PATTERN = rf"{MOBILE[:-1]}$|{LANDLINE}"
EMAIL_PATTERN = r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$"
CODES_PATTERN = r"^[^;]+(?:;[^;]+)?$"

DTYPES: dict[Kind, pl.DataType] = {
    Kind.BOOL: pl.Boolean(),
    Kind.INT: pl.Int64(),
    Kind.DECIMAL: pl.Float64(),
    Kind.DATE: pl.Date(),
    Kind.MONTH: pl.Date(),
    Kind.DATETIME: pl.Datetime("us"),
}

# Reason codes of cells that have text but no value of the column's type.
PARSE_REASONS: dict[Kind, str] = {
    Kind.BOOL: "bad_bool",
    Kind.INT: "bad_number",
    Kind.DECIMAL: "bad_number",
    Kind.DATE: "bad_date",
    Kind.MONTH: "bad_month",
    Kind.DATETIME: "bad_datetime",
}


def dtype_of(column: Column) -> pl.DataType:
    return DTYPES.get(column.kind, pl.String())


def parse_date(s: pl.Expr) -> pl.Expr:
    """``2026-11-21``, ``2026/11/21``, ``2026/1/5``, ``20261121`` or an Excel serial (``46347``)."""
    serial = s.cast(pl.Float64, strict=False).floor().cast(pl.Int64, strict=False)
    return pl.coalesce(
        pl.when(s.str.contains(r"^\d{4}-\d{1,2}-\d{1,2}$")).then(s.str.to_date("%Y-%m-%d", strict=False)),
        pl.when(s.str.contains(r"^\d{4}/\d{1,2}/\d{1,2}$")).then(s.str.to_date("%Y/%m/%d", strict=False)),
        pl.when(s.str.contains(r"^\d{8}$")).then(s.str.to_date("%Y%m%d", strict=False)),
        pl.when(s.str.contains(r"^\d{5}(\.\d+)?$")).then(pl.lit(EXCEL_EPOCH) + pl.duration(days=serial)),
    )


def parse_datetime(s: pl.Expr) -> pl.Expr:
    """A date form of ``parse_date`` with an optional `` HH:MM[:SS]`` (or an Excel serial with a fraction)."""
    date_part = s.str.extract(r"^(\d{4}[-/]\d{1,2}[-/]\d{1,2}|\d{8})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", 1)
    hours = s.str.extract(r"[ T](\d{1,2}):\d{2}", 1).cast(pl.Int64, strict=False)
    minutes = s.str.extract(r"[ T]\d{1,2}:(\d{2})", 1).cast(pl.Int64, strict=False)
    seconds = s.str.extract(r"[ T]\d{1,2}:\d{2}:(\d{2})", 1).cast(pl.Int64, strict=False)
    valid_time = (hours.fill_null(0) < 24) & (minutes.fill_null(0) < 60) & (seconds.fill_null(0) < 60)
    from_text = parse_date(date_part).cast(pl.Datetime("us")) + pl.duration(
        hours=hours.fill_null(0), minutes=minutes.fill_null(0), seconds=seconds.fill_null(0)
    )
    serial = s.cast(pl.Float64, strict=False)
    from_serial = pl.lit(dt.datetime(1899, 12, 30)).cast(pl.Datetime("us")) + pl.duration(
        microseconds=(serial * 86_400_000_000).round(0).cast(pl.Int64, strict=False)
    )
    return pl.coalesce(
        pl.when(date_part.is_not_null() & valid_time).then(from_text),
        pl.when(s.str.contains(r"^\d{5}(\.\d+)?$")).then(from_serial),
    )


def parse_month(s: pl.Expr) -> pl.Expr:
    """``2026-11``, ``2026/11``, ``202611``, or any date form (taken as its month)."""
    return pl.coalesce(
        pl.when(s.str.contains(r"^\d{4}[-/]\d{1,2}$")).then(
            (s.str.replace("/", "-") + "-01").str.to_date("%Y-%m-%d", strict=False)
        ),
        pl.when(s.str.contains(r"^\d{6}$")).then((s + "01").str.to_date("%Y%m%d", strict=False)),
        parse_date(s).dt.month_start(),
    )


def parse_bool(s: pl.Expr) -> pl.Expr:
    lower = s.str.to_lowercase()
    return pl.when(lower.is_in(TRUE_TEXT)).then(True).when(lower.is_in(FALSE_TEXT)).then(False)


def parse_int(s: pl.Expr) -> pl.Expr:
    """Integers, also as Excel wrote them (``7.0``); ``7.5`` is not an integer."""
    return s.str.replace(r"^([+-]?\d+)\.0*$", "$1").cast(pl.Int64, strict=False)


def parse_decimal(s: pl.Expr) -> pl.Expr:
    """Yuan, optionally with ``¥``; ``inf``, ``nan`` and overflowing exponents (``1e400``) are not numbers."""
    value = s.str.replace_all(r"^[¥￥]", "").cast(pl.Float64, strict=False)
    return pl.when(value.is_finite()).then(value)


def phone_lost_digits(s: pl.Expr) -> pl.Expr:
    """True for a phone in scientific notation that no longer holds all of its digits (``1.38E+10``)."""
    mantissa = s.str.extract(r"^\d\.(\d+)[eE]\+?\d{1,2}$", 1)
    exponent = s.str.extract(r"^\d\.\d+[eE]\+?(\d{1,2})$", 1).cast(pl.Int64, strict=False)
    return mantissa.is_not_null() & (mantissa.str.len_chars() < exponent)


def normalise_phone(s: pl.Expr) -> pl.Expr:
    """``13812345678`` for mobiles (from ``+86 138-1234-5678``, ``13812345678.0``, ``1.3812345678E10``),
    ``010-12345678`` for landlines. Anything else is returned as given, for the regex check to reject."""
    t = s.str.replace_all(r"[\s\-()（）]", "")
    t = pl.when(t.str.contains(r"^\+?86(1\d{10})$")).then(t.str.replace(r"^\+?86", "")).otherwise(t)
    t = t.str.replace(r"^(1\d{10})\.0*$", "$1")
    sci_digits = t.str.extract(r"^(\d)\.(\d+)[eE]\+?\d{1,2}$", 1) + t.str.extract(r"^\d\.(\d+)[eE]\+?\d{1,2}$", 1)
    sci_exponent = t.str.extract(r"^\d\.\d+[eE]\+?(\d{1,2})$", 1).cast(pl.Int64, strict=False)
    t = (
        pl.when(sci_digits.is_not_null() & (sci_digits.str.len_chars() == sci_exponent + 1))
        .then(sci_digits)
        .otherwise(t)
    )
    t = (
        pl.when(t.str.contains(r"^0[12]\d\d{7,8}$"))
        .then(t.str.replace(r"^(0[12]\d)(\d+)$", "$1-$2"))
        .when(t.str.contains(r"^0[3-9]\d\d\d{7,8}$"))
        .then(t.str.replace(r"^(0\d{3})(\d+)$", "$1-$2"))
        .otherwise(t)
    )
    # A landline written with its dash keeps it; a mobile never has one.
    dashed = s.str.replace_all(r"\s", "")
    return pl.when(dashed.str.contains(LANDLINE)).then(dashed).otherwise(t)


def normalise_enum(column: Column) -> pl.Expr:
    assert column.values is not None
    mapping = {alias.lower(): code for code, aliases in column.values.items() for alias in aliases}
    s = pl.col(column.name)
    return s.str.to_lowercase().replace_strict(mapping, default=s, return_dtype=pl.String)


def normalise_codes(s: pl.Expr) -> pl.Expr:
    return s.str.replace_all(r"[；;，,、\s]+", ";").str.strip_chars(";")


def _value(column: Column) -> pl.Expr:
    s = pl.col(column.name)
    match column.kind:
        case Kind.BOOL:
            value = parse_bool(s)
        case Kind.INT:
            value = parse_int(s)
        case Kind.DECIMAL:
            value = parse_decimal(s)
        case Kind.DATE:
            value = parse_date(s)
        case Kind.DATETIME:
            value = parse_datetime(s)
        case Kind.MONTH:
            value = parse_month(s)
        case Kind.PHONE:
            value = s  # normalised in ``_normalise_phones``, only where needed
        case Kind.ENUM:
            value = normalise_enum(column)
        case Kind.CODES:
            value = normalise_codes(s)
        case Kind.EMAIL:
            value = s.str.to_lowercase()
        case _:
            value = s
    if column.default is not None:
        value = value.fill_null(pl.lit(column.default))
    return value.cast(dtype_of(column)).alias(column.name)


def _error(column: Column) -> pl.Expr | None:
    """The reason a cell is unusable before any expectation runs, or null."""
    raw = pl.col(column.name)
    if column.kind in PARSE_REASONS:
        return pl.when(raw.is_not_null() & _value(column).is_null()).then(pl.lit(PARSE_REASONS[column.kind]))
    return None


def normalise(feed: Feed | str, rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(typed rows, cell errors) for the text rows of a feed.

    ``rows`` holds the feed's columns as text plus any bookkeeping columns (``_row``, ``_line``,
    ``_file_id``), which are passed through. The error frame has ``_row``, ``column``, ``reason``.
    """
    feed = FEEDS[feed] if isinstance(feed, str) else feed
    if ROW not in rows.columns:
        rows = rows.with_row_index(ROW)
    absent = [c for c in feed.column_names if c not in rows.columns]
    rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in absent)
    extra = [c for c in rows.columns if c not in feed.column_names]
    typed = rows.select([pl.col(c) for c in extra] + [_value(c) for c in feed.columns])
    errors = [
        rows.select(pl.col(ROW), pl.lit(c.name).alias("column"), expr.alias("reason")).filter(
            pl.col("reason").is_not_null()
        )
        for c in feed.columns
        if (expr := _error(c)) is not None
    ]
    errors += [
        rows.filter(pl.col(c.name).str.len_chars() > c.max_length).select(
            pl.col(ROW), pl.lit(c.name).alias("column"), pl.lit("too_long").alias("reason")
        )
        for c in feed.columns
        if c.max_length is not None
    ]
    for column in feed.columns:
        if column.kind is Kind.PHONE:
            typed, phone_errors = _normalise_phones(typed, rows, column.name)
            errors.append(phone_errors)
    schema = {ROW: rows.schema[ROW], "column": pl.String, "reason": pl.String}
    errors = [e.cast(schema) for e in errors]
    error_frame = pl.concat(errors) if errors else pl.DataFrame(schema=schema)
    return typed, error_frame


CANONICAL_PHONE = r"^(?:1[3-9]\d{9}|0\d{2,3}-\d{7,8})$"


def _normalise_phones(typed: pl.DataFrame, rows: pl.DataFrame, name: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Normalise the phones that are not canonical already (most are), and find those that lost digits.

    The regex work of ``normalise_phone`` runs only on that subset: it is the costly part of a file.
    """
    raw = rows[name]
    todo = (raw.is_not_null() & ~raw.str.contains(CANONICAL_PHONE)).arg_true()
    subset = rows.select(ROW, name)[todo]
    fixed = subset.select(normalise_phone(pl.col(name))).to_series()
    typed = typed.with_columns(typed[name].scatter(todo, fixed))
    lost = subset.filter(phone_lost_digits(pl.col(name).str.replace_all(r"\s", "")))
    return typed, lost.select(ROW, pl.lit(name).alias("column"), pl.lit("phone_lost_digits").alias("reason"))
