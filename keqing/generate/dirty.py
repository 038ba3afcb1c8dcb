"""Dirty input, mixed in deterministically: defects of whole files and of single rows.

Row defects: chosen rows of a feed are turned into text rows (``_dirty`` names the kind, one kind per
row) that replace the original in its day's file, or join a file (duplicates, corrections), or move
to the next day (late master data). File defects (encoding, BOM, headers, column order, an extra
column, Excel) are drawn per file. ``EXPECTED`` says what the contract asks the pipeline to do with
each kind; the manifest repeats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from keqing.generate.scales import rng
from keqing.generate.text import as_text

# What the pipeline should do with each kind (contract sections 2 and 3).
EXPECTED: dict[str, str] = {
    # rows
    "phone_excel_float": "load: an Excel number that kept every digit (13812345678.0)",
    "phone_excel_sci": "load: scientific notation that kept every digit (1.3812345678E10)",
    "phone_formatted": "load: +86 / 86 prefix, spaces or dashes",
    "phone_lost_digits": "quarantine: Excel dropped digits (1.38E+10)",
    "date_alt_format": "load: 2026/11/21, 2026/1/5 or 20261121 (with the time for datetimes)",
    "date_invalid": "quarantine: not a date (2026-13-45, yesterday)",
    "bool_alt_format": "load: true/false, 是/否 or Y/N",
    "unknown_reference": "quarantine: the patient or customer never exists (waits forever)",
    "duplicate_row": "skip: exact duplicate of the row above it in the same file",
    "corrected_id": "update: a record sent again in a later day's file with a corrected value",
    "bad_quantity": "quarantine: boxes or quantity out of range (0, negative, 5000)",
    "late_master": "load: the patient's row comes a day after their first purchase (which waits)",
    # files
    "gb18030": "load: the file is encoded GB18030",
    "utf8_bom": "load: UTF-8 with a byte-order mark",
    "chinese_headers": "load: Chinese column names",
    "shuffled_columns": "load: columns in another order",
    "extra_column": "load: an unknown extra column 备注, reported once",
    "xlsx": "load: an Excel workbook (dates as date cells, phones as numbers)",
}

# Row defects per feed: (kind, column). Each gets an equal share of the feed's dirty rows.
ROW_DEFECTS: dict[str, tuple[tuple[str, str], ...]] = {
    "staff": (("bool_alt_format", "active"),),
    "customers": (("bool_alt_format", "is_kol"),),
    "patients": (
        ("phone_excel_float", "phone"),
        ("phone_excel_sci", "phone"),
        ("phone_lost_digits", "phone"),
        ("phone_formatted", "phone"),
        ("bool_alt_format", "informed"),
        ("late_master", "patient_id"),
        ("corrected_id", "age"),
        ("duplicate_row", ""),
    ),
    "purchases": (
        ("date_alt_format", "purchase_date"),
        ("date_invalid", "purchase_date"),
        ("unknown_reference", "patient_id"),
        ("duplicate_row", ""),
        ("corrected_id", "boxes"),
        ("bad_quantity", "boxes"),
    ),
    "visits": (
        ("date_alt_format", "visit_at"),
        ("date_invalid", "visit_at"),
        ("unknown_reference", "target_id"),
        ("duplicate_row", ""),
    ),
    "consults": (
        ("phone_excel_float", "phone"),
        ("phone_excel_sci", "phone"),
        ("phone_lost_digits", "phone"),
        ("phone_formatted", "phone"),
        ("date_alt_format", "received_at"),
        ("date_invalid", "received_at"),
        ("bool_alt_format", "came_in"),
        ("duplicate_row", ""),
    ),
    "orders": (
        ("date_alt_format", "order_date"),
        ("date_invalid", "order_date"),
        ("unknown_reference", "customer_id"),
        ("duplicate_row", ""),
        ("corrected_id", "amount"),
        ("bad_quantity", "quantity"),
    ),
}

# Share of files with each file defect (when dirty > 0). xlsx only for files of at most XLSX_MAX_ROWS.
FILE_RATES = {
    "gb18030": 0.10,
    "utf8_bom": 0.08,
    "chinese_headers": 0.10,
    "shuffled_columns": 0.08,
    "extra_column": 0.05,
    "xlsx": 0.05,
}
XLSX_MAX_ROWS = 2_000


@dataclass
class FileStyle:
    """How one file is written."""

    xlsx: bool = False
    encoding: str = "utf-8"  # utf-8, utf-8-sig or gb18030 (CSV only)
    chinese_headers: bool = False
    shuffle_seed: int | None = None  # column order drawn from this seed
    extra_column: bool = False
    kinds: list[str] = field(default_factory=list)


def file_style(seed: int, feed: str, day: int, rows: int, dirty: float) -> FileStyle:
    """The style of the file of ``feed`` on ``day``: plain UTF-8 CSV when ``dirty`` is 0."""
    if dirty <= 0:
        return FileStyle()
    u = rng(seed, f"file:{feed}:{day}").random(7)
    style = FileStyle()
    if u[0] < FILE_RATES["xlsx"] and rows <= XLSX_MAX_ROWS:
        style.xlsx = True
        style.kinds.append("xlsx")
    elif u[1] < FILE_RATES["gb18030"]:
        style.encoding = "gb18030"
        style.kinds.append("gb18030")
    elif u[2] < FILE_RATES["utf8_bom"]:
        style.encoding = "utf-8-sig"
        style.kinds.append("utf8_bom")
    if u[3] < FILE_RATES["chinese_headers"]:
        style.chinese_headers = True
        style.kinds.append("chinese_headers")
    if u[4] < FILE_RATES["shuffled_columns"]:
        style.shuffle_seed = int(u[6] * 2**31)
        style.kinds.append("shuffled_columns")
    if u[5] < FILE_RATES["extra_column"]:
        style.extra_column = True
        style.kinds.append("extra_column")
    return style


# --------------------------------------------------------------------------------------------------
# Row defects


@dataclass
class Injected:
    """Row defects injected: counts per feed and kind."""

    by_feed: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, feed: str, kind: str, n: int) -> None:
        if n:
            kinds = self.by_feed.setdefault(feed, {})
            kinds[kind] = kinds.get(kind, 0) + n

    def totals(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for kinds in self.by_feed.values():
            for kind, n in kinds.items():
                out[kind] = out.get(kind, 0) + n
        return dict(sorted(out.items()))


@dataclass
class DirtyRows:
    """The dirty rows of one feed, as text rows merged into the day files at write time.

    ``replaced`` lists positions of the feed's frame whose row is replaced by a dirty version (or
    moved to the next day); ``extra`` holds the dirty rows with ``_day``, ``_order`` and ``_dirty``.
    """

    replaced: np.ndarray
    extra: pl.DataFrame | None


def inject_rows(seed: int, feed: str, frame: pl.DataFrame, days: int, dirty: float, injected: Injected) -> DirtyRows:
    """Choose and make the dirty rows of one feed; ``frame`` (prepared, sorted by ``_day``) is left
    as it is. Each kind gets an equal share of ``dirty`` of the feed's rows, at least one row."""
    defects = ROW_DEFECTS.get(feed, ())
    if dirty <= 0 or not defects or frame.height == 0:
        return DirtyRows(np.zeros(0, dtype=np.int64), None)
    r = rng(seed, f"dirty:{feed}")
    n_each = max(1, round(dirty * frame.height / len(defects)))
    day = frame["_day"].to_numpy()
    # Candidates in random order, plenty for every kind; each row gets at most one kind.
    candidates = r.choice(frame.height, size=min(frame.height, 3 * n_each * len(defects) + 50), replace=False)
    used = np.zeros(len(candidates), dtype=bool)
    replaced: list[np.ndarray] = []
    extras: list[pl.DataFrame] = []
    for kind, column in defects:
        eligible = ~used
        if kind == "corrected_id":
            eligible &= day[candidates] < days - 1
        if kind == "late_master":
            eligible &= (day[candidates] > 0) & (day[candidates] < days - 1)
        pick = np.flatnonzero(eligible)[:n_each]
        if len(pick) == 0:
            continue
        used[pick] = True
        rows = np.sort(candidates[pick])
        injected.add(feed, kind, len(rows))
        sub = as_text(frame[rows]).with_columns(_dirty=pl.lit(kind, dtype=pl.String))
        if kind == "duplicate_row":  # right below the original
            extras.append(sub.with_columns(pl.col("_order") + 0.5))
        elif kind == "corrected_id":  # sent again in a later day's file, at its end
            later = np.minimum(sub["_day"].to_numpy() + r.integers(1, 6, len(rows)), days - 1)
            extras.append(sub.with_columns(_correct(feed), _day=pl.Series(later), _order=pl.col("_order") + 1e12))
        elif kind == "late_master":  # comes with the next day's file
            replaced.append(rows)
            extras.append(sub.with_columns(pl.col("_day") + 1))
        else:
            replaced.append(rows)
            variant = pl.Series("_v", r.integers(0, 4, len(rows)))
            altered = sub.with_columns(variant).with_columns(_altered(kind, feed, column, r, len(rows)).alias(column))
            extras.append(altered.drop("_v"))
    positions = np.sort(np.concatenate(replaced)) if replaced else np.zeros(0, dtype=np.int64)
    return DirtyRows(positions, pl.concat(extras) if extras else None)


def _altered(kind: str, feed: str, column: str, r: np.random.Generator, n: int) -> pl.Expr:
    """The dirty value of ``column`` for the rows of a sub-frame with a random ``_v`` in 0..3."""
    c, v = pl.col(column), pl.col("_v")
    if kind == "phone_excel_float":
        return c + ".0"
    if kind == "phone_excel_sci":
        return c.str.slice(0, 1) + "." + c.str.slice(1) + "E10"
    if kind == "phone_lost_digits":
        return c.str.slice(0, 1) + "." + c.str.slice(1, 2) + "E+10"
    if kind == "phone_formatted":
        a, b, d = c.str.slice(0, 3), c.str.slice(3, 4), c.str.slice(7, 4)
        return (
            pl.when(v == 0)
            .then("+86 " + a + " " + b + " " + d)
            .when(v == 1)
            .then(a + "-" + b + "-" + d)
            .when(v == 2)
            .then("86-" + c)
            .otherwise(a + " " + b + " " + d)
        )
    if kind == "date_alt_format":  # 2026/11/21, 2026/1/5 (no padding, minutes only) or 20261121
        y, m, d, rest = c.str.slice(0, 4), c.str.slice(5, 2), c.str.slice(8, 2), c.str.slice(10)
        unpadded = y + "/" + m.str.strip_chars_start("0") + "/" + d.str.strip_chars_start("0")
        return (
            pl.when(v % 3 == 0)
            .then(y + "/" + m + "/" + d + rest)
            .when(v % 3 == 1)
            .then(unpadded + rest.str.slice(0, 6))
            .otherwise(y + m + d + rest)
        )
    if kind == "date_invalid":
        rest = c.str.slice(10)
        return (
            pl.when(v % 3 == 0)
            .then(c.str.slice(0, 4) + "-13-45" + rest)
            .when(v % 3 == 1)
            .then(pl.lit("yesterday"))
            .otherwise(c.str.slice(0, 4) + "-02-30" + rest)
        )
    if kind == "bool_alt_format":
        true, false = pl.lit(pl.Series(["true", "是", "Y", "true"])), pl.lit(pl.Series(["false", "否", "N", "false"]))
        return pl.when(c == "1").then(true.gather(v)).otherwise(false.gather(v))
    if kind == "unknown_reference":  # ids that never exist: P9xxxxxx, C9xxxxxx
        digits = pl.lit(pl.Series(r.integers(0, 1_000_000, n)).cast(pl.String).str.zfill(6))
        if feed == "visits":
            prefix = pl.when(pl.col("target_type") == "patient").then(pl.lit("P9")).otherwise(pl.lit("C9"))
        else:
            prefix = pl.lit("P9" if feed == "purchases" else "C9")
        return prefix + digits
    if kind == "bad_quantity":
        bad = ["0", "5000", "-1", "0"] if feed == "purchases" else ["0", "-5", "0", "-5"]
        return pl.lit(pl.Series(bad)).gather(v)
    raise ValueError(kind)


def _correct(feed: str) -> pl.Expr:
    """The corrected values sent again later."""
    if feed == "purchases":  # one box more, the amount to match
        boxes = pl.col("boxes").cast(pl.Int64)
        price = pl.col("amount").cast(pl.Float64) / boxes
        return pl.struct(
            boxes=(boxes + 1).cast(pl.String),
            amount=((boxes + 1) * price).round(2).cast(pl.Decimal(14, 2)).cast(pl.String),
        ).struct.unnest()
    if feed == "orders":  # a price correction
        amount = (pl.col("amount").cast(pl.Float64) * 0.95).round(2)
        return amount.cast(pl.Decimal(14, 2)).cast(pl.String).alias("amount")
    return (pl.col("age").cast(pl.Int64) + 1).cast(pl.String).alias("age")
