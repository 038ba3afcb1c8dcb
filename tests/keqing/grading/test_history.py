"""Grade history: one row per change with valid_from/valid_to, idempotent reruns, and this month's movements."""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.grading.history import HISTORY_SCHEMA, apply_changes, empty_history, grade_movements, history_changes

D1, D2, D3 = dt.date(2026, 10, 15), dt.date(2026, 11, 3), dt.date(2026, 11, 10)


def g(*rows: tuple) -> pl.DataFrame:
    """Grades of a run: (customer_id, grade, nine_box[, is_kol[, potential]])."""
    return pl.DataFrame(
        [
            dict(
                customer_id=r[0],
                grade=r[1],
                nine_box=r[2],
                is_kol=r[3] if len(r) > 3 else False,
                potential=r[4] if len(r) > 4 else None,
                support=None,
                rx_months=None,
            )
            for r in rows
        ],
        schema={c: t for c, t in HISTORY_SCHEMA.items() if c not in ("valid_from", "valid_to")},
    )


def run(history: pl.DataFrame, grades: pl.DataFrame, day: dt.date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    upserts, deletes = history_changes(history, grades, day)
    return apply_changes(history, upserts, deletes), upserts, deletes


def rows(history: pl.DataFrame) -> list[tuple]:
    return history.select("customer_id", "valid_from", "valid_to", "grade", "nine_box").rows()


def test_first_run_opens_one_row_per_customer():
    history, upserts, deletes = run(empty_history(), g(("C1", "A", "A1"), ("C2", "N", None)), D1)
    assert rows(history) == [("C1", D1, None, "A", "A1"), ("C2", D1, None, "N", None)]
    assert upserts.height == 2 and deletes.height == 0


def test_a_change_creates_exactly_one_row_and_a_rerun_of_the_same_date_none():
    history, _, _ = run(empty_history(), g(("C1", "A", "A1", False, 150.0), ("C2", "C", "B1")), D1)
    # Same grade, different potential: not a change.
    unchanged_up, unchanged_del = history_changes(history, g(("C1", "A", "A1", False, 170.0), ("C2", "C", "B1")), D2)
    assert unchanged_up.height == 0 and unchanged_del.height == 0

    history, upserts, _ = run(history, g(("C1", "B", "A2"), ("C2", "C", "B1")), D2)
    assert rows(history) == [
        ("C1", D1, D2, "A", "A1"),
        ("C1", D2, None, "B", "A2"),
        ("C2", D1, None, "C", "B1"),
    ]
    assert upserts.filter(pl.col("valid_from") == D2).height == 1  # one new row; the old one closed
    assert history["potential"].to_list() == [150.0, None, None]  # kept as it was when the row began

    again_up, again_del = history_changes(history, g(("C1", "B", "A2"), ("C2", "C", "B1")), D2)
    assert again_up.height == 0 and again_del.height == 0


def test_the_kol_flag_and_the_nine_box_alone_are_changes():
    history, _, _ = run(empty_history(), g(("C1", "B", "A2"), ("C2", "B", "A2")), D1)
    history, upserts, _ = run(history, g(("C1", "B", "A3"), ("C2", "B", "A2", True)), D2)
    assert upserts.filter(pl.col("valid_from") == D2)["customer_id"].to_list() == ["C1", "C2"]
    assert history.filter(pl.col("valid_to").is_null())["is_kol"].to_list() == [False, True]


def test_rerun_with_corrected_input_replaces_the_days_row_and_merges_back():
    history, _, _ = run(empty_history(), g(("C1", "A", "A1")), D1)
    history, _, _ = run(history, g(("C1", "B", "A2")), D2)
    corrected, upserts, deletes = run(history, g(("C1", "D", "B3")), D2)
    assert rows(corrected) == [("C1", D1, D2, "A", "A1"), ("C1", D2, None, "D", "B3")]
    assert upserts.height == 1 and deletes.height == 0
    # Corrected back to the original grade: the row of D2 goes and the first row is current again.
    merged, upserts, deletes = run(corrected, g(("C1", "A", "A1")), D2)
    assert rows(merged) == [("C1", D1, None, "A", "A1")]
    assert deletes.rows() == [("C1", D2)]


def test_rerun_of_an_older_date_splits_the_row_that_covered_it():
    history, _, _ = run(empty_history(), g(("C1", "A", "A1")), D1)
    history, _, _ = run(history, g(("C1", "B", "A2")), D3)
    middle = dt.date(2026, 11, 1)
    split, _, _ = run(history, g(("C1", "C", "B1")), middle)
    assert rows(split) == [
        ("C1", D1, middle, "A", "A1"),
        ("C1", middle, D3, "C", "B1"),
        ("C1", D3, None, "B", "A2"),
    ]
    assert history_changes(split, g(("C1", "C", "B1")), middle)[0].height == 0  # idempotent
    # The same old date stating what the next row says: the two merge.
    merged, _, deletes = run(history, g(("C1", "B", "A2")), middle)
    assert rows(merged) == [("C1", D1, middle, "A", "A1"), ("C1", middle, None, "B", "A2")]
    assert deletes.rows() == [("C1", D3)]
    # A date before the first row with the same grade moves its start back.
    earlier = dt.date(2026, 9, 1)
    extended, _, _ = run(history, g(("C1", "A", "A1")), earlier)
    assert rows(extended) == [("C1", earlier, D3, "A", "A1"), ("C1", D3, None, "B", "A2")]


def test_movements_this_month_one_row_per_change_with_its_date():
    history, _, _ = run(empty_history(), g(("C1", "A", "A1"), ("C3", "A", "A1"), ("C4", "A", "A1")), D1)
    history, _, _ = run(history, g(("C1", "B", "A2"), ("C2", "C", "B1"), ("C4", "B", "A2"), ("C5", "D", "C3")), D2)
    # C4 moves back; C3 changes its nine-box cell only, which is not a grade movement.
    history, _, _ = run(history, g(("C4", "A", "A1"), ("C3", "A", "A2")), D3)
    assert grade_movements(history, D3).rows() == [
        # customer, from, to, changed_on
        ("C1", "A", "B", D2),
        ("C2", None, "C", D2),  # graded for the first time after the database's first grading: new
        ("C4", "A", "B", D2),
        ("C4", "B", "A", D3),
        ("C5", None, "D", D2),
    ]
    # On 15 October only the database's first grading exists: nobody moved.
    assert grade_movements(history, D1).height == 0
    # Movements dated after run_date are not known yet on it.
    assert ("C4", "B", "A", D3) not in grade_movements(history, D2).rows()


def test_the_first_grading_of_the_database_is_not_a_movement_but_a_later_new_doctor_is():
    history = pl.DataFrame(
        {
            "customer_id": ["D1", "D2", "D2", "D3"],
            "grade": ["A", "C", "B", "D"],
            "valid_from": [dt.date(2026, 11, 1), dt.date(2026, 11, 1), dt.date(2026, 11, 10), dt.date(2026, 11, 12)],
        }
    )
    moved = grade_movements(history, dt.date(2026, 11, 20))
    assert moved.select("customer_id", "to_grade", "changed_on").rows() == [
        ("D2", "B", dt.date(2026, 11, 10)),  # C -> B
        ("D3", "D", dt.date(2026, 11, 12)),  # a doctor graded for the first time after the first night
    ]
    assert moved["from_grade"].to_list()[0] == "C" and moved["from_grade"].to_list()[1] is None
