"""CSV attachments (contract section 5): the contract's first columns, UTF-8 with BOM, inert cells.

Pure functions over Polars frames: a view's rows become a frame (``*_frame``), phones are masked
where the recipient is not the assigned nurse (``mask_phone_expr``), every text cell that a
spreadsheet would read as a formula is made inert (``inert_cells``), and ``csv_bytes`` writes the
file that Excel and WPS open directly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import polars.selectors as cs

from reports.views import (
    CALLBACK_REASONS,
    VISIT_REASONS,
    CallbackView,
    HomeVisitView,
    ManagerView,
    OpsView,
    RepView,
    View,
    grade_label,
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


def prepare_csv(frame: pl.DataFrame) -> pl.DataFrame:
    """Booleans as 是/否 and every text cell inert (``inert_cells``), in one pass."""
    return frame.with_columns(
        cs.boolean().replace_strict({True: "是", False: "否"}, default=None, return_dtype=pl.String),
        cs.string().str.replace(FORMULA_START, "'$1"),
    )


def write_csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 with BOM (Excel and WPS detect it), CRLF, ISO dates."""
    return frame.write_csv(include_bom=True, date_format="%Y-%m-%d", line_terminator="\r\n").encode("utf-8")


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """The frame as CSV for Excel and WPS: UTF-8 with BOM, ISO dates, 是/否 for booleans, inert cells."""
    return write_csv_bytes(prepare_csv(frame))


Spec = dict[str, tuple[Callable[[Any], Any], pl.DataType]]
STR, DATE, INT, BOOL = pl.String(), pl.Date(), pl.Int64(), pl.Boolean()


def _attr(name: str) -> Callable[[Any], Any]:
    return lambda row: getattr(row, name)


VISITS: Spec = {
    "customer_id": (_attr("customer_id"), STR),
    "customer_name": (_attr("customer_name"), STR),
    "grade": (_attr("grade"), STR),
    "institution": (_attr("institution"), STR),
    "department": (_attr("department"), STR),
    "reason": (_attr("reason"), STR),
    "reason_zh": (lambda t: VISIT_REASONS.get(t.reason, t.reason), STR),
    "other_reasons": (_attr("other_reasons"), STR),
    "other_reasons_zh": (lambda t: t.other_reasons_label or None, STR),
    "nine_box": (_attr("nine_box"), STR),
    "strategy": (_attr("strategy_label"), STR),
    "visits_this_month": (_attr("visits_this_month"), INT),
    "standard": (_attr("standard"), INT),
    "last_visit_date": (_attr("last_visit_date"), DATE),
}
CALLBACKS: Spec = {
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
EXPIRY: Spec = {
    "patient_id": (_attr("patient_id"), STR),
    "patient_name": (_attr("patient_name"), STR),
    "product_code": (_attr("product_code"), STR),
    "expiry_date": (_attr("expiry_date"), DATE),
    "product_name": (_attr("product_name"), STR),
    "repurchased": (_attr("repurchased"), BOOL),
}
# One line per village visit; ``patients`` lists the names (、-separated); phones are left out.
HOMEVISITS: Spec = {
    "village": (_attr("village"), STR),
    "township": (_attr("township"), STR),
    "event_id": (_attr("event_id"), STR),
    "visit_date": (_attr("visit_date"), DATE),
    "patients": (lambda v: "、".join(p.patient_name for p in v.patients), STR),
    "patient_count": (lambda v: len(v.patients), INT),
    "modal_boxes": (_attr("modal_boxes"), INT),
}
# The night's newly quarantined rows (ops): the raw row is masked before it gets here.
QUARANTINE: Spec = {
    "file": (_attr("file"), STR),
    "line": (_attr("line"), INT),
    "column": (_attr("column"), STR),
    "reason": (_attr("reason"), STR),
    "reason_zh": (_attr("reason_zh"), STR),
    "raw": (_attr("raw"), STR),
    "feed": (_attr("feed"), STR),
    "status": (_attr("status"), STR),
    "id": (_attr("id"), INT),
}

# Manager lists, whole (the body shows the first 50 movements and the ranking's top 10 and last 5).
GRADE_CHANGES: Spec = {
    "customer_id": (_attr("customer_id"), STR),
    "customer_name": (_attr("customer_name"), STR),
    "institution": (_attr("institution"), STR),
    "owner_staff_id": (_attr("owner_staff_id"), STR),
    "owner_name": (_attr("owner_name"), STR),
    "from_grade": (_attr("from_grade"), STR),
    "to_grade": (_attr("to_grade"), STR),
    "changed_on": (_attr("changed_on"), DATE),
    "from_grade_zh": (lambda m: grade_label(m.from_grade) if m.from_grade else "新", STR),
    "to_grade_zh": (lambda m: grade_label(m.to_grade), STR),
}
RANKING: Spec = {
    "rank": (_attr("rank"), INT),
    "staff_id": (_attr("staff_id"), STR),
    "staff_name": (_attr("staff_name"), STR),
    "role": (_attr("role"), STR),
    "completed": (_attr("completed"), INT),
    "planned": (_attr("planned"), INT),
    "attainment": (_attr("attainment"), pl.Float64()),
    "coverage": (_attr("coverage"), pl.Float64()),
}


def _frame(rows: Sequence[Any], spec: Spec) -> pl.DataFrame:
    """Columns built from row objects by getter, with an explicit dtype (so empty lists keep a schema)."""
    columns = {name: pl.Series(name, [get(r) for r in rows], dtype=dtype) for name, (get, dtype) in spec.items()}
    return pl.DataFrame(columns)


def mask_foreign_phones(frame: pl.DataFrame) -> pl.DataFrame:
    """A call's phone in full only when the recipient (``_recipient``) is the patient's assigned nurse."""
    mine = pl.col("assigned_staff_id") == pl.col("_recipient")
    return frame.with_columns(phone=pl.when(mine).then(pl.col("phone")).otherwise(mask_phone_expr("phone"))).drop(
        "assigned_staff_id", "_recipient"
    )


def callbacks_frame(view: CallbackView) -> pl.DataFrame:
    """Today's calls; the phone in full only where the recipient is the patient's assigned nurse."""
    frame = _frame(view.calls, CALLBACKS).with_columns(_recipient=pl.lit(view.recipient.staff_id, dtype=pl.String))
    return mask_foreign_phones(frame)


@dataclass(frozen=True)
class _List:
    """One kind of attached list: which views have it, its file name, its rows and columns."""

    applies: Callable[[View], bool]
    file_name: Callable[[View], str]
    rows: Callable[[Any], Sequence[Any]]
    spec: Spec


LISTS = (
    _List(lambda v: isinstance(v, RepView), lambda v: f"visits_{v.run_date}.csv", lambda v: v.targets, VISITS),
    _List(lambda v: isinstance(v, CallbackView), lambda v: f"callbacks_{v.run_date}.csv", lambda v: v.calls, CALLBACKS),
    _List(
        lambda v: isinstance(v, CallbackView) and v.expiry_month is not None,
        lambda v: f"expiry_{v.expiry_month:%Y-%m}.csv",
        lambda v: v.expiry_list,
        EXPIRY,
    ),
    _List(
        lambda v: isinstance(v, HomeVisitView), lambda v: f"homevisits_{v.run_date}.csv", lambda v: v.visits, HOMEVISITS
    ),
    _List(
        lambda v: isinstance(v, ManagerView) and bool(v.movements),
        lambda v: f"gradechanges_{v.run_date:%Y-%m}.csv",
        lambda v: v.movements,
        GRADE_CHANGES,
    ),
    _List(
        lambda v: isinstance(v, ManagerView) and v.shows_ranking,
        lambda v: f"ranking_{v.run_date}.csv",
        lambda v: v.ranking,
        RANKING,
    ),
    _List(
        lambda v: isinstance(v, OpsView) and bool(v.quarantine),
        lambda v: f"quarantine_{v.run_date}.csv",
        lambda v: v.quarantine,
        QUARANTINE,
    ),
)


def attachment_frames_many(views: Sequence[View]) -> list[list[tuple[str, pl.DataFrame]]]:
    """(file name, frame) of each list every view's email attaches (ops: the night's quarantined rows,
    when there are any).

    Each kind of list is one frame for all the views: masked and made inert once, then split by view.
    """
    out: list[list[tuple[str, pl.DataFrame]]] = [[] for _ in views]
    for kind in LISTS:
        chosen = [i for i, v in enumerate(views) if kind.applies(v)]
        if not chosen:
            continue
        rows: list[Any] = []
        index: list[int] = []
        recipients: list[str] = []
        for i in chosen:
            part = kind.rows(views[i])
            rows.extend(part)
            index.extend([i] * len(part))
            recipients.extend([views[i].recipient.staff_id] * len(part))
        frame = _frame(rows, kind.spec).with_columns(
            _view=pl.Series(index, dtype=pl.Int64), _recipient=pl.Series(recipients, dtype=pl.String)
        )
        frame = mask_foreign_phones(frame) if "assigned_staff_id" in frame.columns else frame.drop("_recipient")
        frame = prepare_csv(frame)
        parts = frame.partition_by("_view", as_dict=True, include_key=False)
        empty = frame.clear().drop("_view")
        for i in chosen:
            out[i].append((kind.file_name(views[i]), parts.get((i,), empty)))
    return out


def attachments_many(views: Sequence[View]) -> list[list[tuple[str, bytes]]]:
    """The CSV files of many views' emails, in view order (see ``attachment_frames_many``)."""
    return [[(name, write_csv_bytes(frame)) for name, frame in files] for files in attachment_frames_many(views)]


def attachments(view: View) -> list[tuple[str, bytes]]:
    return attachments_many([view])[0]


def parse_csv(data: bytes) -> pl.DataFrame:
    """Read an attachment back (tests, and anyone checking a file): every column as text."""
    return pl.read_csv(data, infer_schema=False, encoding="utf8")
