"""Typed values from text: every date, datetime, boolean and phone form of contract section 2."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from keqing.ingest.normalise import normalise


def _one(feed: str, **cells: str | None) -> tuple[dict, list[tuple[str, str]]]:
    typed, errors = normalise(
        feed, pl.DataFrame({k: [v] for k, v in cells.items()}, schema={k: pl.String for k in cells})
    )
    return typed.row(0, named=True), [(c, r) for _, c, r in errors.iter_rows()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21", dt.date(2026, 11, 21)),
        ("2026/11/21", dt.date(2026, 11, 21)),
        ("2026/1/5", dt.date(2026, 1, 5)),
        ("20261121", dt.date(2026, 11, 21)),
        ("46347", dt.date(2026, 11, 21)),  # Excel serial
    ],
)
def test_date_forms(text, expected):
    row, errors = _one("purchases", purchase_date=text)
    assert row["purchase_date"] == expected and errors == []


@pytest.mark.parametrize("text", ["2026-13-45", "yesterday", "2026-02-30", "21/11/2026"])
def test_bad_dates_are_errors_not_nulls(text):
    row, errors = _one("purchases", purchase_date=text)
    assert row["purchase_date"] is None and errors == [("purchase_date", "bad_date")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-21 09:30", dt.datetime(2026, 11, 21, 9, 30)),
        ("2026-11-21 09:30:15", dt.datetime(2026, 11, 21, 9, 30, 15)),
        ("2026/1/5 18:05", dt.datetime(2026, 1, 5, 18, 5)),
        ("20261121 7:05:00", dt.datetime(2026, 11, 21, 7, 5)),
        ("46347.75", dt.datetime(2026, 11, 21, 18, 0)),
    ],
)
def test_datetime_forms(text, expected):
    row, errors = _one("visits", visit_at=text)
    assert row["visit_at"] == expected and errors == []


def test_bad_time_is_an_error():
    assert _one("visits", visit_at="2026-11-21 25:00")[1] == [("visit_at", "bad_datetime")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", True),
        ("0", False),
        ("true", True),
        ("FALSE", False),
        ("是", True),
        ("否", False),
        ("Y", True),
        ("n", False),
    ],
)
def test_boolean_forms(text, expected):
    row, errors = _one("patients", informed=text)
    assert row["informed"] is expected and errors == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13812345678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("86-138-1234-5678", "13812345678"),
        ("13812345678.0", "13812345678"),
        ("1.3812345678E10", "13812345678"),
        ("1.3812345678e+10", "13812345678"),
        ("010-12345678", "010-12345678"),
        ("01012345678", "010-12345678"),
        ("0755-8229822", "0755-8229822"),
        ("075582298222", "0755-82298222"),
    ],
)
def test_phone_forms_are_normalised(text, expected):
    row, errors = _one("patients", phone=text)
    assert row["phone"] == expected and errors == []


def test_a_phone_that_lost_digits_is_an_error_never_a_guess():
    _row, errors = _one("patients", phone="1.38E+10")
    assert errors == [("phone", "phone_lost_digits")]


def test_enum_aliases_and_defaults():
    row, _errors = _one("visits", target_type="患者", channel="电话", outcome=None)
    assert (row["target_type"], row["channel"], row["outcome"]) == ("patient", "phone", "completed")
    row, _ = _one("orders", kind="退货")
    assert row["kind"] == "return"
    row, _ = _one("staff", active=None)
    assert row["active"] is True


def test_month_forms():
    for text in ("2026-11", "2026/11", "202611", "2026-11-01"):
        row, errors = _one("rx_monthly", month=text)
        assert row["month"] == dt.date(2026, 11, 1) and errors == [], text


def test_integers_from_excel_and_non_integers():
    assert _one("purchases", boxes="7.0")[0]["boxes"] == 7
    assert _one("purchases", boxes="7.5")[1] == [("boxes", "bad_number")]
    assert _one("purchases", boxes="seven")[1] == [("boxes", "bad_number")]


def test_text_too_long_for_its_column_and_non_finite_numbers_are_errors():
    rows = pl.DataFrame(
        {
            "order_id": ["O" * 64, "O" * 65, "C"],
            "customer_id": ["T1", "T1", "T1"],
            "product_code": ["PR", "PR", "PR"],
            "quantity": ["1", "1", "1"],
            "amount": ["1e3", "inf", "nan"],
            "order_date": ["2026-11-01"] * 3,
        }
    )
    typed, errors = normalise("orders", rows)
    assert typed["amount"].to_list() == [1000.0, None, None]
    assert sorted(errors.rows()) == [
        (1, "amount", "bad_number"),
        (1, "order_id", "too_long"),
        (2, "amount", "bad_number"),
    ]
