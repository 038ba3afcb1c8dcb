"""The pure steps that turn a feed's text rows into rows to load and rows to quarantine.

A batch is every new row of one feed in this run (from all its new files) plus the feed's rows
still waiting in quarantine. Bookkeeping columns: ``_row`` (position in the batch), ``_file_id``
(the ingest file), ``_line`` (line in that file) and ``_qid`` (the quarantine entry of a waiting
row, null for new rows).

Reasons come in stages; a row is judged by the first stage that finds anything:
structure (reader) -> types (normaliser) -> expectations (Great Expectations) -> cutoff -> references.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from keqing.feeds import FEEDS, Feed
from keqing.ingest.normalise import ROW
from keqing.ingest.reader import Problem, RawFile

FILE = "_file_id"
LINE = "_line"
QID = "_qid"

REFERENCE_REASONS = {
    "offices": "unknown_office",
    "staff": "unknown_staff",
    "products": "unknown_product",
    "customers": "unknown_customer",
    "patients": "unknown_patient",
}
# Rows with only these reasons wait in quarantine and are retried by every later run.
WAITING_REASONS = frozenset({"after_cutoff", "unknown_target", *REFERENCE_REASONS.values()})
# Role a referenced staff member must have, by (feed, column).
REQUIRED_ROLES = {
    ("patients", "callback_staff_id"): "callback",
    ("patients", "home_visit_staff_id"): "home_visit",
}
# Kind a referenced customer must be, by feed.
REQUIRED_CUSTOMER_KIND = {"orders": ("terminal", "not_a_terminal"), "rx_monthly": ("doctor", "not_a_doctor")}

# What each reason code means, for quarantine messages and the docs.
REASON_TEXT = {
    "bad_encoding": "bytes that are neither UTF-8 nor GB18030",
    "unbalanced_quote": "a quote is opened and never closed",
    "bad_quoting": "a field is quoted the wrong way",
    "bad_header": "the header line cannot be read (a broken quote)",
    "wrong_field_count": "the line has a different number of fields than the header",
    "missing_column": "the file lacks a required column",
    "empty_file": "the file has no header line",
    "not_text": "the file is not text",
    "bad_workbook": "the workbook cannot be read",
    "bad_date": "not a date (use 2026-11-21, 2026/11/21, 20261121 or an Excel date)",
    "bad_datetime": "not a date and time (use 2026-11-21 09:30[:00])",
    "bad_month": "not a month (use 2026-11)",
    "bad_bool": "not a yes/no value (use 1/0, true/false, 是/否, Y/N)",
    "bad_number": "not a number",
    "phone_lost_digits": "the phone number lost digits in Excel (scientific notation); export it as text",
    "missing_value": "a required value is empty",
    "bad_value": "not one of the allowed values",
    "out_of_range": "the number is out of the allowed range",
    "too_long": "the value is longer than the column allows (ids 64 characters, e-mails 254, text 1,000)",
    "implausible_date": "an implausible date (before ingest.earliest_date or over ingest.latest_days_ahead days ahead)",
    "bad_phone": "not a mainland mobile (1[3-9] and 9 digits) or landline (0AA(A)-NNNNNNN(N))",
    "bad_email": "not an e-mail address",
    "bad_codes": "more than two product codes, or an empty one",
    "duplicate_id": "the same id appears twice in the file with different values",
    "after_cutoff": "dated on or after the run date; waits for a later run",
    "unknown_office": "unknown office; waits until the office arrives",
    "unknown_staff": "unknown staff member; waits until the staff member arrives",
    "unknown_product": "unknown product; waits until the product arrives",
    "unknown_customer": "unknown customer; waits until the customer arrives",
    "unknown_patient": "unknown patient; waits until the patient arrives",
    "unknown_target": "unknown customer or patient visited; waits until it arrives",
    "wrong_role": "the staff member does not have the role this column needs",
    "not_a_terminal": "orders are for third-terminal customers only",
    "not_a_doctor": "prescription figures are for prescribing doctors only",
}

# The same reasons in Chinese, for ops (the ops email, its quarantine attachment, `keqing quarantine`).
REASON_TEXT_ZH = {
    "bad_encoding": "文件编码既不是 UTF-8 也不是 GB18030",
    "unbalanced_quote": "引号只开未关",
    "bad_quoting": "字段的引号用法不对",
    "bad_header": "表头行无法读取（引号损坏）",
    "wrong_field_count": "该行的字段数与表头不一致",
    "missing_column": "文件缺少必填列",
    "empty_file": "文件没有表头行",
    "not_text": "文件不是文本文件",
    "bad_workbook": "Excel 工作簿无法读取",
    "bad_date": "不是日期（请用 2026-11-21、2026/11/21、20261121 或 Excel 日期）",
    "bad_datetime": "不是日期时间（请用 2026-11-21 09:30[:00]）",
    "bad_month": "不是月份（请用 2026-11）",
    "bad_bool": "不是“是/否”值（请用 1/0、true/false、是/否、Y/N）",
    "bad_number": "不是数字",
    "phone_lost_digits": "电话号码在 Excel 中丢失了位数（科学计数法），请以文本格式导出",
    "missing_value": "必填值为空",
    "bad_value": "不是允许的取值",
    "out_of_range": "数值超出允许范围",
    "too_long": "内容超过该列允许的长度（编号 64 字、邮箱 254 字、文本 1,000 字）",
    "implausible_date": "日期不合理（早于 ingest.earliest_date，或比运行日期晚 ingest.latest_days_ahead 天以上）",
    "bad_phone": "不是有效的手机号（1[3-9] 开头共 11 位）或固定电话（0AA(A)-NNNNNNN(N)）",
    "bad_email": "不是有效的邮箱地址",
    "bad_codes": "产品编码超过两个，或有空编码",
    "duplicate_id": "同一文件中同一编号出现两次且内容不同",
    "after_cutoff": "日期在运行日期当天或之后，等待以后的运行",
    "unknown_office": "办事处未知，等待办事处数据到达",
    "unknown_staff": "员工未知，等待员工数据到达",
    "unknown_product": "产品未知，等待产品数据到达",
    "unknown_customer": "客户未知，等待客户数据到达",
    "unknown_patient": "患者未知，等待患者数据到达",
    "unknown_target": "拜访对象（客户或患者）未知，等待其数据到达",
    "wrong_role": "该员工的角色不符合此列的要求",
    "not_a_terminal": "订单只能属于第三终端客户",
    "not_a_doctor": "处方数据只能属于处方医生",
}


def reason_zh(reason: str) -> str:
    """The Chinese explanation of a reason code (the code itself for one without any)."""
    return REASON_TEXT_ZH.get(reason, reason)


ERROR_SCHEMA = {ROW: pl.UInt32, "column": pl.String, "reason": pl.String}


def empty_errors() -> pl.DataFrame:
    return pl.DataFrame(schema=ERROR_SCHEMA)


def _errors(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(ROW, "column", "reason").cast(ERROR_SCHEMA)


def split_exact_duplicates(rows: pl.DataFrame, feed: Feed) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop rows identical to an earlier row of the same file; return (rows, duplicates per file)."""
    new = pl.col(QID).is_null()
    first = pl.struct(FILE, *feed.column_names).is_first_distinct()
    keep = ~new | first
    duplicates = rows.filter(~keep).group_by(FILE).agg(pl.len().alias("duplicates"))
    return rows.filter(keep), duplicates


def cutoff_errors(feed: Feed, typed: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """Rows dated after the run's cutoff (``run_date - 1``): they wait for a later run."""
    if feed.dated_by is None or typed.height == 0:
        return empty_errors()
    value = pl.col(feed.dated_by)
    day = value.dt.month_end() if feed.column(feed.dated_by).kind == "month" else value.cast(pl.Date)
    late = typed.filter(day > cutoff)
    return _errors(late.with_columns(column=pl.lit(feed.dated_by), reason=pl.lit("after_cutoff")))


@dataclass(frozen=True)
class Known:
    """What the database (plus this run's earlier feeds) already holds, for reference checks."""

    offices: pl.DataFrame  # office_code
    staff: pl.DataFrame  # staff_id, role
    products: pl.DataFrame  # product_code
    customers: pl.DataFrame  # customer_id, kind
    patients: pl.DataFrame  # patient_id

    def ids(self, feed: str) -> pl.DataFrame:
        frame: pl.DataFrame = getattr(self, feed)
        return frame.select(pl.col(FEEDS[feed].key[0]).alias("_ref"))


def referenced_feeds(feed: Feed) -> set[str]:
    """The master feeds whose ids ``reference_errors`` looks up for ``feed`` (the others need not be read)."""
    needed = {c.references[0] for c in feed.columns if c.references is not None}
    if any((feed.name, c.name) in REQUIRED_ROLES for c in feed.columns):
        needed.add("staff")
    if feed.name == "visits":
        needed |= {"customers", "patients"}
    return needed


def referenced_ids(feed: Feed, typed: pl.DataFrame) -> dict[str, pl.Series]:
    """The distinct ids that ``reference_errors`` looks up in each master feed for ``typed``'s rows.

    The keys are ``referenced_feeds(feed)``: reading only these ids from the database makes the check
    cost what the night brings, not what the master tables hold.
    """
    found: dict[str, list[pl.Series]] = {}
    for column in feed.columns:
        if column.references is not None:
            found.setdefault(column.references[0], []).append(typed[column.name])
    if feed.name == "visits":
        for target, target_type in (("customers", "customer"), ("patients", "patient")):
            found.setdefault(target, []).append(typed.filter(pl.col("target_type") == target_type)["target_id"])
    return {target: pl.concat(series).drop_nulls().unique().sort() for target, series in found.items()}


def reference_errors(feed: Feed, typed: pl.DataFrame, known: Known) -> pl.DataFrame:
    """Unknown references (waiting), and references to the wrong kind of record (rejected)."""
    if typed.height == 0:
        return empty_errors()
    found: list[pl.DataFrame] = []
    for column in feed.columns:
        if column.references is None:
            continue
        target, _ = column.references
        probe = typed.select(ROW, pl.col(column.name).alias("_ref")).filter(pl.col("_ref").is_not_null())
        missing = probe.join(known.ids(target), on="_ref", how="anti")
        found.append(missing.with_columns(column=pl.lit(column.name), reason=pl.lit(REFERENCE_REASONS[target])))
        role = REQUIRED_ROLES.get((feed.name, column.name))
        if role is not None:
            wrong = probe.join(known.staff.rename({"staff_id": "_ref"}), on="_ref").filter(pl.col("role") != role)
            found.append(wrong.with_columns(column=pl.lit(column.name), reason=pl.lit("wrong_role")))
        if target == "customers" and feed.name in REQUIRED_CUSTOMER_KIND:
            kind, reason = REQUIRED_CUSTOMER_KIND[feed.name]
            wrong = probe.join(known.customers.rename({"customer_id": "_ref"}), on="_ref").filter(
                pl.col("kind") != kind
            )
            found.append(wrong.with_columns(column=pl.lit(column.name), reason=pl.lit(reason)))
    if feed.name == "visits":
        targets = pl.concat(
            [
                known.ids("customers").with_columns(target_type=pl.lit("customer")),
                known.ids("patients").with_columns(target_type=pl.lit("patient")),
            ]
        )
        probe = typed.select(ROW, "target_type", pl.col("target_id").alias("_ref"))
        missing = probe.join(targets, on=["target_type", "_ref"], how="anti")
        found.append(missing.with_columns(column=pl.lit("target_id"), reason=pl.lit("unknown_target")))
    return pl.concat([_errors(f) for f in found]) if found else empty_errors()


def assemble_quarantine(rows: pl.DataFrame, errors: pl.DataFrame) -> pl.DataFrame:
    """One quarantine entry per failing row: its first reason (rejected ones before waiting ones),
    every ``column:reason`` in ``details``, and ``status`` waiting or rejected."""
    if errors.height == 0:
        return pl.DataFrame(
            schema={
                ROW: pl.UInt32,
                "column": pl.String,
                "reason": pl.String,
                "details": pl.List(pl.String),
                "status": pl.String,
                FILE: pl.Int64,
                LINE: pl.Int64,
                QID: pl.Int64,
            }
        )
    ranked = errors.with_row_index("_order").with_columns(_waiting=pl.col("reason").is_in(list(WAITING_REASONS)))
    per_row = (
        ranked.sort([ROW, "_waiting", "_order"])
        .group_by(ROW, maintain_order=True)
        .agg(
            pl.col("column").first(),
            pl.col("reason").first(),
            (pl.col("column") + ":" + pl.col("reason")).sort_by("_order").unique(maintain_order=True).alias("details"),
            pl.col("_waiting").all().alias("_all_waiting"),
        )
        .with_columns(status=pl.when(pl.col("_all_waiting")).then(pl.lit("waiting")).otherwise(pl.lit("rejected")))
        .drop("_all_waiting")
    )
    return per_row.join(rows.select(ROW, FILE, LINE, QID), on=ROW, how="left")


def latest_per_key(valid: pl.DataFrame, feed: Feed) -> pl.DataFrame:
    """One row per key: the latest file wins, and within a file the later line."""
    return valid.sort([FILE, LINE]).unique(subset=list(feed.key), keep="last", maintain_order=True)


# --- structural problems and waiting rows ----------------------------------------------------


PROBLEM_SCHEMA = {
    FILE: pl.Int64,
    LINE: pl.Int64,
    "column": pl.String,
    "reason": pl.String,
    "message": pl.String,
    "raw": pl.Object,
}


def problem_frame(file_id: int, problems: list[Problem]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            FILE: [file_id] * len(problems),
            LINE: [p.line for p in problems],
            "column": [p.column for p in problems],
            "reason": [p.reason for p in problems],
            "message": [p.message for p in problems],
            "raw": [p.raw for p in problems],
        },
        schema=PROBLEM_SCHEMA,
    )


def record_key(feed: Feed) -> pl.Expr:
    """A row's key as one text (``|``-joined, e.g. ``2026-11-01|D001|PR01``), null when a part is null.

    Computed from the typed columns, so a quarantined row and the same record loaded from a fixed
    file later have the same key.
    """
    return pl.concat_str([pl.col(k).cast(pl.String) for k in feed.key], separator="|").alias("record_key")


def waiting_schema(feed: str) -> dict[str, pl.DataType]:
    """Waiting rows as a batch takes them: quarantine id, file, line and the feed's text cells."""
    return {QID: pl.Int64, FILE: pl.Int64, LINE: pl.Int64, **{c: pl.String for c in FEEDS[feed].column_names}}


def rejected_file_problems(file_id: int, raw: RawFile) -> pl.DataFrame:
    """A rejected file: every data line is quarantined with the file's reason (or one entry at line 1)."""
    message = raw.messages[-1]
    if raw.rows_read == 0:
        return problem_frame(
            file_id,
            [Problem(1, raw.rejected_column, raw.rejected_reason, f"line 1: {message}", {"_text": raw.header_line})],
        )
    return problem_frame(
        file_id,
        [
            Problem(
                line,
                raw.rejected_column,
                raw.rejected_reason,
                f"line {line}: {message}",
                {"_header": raw.header_line, "_text": text},
            )
            for line, text in raw.rejected_lines
        ],
    )


def waiting_frame(feed: str, found: list[tuple[int, int, int, dict[str, str | None]]]) -> pl.DataFrame:
    """Rows waiting in quarantine, (id, file_id, line, raw cells) each, as text rows of the batch."""
    columns = FEEDS[feed].column_names
    data: dict[str, list] = {QID: [], FILE: [], LINE: [], **{c: [] for c in columns}}
    for qid, file_id, line, raw in found:
        data[QID].append(qid)
        data[FILE].append(file_id)
        data[LINE].append(line)
        for c in columns:
            data[c].append(raw.get(c))
    return pl.DataFrame(data, schema=waiting_schema(feed))
