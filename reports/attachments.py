"""CSV attachments (contract section 5): the contract's first columns, UTF-8 with BOM, inert cells.

Pure functions over Polars frames: a view's rows become a frame (``*_frame``), phones are masked
where the recipient is not the assigned nurse (``mask_phone_expr``), every text cell that a
spreadsheet would read as a formula is made inert (``inert_cells``), and ``csv_bytes`` writes the
file that Excel and WPS open directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl
import polars.selectors as cs

from reports.views import (
    CALLBACK_REASONS,
    VISIT_REASONS,
    CallbackView,
    HomeVisitView,
    RepView,
    View,
)

# The contract's first columns, in order (section 5).
ATTACHMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "visits": ("customer_id", "customer_name", "grade", "institution", "department", "reason"),
    "callbacks": ("patient_id", "patient_name", "phone", "product_code", "reason", "due_date", "expiry_date"),
    "homevisits": ("village", "township", "event_id", "visit_date", "patients"),
    "expiry": ("patient_id", "patient_name", "product_code", "expiry_date"),
}

# OWASP CSV injection: a cell starting with one of these is read as a formula by Excel/WPS/LibreOffice.
FORMULA_START = r"^([=+\-@\t\r])"
MOBILE_MASK_KEEP = (3, 4)  # 138****5678


def mask_phone(phone: str | None) -> str | None:
    """``13812345678`` -> ``138****5678`` (first 3 and last 4 kept; short numbers fully hidden)."""
    if phone is None:
        return None
    head, tail = MOBILE_MASK_KEEP
    return phone[:head] + "****" + phone[-tail:] if len(phone) >= head + tail + 1 else "****"


def mask_phone_expr(column: str | pl.Expr) -> pl.Expr:
    """The vectorised ``mask_phone``."""
    col = pl.col(column) if isinstance(column, str) else column
    head, tail = MOBILE_MASK_KEEP
    return (
        pl.when(col.is_null())
        .then(pl.lit(None, dtype=pl.String))
        .when(col.str.len_chars() >= head + tail + 1)
        .then(pl.concat_str([col.str.slice(0, head), pl.lit("****"), col.str.slice(-tail)]))
        .otherwise(pl.lit("****"))
    )


def inert_cells(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text cell starting with ``=``, ``+``, ``-``, ``@``, tab or CR gets a leading ``'``."""
    return frame.with_columns(cs.string().str.replace(FORMULA_START, "'$1"))


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as CSV for Excel and WPS: UTF-8 with BOM, ISO dates, 是/否 for booleans, inert cells."""
    frame = frame.with_columns(
        cs.boolean().replace_strict({True: "是", False: "否"}, default=None, return_dtype=pl.String),
        cs.string().str.replace(FORMULA_START, "'$1"),  # = inert_cells, in the same pass
    )
    return frame.write_csv(include_bom=True, date_format="%Y-%m-%d", line_terminator="\r\n").encode("utf-8")


def _frame(rows: Sequence[Any], columns: dict[str, tuple[Callable[[Any], Any], pl.DataType]]) -> pl.DataFrame:
    """Columns built from row objects by getter, with an explicit dtype (so empty lists keep a schema)."""
    return pl.DataFrame(
        {name: pl.Series(name, [get(r) for r in rows], dtype=dtype) for name, (get, dtype) in columns.items()}
    )


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


STR, DATE, INT, BOOL = pl.String(), pl.Date(), pl.Int64(), pl.Boolean()


def visits_frame(view: RepView) -> pl.DataFrame:
    cols: dict[str, tuple[Callable[[Any], Any], pl.DataType]] = {
        "customer_id": (_attr("customer_id"), STR),
        "customer_name": (_attr("customer_name"), STR),
        "grade": (_attr("grade"), STR),
        "institution": (_attr("institution"), STR),
        "department": (_attr("department"), STR),
        "reason": (_attr("reason"), STR),
        "reason_zh": (lambda t: VISIT_REASONS.get(t.reason, t.reason), STR),
        "nine_box": (_attr("nine_box"), STR),
        "strategy": (_attr("strategy_label"), STR),
        "visits_this_month": (_attr("visits_this_month"), INT),
        "standard": (_attr("standard"), INT),
        "last_visit_date": (_attr("last_visit_date"), DATE),
    }
    return _frame(view.targets, cols)


def callbacks_frame(view: CallbackView) -> pl.DataFrame:
    """Today's calls; the phone in full only where the recipient is the patient's assigned nurse."""
    cols: dict[str, tuple[Callable[[Any], Any], pl.DataType]] = {
        "patient_id": (_attr("patient_id"), STR),
        "patient_name": (_attr("patient_name"), STR),
        "phone": (_attr("phone"), STR),
        "product_code": (_attr("product_code"), STR),
        "reason": (_attr("reason"), STR),
        "due_date": (_attr("due_date"), DATE),
        "expiry_date": (_attr("expiry_date"), DATE),
        "reason_zh": (lambda c: CALLBACK_REASONS.get(c.reason, c.reason), STR),
        "product_name": (_attr("product_name"), STR),
        "days_overdue": (_attr("days_overdue"), INT),
        "low_adherence": (_attr("low_adherence"), BOOL),
        "informed": (_attr("informed"), BOOL),
        "call_contact": (_attr("call_contact"), BOOL),
        "contact_name": (_attr("contact_name"), STR),
        "contact_relation": (_attr("contact_relation"), STR),
        "assigned_staff_id": (_attr("assigned_staff_id"), STR),
    }
    frame = _frame(view.calls, cols)
    mine = pl.col("assigned_staff_id") == view.recipient.staff_id
    return frame.with_columns(phone=pl.when(mine).then(pl.col("phone")).otherwise(mask_phone_expr("phone"))).drop(
        "assigned_staff_id"
    )


def expiry_frame(view: CallbackView) -> pl.DataFrame:
    cols: dict[str, tuple[Callable[[Any], Any], pl.DataType]] = {
        "patient_id": (_attr("patient_id"), STR),
        "patient_name": (_attr("patient_name"), STR),
        "product_code": (_attr("product_code"), STR),
        "expiry_date": (_attr("expiry_date"), DATE),
        "product_name": (_attr("product_name"), STR),
        "repurchased": (_attr("repurchased"), BOOL),
    }
    return _frame(view.expiry_list, cols)


def homevisits_frame(view: HomeVisitView) -> pl.DataFrame:
    """One line per village visit; ``patients`` lists the names (、-separated), phones are left out."""
    cols: dict[str, tuple[Callable[[Any], Any], pl.DataType]] = {
        "village": (_attr("village"), STR),
        "township": (_attr("township"), STR),
        "event_id": (_attr("event_id"), STR),
        "visit_date": (_attr("visit_date"), DATE),
        "patients": (lambda v: "、".join(p.patient_name for p in v.patients), STR),
        "patient_count": (lambda v: len(v.patients), INT),
        "modal_boxes": (_attr("modal_boxes"), INT),
    }
    return _frame(view.visits, cols)


def attachment_frames(view: View) -> list[tuple[str, pl.DataFrame]]:
    """(file name, frame) of each list the view's email attaches (none for managers and ops)."""
    day = view.run_date.isoformat()
    if isinstance(view, RepView):
        return [(f"visits_{day}.csv", visits_frame(view))]
    if isinstance(view, CallbackView):
        out = [(f"callbacks_{day}.csv", callbacks_frame(view))]
        if view.expiry_month is not None:
            out.append((f"expiry_{view.expiry_month:%Y-%m}.csv", expiry_frame(view)))
        return out
    if isinstance(view, HomeVisitView):
        return [(f"homevisits_{day}.csv", homevisits_frame(view))]
    return []


def attachments(view: View) -> list[tuple[str, bytes]]:
    return [(name, csv_bytes(frame)) for name, frame in attachment_frames(view)]


def parse_csv(data: bytes) -> pl.DataFrame:
    """Read an attachment back (tests, and anyone checking a file): every column as text."""
    return pl.read_csv(data, infer_schema=False, encoding="utf8")
