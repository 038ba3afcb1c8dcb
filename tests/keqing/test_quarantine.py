"""Quarantined rows for people, pure: Chinese reasons for every code, the masked ops attachment and
the full export."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.feeds import FEEDS
from keqing.ingest import batch as B
from keqing.ingest.expectations import checks_for
from keqing.ingest.normalise import PARSE_REASONS
from keqing.quarantine import CELL_SCHEMA, ROW_SCHEMA, attachment_frame, export_frame, mask_name_expr


def test_every_reason_code_has_a_chinese_explanation():
    codes = set(B.REASON_TEXT) | set(PARSE_REASONS.values()) | set(B.WAITING_REASONS)
    for feed in FEEDS.values():
        codes |= {c.reason for c in checks_for(feed, dt.date(2000, 1, 1), dt.date(2027, 1, 1))}
    codes |= {"phone_lost_digits", "too_long", "wrong_role", "not_a_terminal", "not_a_doctor"}
    assert codes - set(B.REASON_TEXT_ZH) == set()
    assert set(B.REASON_TEXT_ZH) == set(B.REASON_TEXT)
    assert B.reason_zh("bad_phone").startswith("不是有效的手机号")
    assert B.reason_zh("no_such_code") == "no_such_code"


def test_names_keep_their_first_and_last_character():
    names = pl.DataFrame({"n": ["张三明", "李明", "欧阳小明", "王", " 赵敏 ", None]})
    assert names.select(mask_name_expr(pl.col("n")))["n"].to_list() == ["张*明", "李*", "欧**明", "*", "赵*", None]


ROWS = pl.DataFrame(
    [
        (7, "patients", "2026-11-01/patients.csv", 3, "age", "out_of_range", "rejected"),
        (8, "patients", "2026-11-01/patients.csv", 5, None, "wrong_field_count", "rejected"),
        (9, "purchases", "2026-11-01/purchases.csv", 2, "patient_id", "unknown_patient", "waiting"),
    ],
    schema=ROW_SCHEMA,
    orient="row",
)
CELLS = pl.DataFrame(
    [
        (7, 0, "patient_id", "P0007"),
        (7, 1, "name", "张三明"),
        (7, 2, "phone", "+86 138-1234-5678"),
        (7, 3, "age", "200"),
        (7, 4, "disease", "高血压"),
        (7, 5, "contact_name", "张小明"),
        (7, 6, "contact_relation", None),
        (8, 0, "_header", "patient_id,name,phone"),
        (8, 1, "_text", "P0008,李四,13912345678,多余"),
        (9, 0, "purchase_id", "B001"),
        (9, 1, "patient_id", "P0404"),
        (9, 2, "boxes", "3"),
    ],
    schema=CELL_SCHEMA,
    orient="row",
)


def test_the_ops_attachment_masks_names_phones_and_diseases_and_explains_the_reason():
    frame = attachment_frame(ROWS, CELLS)
    assert frame.columns == ["file", "line", "column", "reason", "reason_zh", "raw", "feed", "status", "id"]
    assert frame.select("id", "line", "reason_zh", "raw").rows() == [
        (
            7,
            3,
            "数值超出允许范围",
            "patient_id=P0007; name=张*明; phone=138****5678; age=200; disease=***; contact_name=张*明",
        ),
        (
            8,
            5,
            "该行的字段数与表头不一致",
            "_header=patient_id,name,phone; _text=P0008,李*,139****5678,多*",
        ),
        (9, 2, "患者未知，等待患者数据到达", "purchase_id=B001; patient_id=P0404; boxes=3"),
    ]


def test_the_export_has_every_cell_in_full_as_columns():
    frame = export_frame(ROWS, CELLS)
    assert frame.columns[:8] == ["id", "feed", "file", "line", "column", "reason", "reason_zh", "status"]
    row = frame.filter(pl.col("id") == 7).row(0, named=True)
    assert (row["name"], row["phone"], row["disease"], row["contact_name"]) == (
        "张三明",
        "+86 138-1234-5678",
        "高血压",
        "张小明",
    )
    assert frame.filter(pl.col("id") == 8)["_text"].to_list() == ["P0008,李四,13912345678,多余"]
    assert frame.filter(pl.col("id") == 9).select("purchase_id", "boxes").row(0) == ("B001", "3")
