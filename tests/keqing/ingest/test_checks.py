"""Great Expectations suites and the reference and cutoff checks find exactly the bad rows."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.feeds import FEEDS
from keqing.ingest import batch as B
from keqing.ingest.expectations import validate
from keqing.ingest.normalise import normalise


def _typed(feed: str, rows: list[dict]) -> pl.DataFrame:
    keys = list(dict.fromkeys(k for row in rows for k in row))
    text = pl.DataFrame(rows, schema={k: pl.String for k in keys}).with_columns(
        pl.lit(1, dtype=pl.Int64).alias("_file_id")
    )
    typed, errors = normalise(feed, text)
    assert errors.height == 0
    return typed


def test_purchase_suite_flags_each_kind_of_bad_row():
    typed = _typed(
        "purchases",
        [
            {"purchase_id": "A", "patient_id": "P1", "product_code": "PR", "boxes": "3", "purchase_date": "2026-11-01"},
            {"purchase_id": "B", "patient_id": None, "product_code": "PR", "boxes": "3", "purchase_date": "2026-11-01"},
            {"purchase_id": "C", "patient_id": "P1", "product_code": "PR", "boxes": "0", "purchase_date": "2026-11-01"},
            {
                "purchase_id": "D",
                "patient_id": "P1",
                "product_code": "PR",
                "boxes": "5000",
                "purchase_date": "2026-11-01",
            },
            {"purchase_id": "E", "patient_id": "P1", "product_code": "PR", "boxes": "1", "purchase_date": "1999-12-31"},
            {
                "purchase_id": "F",
                "patient_id": "P1",
                "product_code": "PR",
                "boxes": "1",
                "purchase_date": "2026-11-01",
                "channel": "telepathy",
            },
            {"purchase_id": "G", "patient_id": "P1", "product_code": "PR", "boxes": "1", "purchase_date": "2026-11-01"},
            {"purchase_id": "G", "patient_id": "P2", "product_code": "PR", "boxes": "1", "purchase_date": "2026-11-01"},
        ],
    )
    errors = validate("purchases", typed, dt.date(2000, 1, 1), dt.date(2027, 11, 1))
    found = sorted((row, column, reason) for row, column, reason in errors.iter_rows())
    assert found == [
        (1, "patient_id", "missing_value"),
        (2, "boxes", "out_of_range"),
        (3, "boxes", "out_of_range"),
        (4, "purchase_date", "implausible_date"),
        (5, "channel", "bad_value"),
        (6, "purchase_id", "duplicate_id"),
        (7, "purchase_id", "duplicate_id"),
    ]


def test_patient_suite_checks_phones_and_staff_suite_checks_emails():
    typed = _typed(
        "patients",
        [
            {"patient_id": "P1", "name": "赵敏", "phone": "13812345678", "office_code": "OF1"},
            {"patient_id": "P2", "name": "钱多", "phone": "12345", "office_code": "OF1"},
        ],
    )
    assert validate("patients", typed, dt.date(2000, 1, 1), dt.date(2027, 1, 1)).rows() == [(1, "phone", "bad_phone")]
    typed = _typed(
        "staff",
        [
            {"staff_id": "S1", "name": "张伟", "role": "rep", "email": "zhang@example.com", "office_code": "OF1"},
            {"staff_id": "S2", "name": "李娜", "role": "nurse", "email": "li.na at example", "office_code": "OF1"},
        ],
    )
    found = sorted(validate("staff", typed, dt.date(2000, 1, 1), dt.date(2027, 1, 1)).rows())
    assert found == [(1, "email", "bad_email"), (1, "role", "bad_value")]


KNOWN = B.Known(
    offices=pl.DataFrame({"office_code": ["OF1"]}),
    staff=pl.DataFrame({"staff_id": ["S1", "C1"], "role": ["rep", "callback"]}),
    products=pl.DataFrame({"product_code": ["PR"]}),
    customers=pl.DataFrame({"customer_id": ["D1", "T1"], "kind": ["doctor", "terminal"]}),
    patients=pl.DataFrame({"patient_id": ["P1"]}),
)


def test_references_wait_when_unknown_and_are_rejected_when_of_the_wrong_kind():
    orders = _typed(
        "orders",
        [
            {
                "order_id": "O1",
                "customer_id": "T1",
                "product_code": "PR",
                "quantity": "1",
                "amount": "10",
                "order_date": "2026-11-01",
            },
            {
                "order_id": "O2",
                "customer_id": "T9",
                "product_code": "PR",
                "quantity": "1",
                "amount": "10",
                "order_date": "2026-11-01",
            },
            {
                "order_id": "O3",
                "customer_id": "D1",
                "product_code": "XX",
                "quantity": "1",
                "amount": "10",
                "order_date": "2026-11-01",
            },
        ],
    )
    found = sorted(B.reference_errors(FEEDS["orders"], orders, KNOWN).rows())
    assert found == [
        (1, "customer_id", "unknown_customer"),
        (2, "customer_id", "not_a_terminal"),
        (2, "product_code", "unknown_product"),
    ]
    patients = _typed(
        "patients",
        [
            {"patient_id": "P7", "name": "x", "phone": "13812345678", "office_code": "OF1", "callback_staff_id": "S1"},
        ],
    )
    assert B.reference_errors(FEEDS["patients"], patients, KNOWN).rows() == [(0, "callback_staff_id", "wrong_role")]


def test_visit_targets_are_checked_against_customers_or_patients_by_type():
    visits = _typed(
        "visits",
        [
            {
                "visit_id": "V1",
                "staff_id": "S1",
                "target_type": "customer",
                "target_id": "D1",
                "visit_at": "2026-11-01 09:00",
                "channel": "face",
            },
            {
                "visit_id": "V2",
                "staff_id": "C1",
                "target_type": "patient",
                "target_id": "P1",
                "visit_at": "2026-11-01 19:00",
                "channel": "phone",
            },
            {
                "visit_id": "V3",
                "staff_id": "C1",
                "target_type": "patient",
                "target_id": "D1",
                "visit_at": "2026-11-01 19:00",
                "channel": "phone",
            },
        ],
    )
    assert B.reference_errors(FEEDS["visits"], visits, KNOWN).rows() == [(2, "target_id", "unknown_target")]


def test_cutoff_holds_back_records_dated_after_it_and_months_not_yet_complete():
    purchases = _typed(
        "purchases",
        [
            {"purchase_id": "A", "patient_id": "P1", "product_code": "PR", "boxes": "1", "purchase_date": "2026-11-20"},
            {"purchase_id": "B", "patient_id": "P1", "product_code": "PR", "boxes": "1", "purchase_date": "2026-11-21"},
        ],
    )
    assert B.cutoff_errors(FEEDS["purchases"], purchases, dt.date(2026, 11, 20)).rows() == [
        (1, "purchase_date", "after_cutoff")
    ]
    rx = _typed(
        "rx_monthly",
        [
            {"month": "2026-10", "customer_id": "D1", "product_code": "PR", "our_rx": "1", "market_rx": "2"},
            {"month": "2026-11", "customer_id": "D1", "product_code": "PR", "our_rx": "1", "market_rx": "2"},
        ],
    )
    assert B.cutoff_errors(FEEDS["rx_monthly"], rx, dt.date(2026, 11, 29)).rows() == [(1, "month", "after_cutoff")]
    assert B.cutoff_errors(FEEDS["rx_monthly"], rx, dt.date(2026, 11, 30)).height == 0


def test_quarantine_prefers_a_rejecting_reason_and_waits_only_when_every_reason_waits():
    rows = pl.DataFrame(
        {"_row": [0, 1], "_file_id": [1, 1], "_line": [2, 3], "_qid": [None, None]},
        schema={"_row": pl.UInt32, "_file_id": pl.Int64, "_line": pl.Int64, "_qid": pl.Int64},
    )
    errors = pl.DataFrame(
        {
            "_row": [0, 0, 1],
            "column": ["patient_id", "customer_id", "patient_id"],
            "reason": ["unknown_patient", "not_a_terminal", "unknown_patient"],
        }
    ).cast(B.ERROR_SCHEMA)
    q = B.assemble_quarantine(rows, errors)
    assert q.select("_row", "reason", "status").rows() == [
        (0, "not_a_terminal", "rejected"),
        (1, "unknown_patient", "waiting"),
    ]
    assert q["details"].to_list()[0] == ["patient_id:unknown_patient", "customer_id:not_a_terminal"]


def test_only_the_master_feeds_a_feed_refers_to_are_read_for_its_reference_checks():
    from keqing.feeds import FEEDS

    assert B.referenced_feeds(FEEDS["offices"]) == set()
    assert B.referenced_feeds(FEEDS["purchases"]) == {"patients", "products"}
    # visits: the rep (staff, with a role check) and a target that is a customer or a patient
    assert B.referenced_feeds(FEEDS["visits"]) == {"staff", "customers", "patients"}
    assert B.referenced_feeds(FEEDS["orders"]) == {"customers", "products"}


def test_the_warm_up_thread_builds_the_one_context_that_validation_then_uses():
    from keqing.ingest import expectations

    thread = expectations.warm_up()
    first = expectations._context()  # waits for the warm-up rather than building a second context
    thread.join(timeout=120)
    assert not thread.is_alive()
    assert expectations._context() is first
    assert expectations._new_context.cache_info().currsize == 1
