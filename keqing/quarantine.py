"""Quarantined rows for people: the ops attachment (masked) and the operator's export (full).

Pure functions over two frames read by the tasks: ``rows`` (one per quarantined row: ``id``,
``feed``, ``file``, ``line``, ``column``, ``reason``, ``status``) and ``cells`` (its raw text, one row
per cell: ``id``, ``position``, ``key``, ``value``, in the row's column order).

Masking (the ops email): the personal columns of contract section 3 (``personal=True`` in
``keqing/feeds.py``) are masked by kind: names keep their first and last character (张*明, 李*),
phones their first 3 and last 4 digits (138****5678), the others (disease, relation) are hidden.
A mobile number anywhere else in a cell is masked too. A line that could not be split into columns
(``_text``, e.g. a wrong number of fields) has its phones masked and every run of Chinese characters
cut to its first character (张*), since which part is a name is not known.
"""

from __future__ import annotations

import polars as pl

from keqing.feeds import FEEDS, Kind
from keqing.ingest.batch import REASON_TEXT_ZH

ROW_SCHEMA = {
    "id": pl.Int64,
    "feed": pl.String,
    "file": pl.String,
    "line": pl.Int64,
    "column": pl.String,
    "reason": pl.String,
    "status": pl.String,
}
CELL_SCHEMA = {"id": pl.Int64, "position": pl.Int64, "key": pl.String, "value": pl.String}
WHOLE_LINE_KEYS = ("_text", "_header")
MOBILE_IN_TEXT = r"(1[3-9]\d)\d{4}(\d{4})"


def mask_kinds() -> pl.DataFrame:
    """(feed, key, mask) for every personal column: mask ``name``, ``phone`` or ``hidden``."""
    rows = [
        (feed.name, c.name, "phone" if c.kind == Kind.PHONE else "name" if c.name.endswith("name") else "hidden")
        for feed in FEEDS.values()
        for c in feed.columns
        if c.personal
    ]
    return pl.DataFrame(rows, schema={"feed": pl.String, "key": pl.String, "mask": pl.String}, orient="row")


def mask_name_expr(value: pl.Expr) -> pl.Expr:
    """张三明 -> 张*明, 李明 -> 李*, 欧阳小明 -> 欧**明, 王 -> *."""
    name = value.str.strip_chars()
    n = name.str.len_chars()
    middle = name.str.slice(1, pl.max_horizontal(n - 2, pl.lit(0))).str.replace_all(".", "*")
    return (
        pl.when(name.is_null() | (n == 0))
        .then(name)
        .when(n == 1)
        .then(pl.lit("*"))
        .when(n == 2)
        .then(name.str.slice(0, 1) + pl.lit("*"))
        .otherwise(pl.concat_str([name.str.slice(0, 1), middle, name.str.slice(-1)]))
    )


def mask_phone_text_expr(value: pl.Expr) -> pl.Expr:
    """A phone cell as written (``+86 138-1234-5678``) -> ``138****5678``; too few digits -> ``****``."""
    digits = value.str.replace_all(r"\D", "")
    prefixed = digits.str.starts_with("86") & (digits.str.len_chars() == 13)
    digits = pl.when(prefixed).then(digits.str.slice(2)).otherwise(digits)
    return (
        pl.when(value.is_null())
        .then(value)
        .when(digits.str.len_chars() >= 8)
        .then(pl.concat_str([digits.str.slice(0, 3), pl.lit("****"), digits.str.slice(-4)]))
        .otherwise(pl.lit("****"))
    )


def masked_cells(rows: pl.DataFrame, cells: pl.DataFrame) -> pl.DataFrame:
    """``cells`` with every value masked as the module docstring says."""
    value = pl.col("value")
    in_text = value.str.replace_all(MOBILE_IN_TEXT, "${1}****${2}")
    return (
        cells.join(rows.select("id", "feed"), on="id", how="left")
        .join(mask_kinds(), on=["feed", "key"], how="left")
        .with_columns(
            value=pl.when(pl.col("mask") == "name")
            .then(mask_name_expr(value))
            .when(pl.col("mask") == "phone")
            .then(mask_phone_text_expr(value))
            .when(pl.col("mask") == "hidden")
            .then(pl.when(value.is_null()).then(value).otherwise(pl.lit("***")))
            .when(pl.col("key").is_in(WHOLE_LINE_KEYS))
            .then(in_text.str.replace_all(r"(\p{Han})\p{Han}+", "${1}*"))
            .otherwise(in_text)
        )
        .select(list(CELL_SCHEMA))
    )


def raw_text(cells: pl.DataFrame) -> pl.DataFrame:
    """(id, raw): a row's cells as ``key=value; key=value`` in column order (empty cells left out)."""
    return (
        cells.filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        .sort("id", "position")
        .group_by("id", maintain_order=True)
        .agg(raw=(pl.col("key") + "=" + pl.col("value")).str.join("; "))
    )


def with_reason_zh(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` with ``reason_zh``, the Chinese explanation of each reason code."""
    return rows.with_columns(reason_zh=pl.col("reason").replace_strict(REASON_TEXT_ZH, default=pl.col("reason")))


ATTACHMENT_COLUMNS = ("file", "line", "column", "reason", "reason_zh", "raw", "feed", "status", "id")


def attachment_frame(rows: pl.DataFrame, cells: pl.DataFrame) -> pl.DataFrame:
    """The ops attachment ``quarantine_YYYY-MM-DD.csv``: file, line, column, reason, reason_zh, the raw row
    masked, then feed, status and id (for ``keqing quarantine dismiss``), in file and line order."""
    raw = raw_text(masked_cells(rows, cells))
    return with_reason_zh(rows).join(raw, on="id", how="left").sort("file", "line").select(ATTACHMENT_COLUMNS)


EXPORT_COLUMNS = ("id", "feed", "file", "line", "column", "reason", "reason_zh", "status")


def export_frame(rows: pl.DataFrame, cells: pl.DataFrame) -> pl.DataFrame:
    """The operator's export: one line per row with its full, unmasked cells as columns (in the
    order they first appear), for the person who gets the source fixed."""
    keys = cells.sort("id", "position")["key"].unique(maintain_order=True).to_list()
    base = with_reason_zh(rows).select(EXPORT_COLUMNS)
    if not keys:
        return base.sort("file", "line")
    wide = cells.pivot(on="key", index="id", values="value", aggregate_function="first")
    wide = wide.select("id", *[pl.col(k).cast(pl.String) for k in keys])
    return base.join(wide, on="id", how="left").sort("file", "line")
