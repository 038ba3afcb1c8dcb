"""File writing: one folder per day, CSV by polars, a few Excel workbooks.

Frames stay typed and ``write_csv`` formats them: ISO dates, ``YYYY-MM-DD HH:MM:SS`` datetimes,
money with two decimals, booleans as ``1``/``0``. A day with dirty rows is turned into text (the same
forms, ``text.as_text``) so the dirty text rows can join it. Clean files are UTF-8 with the English
headers, and no value holds a comma, a quote or a line break, so nothing is quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from functools import partial
from pathlib import Path

import numpy as np
import polars as pl
import xlsxwriter

from keqing.feeds import FEEDS, Kind
from keqing.generate import vocab
from keqing.generate.dirty import ROW_DEFECTS, DirtyRows, FileStyle, file_style
from keqing.generate.scales import Calendar, rng
from keqing.generate.text import DATE_FORMAT, DATETIME_FORMAT, MONEY, as_text, text_column

EXTRA_COLUMN = "备注"


def prepare(feed: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The feed's columns in contract order, booleans as 0/1, quantities like ``28`` or ``0.5`` as
    text, sorted by ``_day``, with ``_order`` (the row's place in its day's file)."""
    exprs = []
    for col in FEEDS[feed].columns:
        dtype = frame.schema[col.name]
        if col.kind == Kind.BOOL:
            exprs.append(pl.col(col.name).cast(pl.Int8))
        elif dtype.is_float() and col.name not in MONEY:
            exprs.append(text_column(frame, col.name))
        else:
            exprs.append(pl.col(col.name))
    day = frame["_day"].to_numpy()
    if len(day) > 1 and (np.diff(day) < 0).any():
        frame = frame.sort("_day", maintain_order=True)
    return frame.select(
        *exprs,
        pl.col("_day").cast(pl.Int64),
        _order=pl.int_range(pl.len(), dtype=pl.Int64).cast(pl.Float64),
    )


class DayRows:
    """The rows of each day's file of one feed: a slice of the day-sorted frame, with the dirty rows
    (as text) merged in by ``_order`` on the days that have some."""

    def __init__(self, frame: pl.DataFrame, dirty: DirtyRows, days: int) -> None:
        day = frame["_day"].to_numpy()
        self.bounds = np.searchsorted(day, np.arange(days + 1))
        if len(day) and (day[0] < 0 or self.bounds[-1] != len(day)):
            raise ValueError("rows dated outside the range")
        self.frame, self.replaced = frame, dirty.replaced
        self.extra: dict[int, pl.DataFrame] = {}
        if dirty.extra is not None:
            self.extra = {key[0]: part for key, part in dirty.extra.partition_by("_day", as_dict=True).items()}

    def day(self, d: int) -> pl.DataFrame | None:
        lo, hi = int(self.bounds[d]), int(self.bounds[d + 1])
        part = self.frame.slice(lo, hi - lo)
        gone = self.replaced[(self.replaced >= lo) & (self.replaced < hi)] - lo
        if d in self.extra or len(gone):
            keep = np.ones(hi - lo, dtype=bool)
            keep[gone] = False
            text = as_text(part).filter(pl.Series(keep)).with_columns(_dirty=pl.lit(None, dtype=pl.String))
            pieces = [text, self.extra[d]] if d in self.extra else [text]
            part = pl.concat(pieces).sort("_order", maintain_order=True)
        return part if part.height else None


@dataclass
class WrittenFile:
    path: str  # relative to the output folder, with "/"
    feed: str
    rows: int
    style: FileStyle


def write_day_files(
    out: Path, cal: Calendar, seed: int, dirty: float, parts: dict[str, dict[int, pl.DataFrame]], day: int
) -> tuple[list[WrittenFile], list[dict]]:
    """Write the files of one day; returns them and the dirty rows they hold (file, line, kind)."""
    folder = out / cal.iso[day]
    written: list[WrittenFile] = []
    dirty_rows: list[dict] = []
    for feed, rows in parts.items():
        frame = rows.day(day)
        if frame is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        style = file_style(seed, feed, day, frame.height, dirty)
        name = f"{feed}.xlsx" if style.xlsx else f"{feed}.csv"
        rel = f"{cal.iso[day]}/{name}"
        marks = frame["_dirty"] if "_dirty" in frame.columns else None
        if marks is not None and marks.null_count() < frame.height:
            columns = dict(ROW_DEFECTS.get(feed, ()))
            lines = np.flatnonzero(marks.is_not_null().to_numpy()) + 2  # line 1 is the header
            for line, kind in zip(lines.tolist(), marks.drop_nulls().to_list(), strict=True):
                dirty_rows.append({"file": rel, "line": line, "kind": kind, "column": columns.get(kind) or None})
        body = _styled(seed, feed, day, frame, style)
        path = folder / name
        if style.xlsx:
            write_xlsx(path, feed, as_text(body), cal.dates[day])
        else:
            options = {"date_format": DATE_FORMAT, "datetime_format": DATETIME_FORMAT, "float_precision": 2}
            if style.encoding == "gb18030":
                path.write_bytes(body.write_csv(**options).encode("gb18030"))
            else:
                body.write_csv(path, include_bom=style.encoding == "utf-8-sig", **options)
        written.append(WrittenFile(rel, feed, frame.height, style))
    return written, dirty_rows


def _styled(seed: int, feed: str, day: int, frame: pl.DataFrame, style: FileStyle) -> pl.DataFrame:
    """The file's columns: canonical order, maybe an extra column, shuffled, Chinese headers."""
    body = frame.select(FEEDS[feed].column_names)
    if style.extra_column:
        r = rng(seed, f"extra:{feed}:{day}")
        notes = np.array(vocab.NOTES)[r.integers(0, len(vocab.NOTES), body.height)]
        # Empty notes are nulls: polars quotes empty strings, and clean files never need quotes.
        body = body.with_columns(pl.Series(EXTRA_COLUMN, notes).replace("", None))
    if style.shuffle_seed is not None:
        cols = body.columns
        body = body.select([cols[i] for i in np.random.default_rng(style.shuffle_seed).permutation(len(cols))])
    if style.chinese_headers:
        body = body.rename({c.name: c.chinese for c in FEEDS[feed].columns})
    return body


def write_xlsx(path: Path, feed: str, body: pl.DataFrame, day: date) -> None:
    """A real workbook: dates and datetimes as date cells, numbers and clean phones as numbers.

    ``body`` is text. Values that do not parse (dirty ones) stay text. Fixed document properties and
    xlsxwriter's fixed zip entry times (``in_memory``) keep the bytes the same from run to run.
    """
    kinds = {c.name: c.kind for c in FEEDS[feed].columns} | {c.chinese: c.kind for c in FEEDS[feed].columns}
    options = {
        "in_memory": True,
        "constant_memory": True,
        "strings_to_numbers": False,
        "strings_to_formulas": False,
        "strings_to_urls": False,
    }
    workbook = xlsxwriter.Workbook(str(path), options)
    workbook.set_properties({"title": feed, "author": "keqing", "created": datetime.combine(day, time(22, 30))})
    sheet = workbook.add_worksheet(feed)
    date_cell = workbook.add_format({"num_format": "yyyy-mm-dd"})
    datetime_cell = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    # Per column: the text, the typed value where the text parses (else None), how to write it.
    columns = []
    for j, name in enumerate(body.columns):
        text, kind = body[name], kinds.get(name, Kind.TEXT)
        typed, write = None, sheet.write_number
        if kind == Kind.DATE:
            typed = text.str.strptime(pl.Date, DATE_FORMAT, strict=False)
            write = partial(sheet.write_datetime, cell_format=date_cell)
        elif kind == Kind.DATETIME:
            typed = text.str.strptime(pl.Datetime, DATETIME_FORMAT, strict=False)
            write = partial(sheet.write_datetime, cell_format=datetime_cell)
        elif kind == Kind.PHONE:
            typed = text.str.extract(r"^(1[3-9]\d{9})$").cast(pl.Int64)
        elif kind in (Kind.INT, Kind.DECIMAL, Kind.BOOL):
            typed = text.cast(pl.Float64, strict=False)
        columns.append((text.to_list(), None if typed is None else typed.to_list(), write))
        sheet.set_column(j, j, 20 if kind in (Kind.DATETIME, Kind.PHONE) else 12)
    sheet.write_row(0, 0, body.columns)
    for i in range(body.height):
        for j, (text, typed, write) in enumerate(columns):
            if typed is not None and typed[i] is not None:
                write(i + 1, j, typed[i])
            elif text[i]:
                sheet.write_string(i + 1, j, text[i])
    workbook.close()
