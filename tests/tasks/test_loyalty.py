"""Loyalty tasks on SQLite and PostgreSQL: ledger writes, returns across quarters, late orders, quarter close
exactly once, incremental accrual after quarantine releases and reruns, append-only ledger, reorder reminders."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from edges.db import get_engine
from keqing.loyalty.ledger import balances
from keqing.rules import Rules
from tasks.loyalty import accrue_points, close_quarters, remind_reorders
from tests.tasks.loyalty_db import Book, ledger, read_balances, rows_of

D = dt.date
RULES = Rules()


@pytest.fixture
def book(settings) -> Book:
    book = Book(get_engine(settings.database_url))
    book.terminals({"T1": "S1", "T2": "S1", "T3": "S2"})
    return book


def night(settings, run_date: dt.date) -> dict:
    """The loyalty flow's three tasks, as the flow runs them."""
    accrual = accrue_points.fn(settings, RULES, run_date)
    closed = close_quarters.fn(settings, RULES, run_date)
    reorder = remind_reorders.fn(settings, RULES, run_date)
    return {"accrual": accrual, "closed": closed, "reorder": reorder}


def quarter_points(book: Book) -> list[tuple]:
    return read_balances(book.engine).select("quarter", "customer_id", "points").rows()


def test_a_return_of_last_quarters_order_reduces_this_quarter_and_late_orders_count_now(settings, book):
    book.load(("O1", "T1", 6000.00, D(2026, 9, 20), "order"), ("O2", "T1", 2000.00, D(2026, 9, 25), "order"))
    first = night(settings, D(2026, 10, 1))
    assert first["closed"] == [{"quarter": "2026Q3", "terminals": 1, "points": 800, "rewards": {"bronze": 1}}]
    assert rows_of(book.engine, "SELECT quarter, customer_id, owner_staff_id, points, tier FROM quarter_rewards") == [
        ("2026Q3", "T1", "S1", 800, "bronze")
    ]

    book.load(("R1", "T1", 3000.00, D(2026, 10, 10), "return"))
    night(settings, D(2026, 10, 11))
    assert quarter_points(book) == [("2026Q3", "T1", 800), ("2026Q4", "T1", -300)]

    book.load(("O3", "T1", 1000.00, D(2026, 9, 28), "order"))  # dated in Q3, which is closed
    late = night(settings, D(2026, 10, 13))
    assert late["accrual"].late_entries == 1
    assert late["accrual"].late_by_quarter == {"2026Q3": 1}
    assert quarter_points(book) == [("2026Q3", "T1", 800), ("2026Q4", "T1", -200)]
    assert ledger(book.engine).rows() == [
        ("O1", 0, "earn", "T1", 600, "2026Q3", "2026Q3", None),
        ("O2", 0, "earn", "T1", 200, "2026Q3", "2026Q3", None),
        ("O3", 0, "earn", "T1", 100, "2026Q3", "2026Q4", None),
        ("R1", 0, "reverse", "T1", -300, "2026Q4", "2026Q4", "O2"),
    ]
    # The closed quarter's record and rewards did not move.
    assert rows_of(book.engine, "SELECT quarter, terminals, points, rewards FROM quarter_closes") == [
        ("2026Q3", 1, 800, 1)
    ]
    assert rows_of(book.engine, "SELECT count(*) FROM quarter_rewards") == [(1,)]


def test_quarter_close_runs_once(settings, book):
    book.load(
        ("O1", "T1", 52000.00, D(2026, 9, 1), "order"),
        ("O2", "T2", 20000.00, D(2026, 9, 2), "order"),
        ("O3", "T3", 4990.00, D(2026, 9, 3), "order"),
    )
    assert night(settings, D(2026, 9, 30))["closed"] == []  # 29 September is the cutoff: Q3 not over
    closed = night(settings, D(2026, 10, 1))["closed"]
    assert closed == [{"quarter": "2026Q3", "terminals": 3, "points": 7699, "rewards": {"gold": 1, "silver": 1}}]
    rewards = "SELECT quarter, customer_id, owner_staff_id, points, tier FROM quarter_rewards ORDER BY customer_id"
    expected = [("2026Q3", "T1", "S1", 5200, "gold"), ("2026Q3", "T2", "S1", 2000, "silver")]
    assert rows_of(book.engine, rewards) == expected
    # A second run after the close (a rerun of the same date, a retried task, the next night) adds nothing.
    assert close_quarters.fn(settings, RULES, D(2026, 10, 1)) == []
    assert night(settings, D(2026, 10, 1))["closed"] == []
    assert night(settings, D(2026, 10, 2))["closed"] == []
    assert rows_of(book.engine, rewards) == expected
    assert rows_of(book.engine, "SELECT quarter, run_date FROM quarter_closes") == [("2026Q3", "2026-10-01")]


def test_the_first_run_on_old_history_closes_every_ended_quarter_once(settings, book):
    book.load(
        ("O1", "T1", 5000.00, D(2026, 2, 10), "order"),
        ("O2", "T2", 25000.00, D(2026, 5, 5), "order"),
        ("O3", "T1", 600.00, D(2026, 8, 1), "order"),
        ("O4", "T3", 100.00, D(2026, 10, 2), "order"),
    )
    assert night(settings, D(2026, 10, 5))["closed"] == [
        {"quarter": "2026Q1", "terminals": 1, "points": 500, "rewards": {"bronze": 1}},
        {"quarter": "2026Q2", "terminals": 1, "points": 2500, "rewards": {"silver": 1}},
        {"quarter": "2026Q3", "terminals": 1, "points": 60, "rewards": {}},
    ]
    assert rows_of(book.engine, "SELECT quarter, customer_id, owner_staff_id, points, tier FROM quarter_rewards") == [
        ("2026Q1", "T1", "S1", 500, "bronze"),
        ("2026Q2", "T2", "S1", 2500, "silver"),
    ]
    assert night(settings, D(2026, 10, 6))["closed"] == []
    assert quarter_points(book)[-1] == ("2026Q4", "T3", 10)  # Q4 is open


def test_rerun_replay_and_correction(settings, book):
    book.load(("O1", "T1", 100.00, D(2026, 10, 5), "order"))
    assert accrue_points.fn(settings, RULES, D(2026, 10, 6)).entries == 1
    rerun = accrue_points.fn(settings, RULES, D(2026, 10, 6))
    assert (rerun.mode, rerun.orders_examined, rerun.entries) == ("incremental", 0, 0)
    book.load(("O1", "T1", 100.00, D(2026, 10, 5), "order"))  # the same row again in another file
    replay = accrue_points.fn(settings, RULES, D(2026, 10, 7))
    assert (replay.orders_examined, replay.entries) == (1, 0)
    book.load(("O1", "T1", 180.00, D(2026, 10, 5), "order"))  # corrected amount
    correction = accrue_points.fn(settings, RULES, D(2026, 10, 8))
    assert (correction.entries, correction.points) == (1, 8)
    assert accrue_points.fn(settings, RULES, D(2026, 10, 8)).entries == 0
    assert ledger(book.engine).select("order_id", "seq", "entry_kind", "points").rows() == [
        ("O1", 0, "earn", 10),
        ("O1", 1, "adjust", 8),
    ]


def test_incremental_accrual_finds_released_late_loaded_and_newly_dated_orders(settings, book):
    book.load(("O1", "T1", 100.00, D(2026, 10, 1), "order"))
    assert accrue_points.fn(settings, RULES, D(2026, 10, 2)).mode == "full"  # the first accrual checks all

    book.hold(("O2", "T2", 200.00, D(2026, 10, 2), "order"))  # waits in quarantine
    pending = book.pending_file()  # discovered, not loaded yet
    book.load(("O3", "T1", 300.00, D(2026, 10, 3), "order"))
    second = accrue_points.fn(settings, RULES, D(2026, 10, 4))
    assert (second.mode, second.orders_examined, second.entries) == ("incremental", 1, 1)

    book.release()  # O2 arrives with its old file id
    book.load_pending(pending, ("O4", "T3", 400.00, D(2026, 10, 3), "order"))
    book.load(("O5", "T1", 500.00, D(2026, 10, 20), "order"))
    third = accrue_points.fn(settings, RULES, D(2026, 10, 5))  # O5 is after this cutoff
    # O2 (released), O4 (its file was pending) and O3 again (the pending file held the watermark back).
    assert (third.orders_examined, third.entries) == (3, 2)

    rerun_old = accrue_points.fn(settings, RULES, D(2026, 10, 3))  # a rerun for an old date
    assert rerun_old.entries == 0
    later = accrue_points.fn(settings, RULES, D(2026, 10, 21))
    assert later.entries == 1  # O5, found by its date although its file was seen before
    assert ledger(book.engine).select("order_id", "points").rows() == [
        ("O1", 10),
        ("O2", 20),
        ("O3", 30),
        ("O4", 40),
        ("O5", 50),
    ]


def test_the_ledger_refuses_updates_deletes_and_duplicate_entries(settings, book):
    book.load(("O1", "T1", 100.00, D(2026, 10, 5), "order"))
    accrue_points.fn(settings, RULES, D(2026, 10, 6))
    for statement in ("UPDATE points_ledger SET points = 99", "DELETE FROM points_ledger"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), book.engine.begin() as conn:
            conn.execute(sa.text(statement))
    duplicate = (
        "INSERT INTO points_ledger (order_id, seq, entry_kind, customer_id, product_code, order_date, order_kind, "
        "order_amount, points, dated_quarter, quarter, run_date, source_file_id, source_line, posted_at) "
        "SELECT order_id, seq, 'earn', customer_id, product_code, order_date, order_kind, order_amount, points, "
        "dated_quarter, quarter, run_date, source_file_id, source_line, posted_at FROM points_ledger"
    )
    with pytest.raises(sa.exc.IntegrityError), book.engine.begin() as conn:
        conn.execute(sa.text(duplicate))
    assert ledger(book.engine).select("order_id", "seq", "points").rows() == [("O1", 0, 10)]


def test_balances_view_equals_the_sum_of_the_ledger(settings, book):
    book.load(
        ("O1", "T1", 100.00, D(2026, 9, 5), "order"),
        ("O2", "T2", 250.00, D(2026, 10, 2), "order"),
        ("R1", "T1", 40.00, D(2026, 10, 3), "return"),
    )
    night(settings, D(2026, 10, 4))
    with book.engine.connect() as conn:
        entries = pl.DataFrame(
            [tuple(r) for r in conn.execute(sa.text("SELECT quarter, customer_id, points FROM points_ledger"))],
            schema={"quarter": pl.String, "customer_id": pl.String, "points": pl.Int64},
            orient="row",
        )
    assert read_balances(book.engine).rows() == balances(entries).rows()
    assert read_balances(book.engine, quarter="2026Q4").rows() == [("2026Q4", "T1", -4, 1), ("2026Q4", "T2", 25, 1)]


def test_reorder_reminders_per_run_date_replaced_on_rerun(settings, book):
    days = [D(2026, 9, 20) + dt.timedelta(days=14 * i) for i in range(4)]  # last order 1 November
    book.load(*[(f"O{i}", "T1", 100.00, day, "order") for i, day in enumerate(days)])
    book.load(("R1", "T3", 10.00, D(2026, 10, 1), "return"))
    assert night(settings, D(2026, 11, 21))["reorder"] == {"reminders": 1, "reps": 1, "max_days_overdue": 6}
    assert night(settings, D(2026, 11, 21))["reorder"]["reminders"] == 1  # rerun replaces, no duplicates
    night(settings, D(2026, 11, 22))
    sql = (
        "SELECT run_date, staff_id, customer_id, usual_interval_days, last_order_date, due_date, days_overdue "
        "FROM reorder_reminders ORDER BY run_date"
    )
    assert rows_of(book.engine, sql) == [
        ("2026-11-21", "S1", "T1", 14, "2026-11-01", "2026-11-15", 6),
        ("2026-11-22", "S1", "T1", 14, "2026-11-01", "2026-11-15", 7),
    ]
