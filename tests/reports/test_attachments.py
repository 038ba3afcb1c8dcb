"""CSV attachments: the contract's first columns, UTF-8 with BOM, inert formula cells, masked phones."""

from __future__ import annotations

import csv
import datetime as dt
import io

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from reports.attachments import (
    ATTACHMENT_COLUMNS,
    attachments,
    callbacks_frame,
    csv_bytes,
    inert_cells,
    mask_phone,
    mask_phone_expr,
    parse_csv,
)
from tests.reports.factories import (
    call,
    callback_view,
    expiry,
    home_visit_view,
    rep_view,
    target,
    village,
)


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("010-12345678", "010****5678"),
        ("0571-8765432", "057****5432"),
        ("1234567", "****"),
        (None, None),
    ],
)
def test_mask_phone_keeps_the_first_three_and_last_four(phone, masked):
    assert mask_phone(phone) == masked
    assert pl.select(mask_phone_expr(pl.lit(phone, dtype=pl.String))).item() == masked


def test_inert_cells_prefixes_every_formula_start_with_a_quote_and_leaves_the_rest():
    frame = pl.DataFrame(
        {
            "name": ['=HYPERLINK("http://x")', "+86", "-1", "@SUM(A1)", "\tx", "\rx", "a=b", "赵敏", None],
            "boxes": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    )
    expected = pl.DataFrame(
        {
            "name": ['\'=HYPERLINK("http://x")', "'+86", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "a=b", "赵敏", None],
            "boxes": [-1, 2, 3, 4, 5, 6, 7, 8, 9],
        }
    )
    assert_frame_equal(inert_cells(frame), expected)


def test_csv_bytes_is_utf8_with_bom_iso_dates_chinese_booleans_and_crlf():
    frame = pl.DataFrame(
        {"patient_name": ["赵敏", "=1+1"], "due_date": [dt.date(2026, 11, 24), None], "repurchased": [True, False]}
    )
    assert csv_bytes(frame) == (
        "\ufeffpatient_name,due_date,repurchased\r\n赵敏,2026-11-24,是\r\n'=1+1,,否\r\n".encode()
    )


def _columns(data: bytes) -> list[str]:
    assert data.startswith(b"\xef\xbb\xbf")
    return next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_every_attachment_parses_back_with_the_contracts_first_columns():
    rep = rep_view([target("C1", "赵医生", "市一医院", "心内科", grade="A", reason="appointment")])
    cb = callback_view(
        [call("P1", "赵敏", "13812345678", reason="overdue", days_overdue=2)],
        expiry_month=dt.date(2026, 11, 1),
        expiry_list=[expiry("P1", "赵敏", 28)],
        must_keep=1,
        target=1,
    )
    hv = home_visit_view([village("横畈村", [("P7", "孙丽", "13712345678"), ("P8", "周强", "13612345678")])])
    files = dict(attachments(rep) + attachments(cb) + attachments(hv))
    assert sorted(files) == [
        "callbacks_2026-11-24.csv",
        "expiry_2026-11.csv",
        "homevisits_2026-11-24.csv",
        "visits_2026-11-24.csv",
    ]
    for name, data in files.items():
        kind = name.split("_")[0]
        contract = list(ATTACHMENT_COLUMNS[kind])
        assert _columns(data)[: len(contract)] == contract, name
        parsed = parse_csv(data)
        assert parsed.columns[: len(contract)] == contract
        assert parsed.height == 1, name

    visits = parse_csv(files["visits_2026-11-24.csv"]).select(ATTACHMENT_COLUMNS["visits"])
    assert visits.row(0) == ("C1", "赵医生", "A", "市一医院", "心内科", "appointment")
    calls = parse_csv(files["callbacks_2026-11-24.csv"]).select(ATTACHMENT_COLUMNS["callbacks"])
    assert calls.row(0) == ("P1", "赵敏", "13812345678", "PR01", "overdue", "2026-11-24", "2026-12-10")
    exp = parse_csv(files["expiry_2026-11.csv"]).select(ATTACHMENT_COLUMNS["expiry"])
    assert exp.row(0) == ("P1", "赵敏", "PR01", "2026-11-28")
    homes = parse_csv(files["homevisits_2026-11-24.csv"])
    assert homes.row(0) == ("横畈村", "於潜镇", "E01", "2026-11-24", "孙丽、周强", "2", "7")


def test_a_name_starting_with_equals_is_inert_in_the_attachment():
    rep = rep_view([target("C1", "=cmd|' /C calc'!A0", "@医院", "-科室")])
    ((_, data),) = attachments(rep)
    row = parse_csv(data).row(0, named=True)
    assert (row["customer_name"], row["institution"], row["department"]) == ("'=cmd|' /C calc'!A0", "'@医院", "'-科室")


def test_callback_phones_in_full_for_the_assigned_nurse_only():
    view = callback_view(
        [call("P1", "赵敏", "13812345678"), call("P2", "钱多", "13912345678", assigned_staff_id="S099")]
    )
    assert callbacks_frame(view)["phone"].to_list() == ["13812345678", "139****5678"]


def test_home_visit_attachment_has_no_phones():
    hv = home_visit_view([village("横畈村", [("P7", "孙丽", "13712345678")])])
    ((_, data),) = attachments(hv)
    assert b"13712345678" not in data and b"5678" not in data


def test_many_views_at_once_give_each_view_exactly_its_own_files():
    from reports.attachments import attachments_many

    views = [
        rep_view([target("C1", "赵医生", "市一医院", "心内科")], staff_id="S001"),
        callback_view(
            [call("P1", "赵敏", "13812345678", assigned_staff_id="S002")],
            staff_id="S002",
            expiry_month=dt.date(2026, 11, 1),
            expiry_list=[expiry("P1", "赵敏", 28, staff_id="S002")],
        ),
        rep_view([], staff_id="S005"),
        rep_view([target("C9", "=钱主任", "县医院", None, owner_staff_id="S006")], staff_id="S006"),
        callback_view([call("P2", "孙丽", "13712345678", assigned_staff_id="S007")], staff_id="S007"),
    ]
    together = attachments_many(views)
    assert together == [attachments(v) for v in views]
    assert [[name for name, _ in files] for files in together] == [
        ["visits_2026-11-24.csv"],
        ["callbacks_2026-11-24.csv", "expiry_2026-11.csv"],
        ["visits_2026-11-24.csv"],
        ["visits_2026-11-24.csv"],
        ["callbacks_2026-11-24.csv"],
    ]
    assert parse_csv(together[2][0][1]).height == 0  # no targets: the header only
    assert parse_csv(together[3][0][1])["customer_name"].to_list() == ["'=钱主任"]
    assert parse_csv(together[4][0][1])["patient_id"].to_list() == ["P2"]
