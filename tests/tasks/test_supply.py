"""Supply tasks on SQLite and PostgreSQL: reads filtered by the cutoff, writes idempotent per run_date."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from edges.db import frame_schema, get_engine, read_frame, read_table
from keqing.clock import cutoff_for
from keqing.rules import Rules, rules_from_mapping
from keqing.supply import state
from keqing.supply.callbacks import CONTACTS_SCHEMA, VISITS_SCHEMA, contact_history
from keqing.supply.pipeline import keep_since_for
from keqing.supply.supply import PURCHASES_SCHEMA, coverage
from models import (
    CallbackEntry,
    CallbackLoad,
    ExpiryEntry,
    ExpiryTarget,
    PatientSupply,
    SupplyContact,
    SupplyContactChange,
    SupplyCoverage,
)
from models.feeds import Consult, Office, Patient, Product, Purchase, Staff, Visit
from tasks.supply import (
    compute_supply,
    in_key_order,
    read_supply_inputs,
    sync_contacts,
    sync_coverage,
    write_supply,
)

RUN = dt.date(2026, 11, 17)  # a Tuesday: cutoff 2026-11-16


def _seed(settings) -> None:
    lineage = {"source_file_id": 0, "source_line": 0}
    rows = {
        Office: [{"office_code": "OF1", "name": "杭州办事处", "is_rural": False}],
        Staff: [
            {"staff_id": "S1", "name": "李娜", "role": "callback", "email": "li.na@example.com", "office_code": "OF1"},
            {"staff_id": "S2", "name": "周杰", "role": "callback", "email": "zhou@example.com", "office_code": "OF1"},
        ],
        Product: [{"product_code": "PR30", "name": "心脉通胶囊", "units_per_box": 30.0, "daily_units": 1.0}],
        Patient: [
            {"patient_id": "P1", "name": "赵敏", "phone": "13812345678", "office_code": "OF1",
             "callback_staff_id": "S1", "informed": True},
            {"patient_id": "P2", "name": "钱多多", "phone": "13912345678", "office_code": "OF1",
             "callback_staff_id": None, "informed": False, "contact_name": "钱小二"},
        ],
        Purchase: [
            {"purchase_id": "U1", "patient_id": "P1", "product_code": "PR30", "boxes": 3,
             "purchase_date": dt.date(2026, 10, 1)},
            {"purchase_id": "U2", "patient_id": "P1", "product_code": "PR30", "boxes": 3,
             "purchase_date": dt.date(2026, 11, 16)},
            {"purchase_id": "U3", "patient_id": "P2", "product_code": "PR30", "boxes": 1,
             "purchase_date": dt.date(2026, 11, 16)},
            # dated on the run date itself: belongs to the next run
            {"purchase_id": "U4", "patient_id": "P2", "product_code": "PR30", "boxes": 5,
             "purchase_date": RUN},
        ],
        Visit: [
            {"visit_id": "V1", "staff_id": "S1", "target_type": "patient", "target_id": "P1",
             "visit_at": dt.datetime(2026, 11, 2, 19), "channel": "phone", "outcome": "completed"},
            {"visit_id": "V2", "staff_id": "S1", "target_type": "patient", "target_id": "P1",
             "visit_at": dt.datetime(2026, 11, 16, 20), "channel": "phone", "outcome": "not_reached"},
            {"visit_id": "V3", "staff_id": "S1", "target_type": "patient", "target_id": "P1",
             "visit_at": dt.datetime(2026, 11, 17, 8), "channel": "phone", "outcome": "completed"},  # too late
            {"visit_id": "V4", "staff_id": "S1", "target_type": "patient", "target_id": "P1",
             "visit_at": dt.datetime(2026, 11, 10, 9), "channel": "wechat", "outcome": "completed"},  # not a call
            {"visit_id": "V5", "staff_id": "S2", "target_type": "patient", "target_id": "P2",
             "visit_at": dt.datetime(2026, 11, 16, 23, 59), "channel": "home", "outcome": "refused"},
            {"visit_id": "V6", "staff_id": "S2", "target_type": "patient", "target_id": "P2",
             "visit_at": dt.datetime(2026, 11, 17, 0, 0), "channel": "home", "outcome": "completed"},  # too late
            {"visit_id": "V7", "staff_id": "S2", "target_type": "patient", "target_id": "P3",
             "visit_at": dt.datetime(2026, 11, 5, 19), "channel": "phone", "outcome": "completed"},
            {"visit_id": "V8", "staff_id": "S2", "target_type": "customer", "target_id": "P3",
             "visit_at": dt.datetime(2026, 11, 9, 10), "channel": "phone", "outcome": "completed"},  # not a patient
        ],
        Consult: [
            {"consult_id": "C1", "received_at": dt.datetime(2026, 11, 16, 10), "name": "孙丽", "phone": "13700000000",
             "came_in": False, "purchased": False, "office_code": "OF1"},
            {"consult_id": "C2", "received_at": dt.datetime(2026, 11, 17, 9), "name": "吴用", "phone": "13600000000",
             "came_in": False, "purchased": False, "office_code": "OF1"},  # too late
        ],
    }  # fmt: skip
    with get_engine(settings.database_url).begin() as conn:
        for model, records in rows.items():
            conn.execute(sa.insert(model.__table__), [{**lineage, **r} for r in records])


def _read(settings, rules: Rules, run_date: dt.date):
    """The stage's reads as the flow makes them: the kept coverage and contacts brought up to date first."""
    sync_coverage.fn(settings)
    sync_contacts.fn(settings)
    return read_supply_inputs.fn(settings, rules, run_date)


def test_read_keeps_only_records_dated_up_to_the_cutoff(settings):
    _seed(settings)
    inputs = _read(settings, Rules(), RUN)
    assert inputs.coverage is not None
    # U2 and U3 of 11-16 and U1 of 10-01 (U4 is dated on the run date); U1 and U2 are one group.
    assert sorted(inputs.coverage.rows["purchase_date"].to_list()) == [
        dt.date(2026, 10, 1),
        dt.date(2026, 11, 16),
        dt.date(2026, 11, 16),
    ]
    # Per patient: the last completed call or home visit and the last attempt, up to the cutoff.
    assert inputs.contacts.sort("patient_id").rows() == [
        ("P1", dt.date(2026, 11, 2), dt.date(2026, 11, 16)),
        ("P2", None, dt.date(2026, 11, 16)),
        ("P3", dt.date(2026, 11, 5), dt.date(2026, 11, 5)),
    ]
    assert inputs.consults["consult_id"].to_list() == ["C1"]
    assert inputs.event_purchases.height == 0
    assert inputs.patients.sort("patient_id")["informed"].to_list() == [True, False]


def test_consults_are_read_as_far_back_as_the_consult_rule_reaches(settings):
    _seed(settings)
    old = {"name": "郑和", "phone": "13500000000", "came_in": False, "purchased": False, "office_code": "OF1"}
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(
            sa.insert(Consult.__table__),
            [
                {**old, "consult_id": "OLD40", "received_at": dt.datetime(2026, 10, 8, 9), "source_file_id": 1,
                 "source_line": 90},
                {**old, "consult_id": "OLD80", "received_at": dt.datetime(2026, 8, 29, 9), "source_file_id": 1,
                 "source_line": 91},
            ],
        )  # fmt: skip
    # Default: answered within 3 days, windows stretched at most 31 days: 34 days back from 17 November.
    assert _read(settings, Rules(), RUN).consults["consult_id"].to_list() == ["C1"]
    # Within 60 days: 91 days back, so the consult of 29 August (80 days) is still read.
    wide = rules_from_mapping({"callbacks": {"consult_within_days": 60}})
    assert sorted(_read(settings, wide, RUN).consults["consult_id"].to_list()) == [
        "C1",
        "OLD40",
        "OLD80",
    ]


def test_the_contacts_query_equals_contact_history_over_the_visit_rows(settings):
    _seed(settings)
    visits = _table(settings, Visit, ["visit_id"]).select(list(VISITS_SCHEMA))
    expected = contact_history(visits, cutoff_for(RUN)).sort("patient_id")
    assert _read(settings, Rules(), RUN).contacts.sort("patient_id").equals(expected)
    assert expected.schema == pl.Schema(CONTACTS_SCHEMA)


def _table(settings, model, order_by: list[str]) -> pl.DataFrame:
    """A result table read back typed (dates and booleans alike on SQLite and PostgreSQL)."""
    t = model.__table__
    with get_engine(settings.database_url).connect() as conn:
        return read_frame(conn, sa.select(t), frame_schema(t)).sort(order_by)


def test_write_replaces_the_run_dates_rows_so_a_rerun_leaves_one_copy(settings):
    _seed(settings)
    for expected_entries in (1, 0):  # the rerun finds its expiry entry as it was and leaves it alone
        results = compute_supply.fn(_read(settings, Rules(), RUN), Rules(), RUN)
        written = write_supply.fn(settings, results, RUN)
        assert written["expiry_list"] == expected_entries
    assert written == {
        "patient_supply": 2,
        "expiry_list": 0,
        "expiry_targets": 2,
        "callback_list": 3,
        "callback_load": 2,
        "home_visit_plan": 0,
        "home_visit_patients": 0,
    }
    calls = _table(settings, CallbackEntry, ["staff_id", "position"])
    # P2 has no nurse: OF1's least-loaded, S2 (S1 has P1). Then C1: S1 and S2 have one each -> S1.
    # On S1's list the consult (priority 3) comes before P1's cadence call (priority 5).
    assert calls.select(
        "run_date", "staff_id", "patient_id", "consult_id", "reason", "position", "due_date", "not_informed"
    ).rows() == [
        (RUN, "S1", None, "C1", "consult", 1, dt.date(2026, 11, 19), None),
        (RUN, "S1", "P1", None, "cadence", 2, RUN, False),
        (RUN, "S2", "P2", None, "cadence", 1, RUN, True),
    ]
    supply = _table(settings, PatientSupply, ["patient_id"])
    assert supply.select("patient_id", "expiry_date", "status", "callback_staff_id", "callback_staff_auto").rows() == [
        ("P1", dt.date(2027, 3, 29), "active", "S1", False),  # 3 boxes on 10-01, 3 more carried over from 12-30
        ("P2", dt.date(2026, 12, 15), "active", "S2", True),
    ]
    expiry = _table(settings, ExpiryEntry, ["month", "patient_id"])
    assert expiry.select(
        "run_date", "month", "patient_id", "expiry_date", "callback_staff_id", "repurchased"
    ).rows() == [(RUN, dt.date(2026, 12, 1), "P2", dt.date(2026, 12, 15), "S2", False)]
    targets = _table(settings, ExpiryTarget, ["scope"])
    assert targets.select("month", "scope", "staff_id", "size", "must_keep", "target", "repurchased").rows() == [
        (dt.date(2026, 12, 1), "office", None, 1, 1, 1, 0),
        (dt.date(2026, 12, 1), "staff", "S2", 1, 1, 1, 0),
    ]
    # Both nurses within the day's 40 calls: nothing waits.
    load = _table(settings, CallbackLoad, ["staff_id"])
    assert load.select("run_date", "office_code", "staff_id", "due", "capacity", "waiting", "waiting_since").rows() == [
        (RUN, "OF1", "S1", 2, 40, 0, None),
        (RUN, "OF1", "S2", 1, 40, 0, None),
    ]


def test_a_nurse_over_capacity_has_her_waiting_calls_counted(settings):
    _seed(settings)
    tight = rules_from_mapping({"callbacks": {"max_calls_per_day": 1}})
    results = compute_supply.fn(_read(settings, tight, RUN), tight, RUN)
    write_supply.fn(settings, results, RUN)
    # S1 has the consult (due 19 Nov, listed) and P1's cadence call (due today, waits): one waiting since RUN.
    load = _table(settings, CallbackLoad, ["staff_id"])
    assert load.select("staff_id", "due", "capacity", "waiting", "waiting_since", "backlog_days").rows() == [
        ("S1", 2, 1, 1, RUN, 1),
        ("S2", 1, 1, 0, None, 0),
    ]
    assert _table(settings, CallbackEntry, ["staff_id"])["staff_id"].to_list() == ["S1", "S2"]


def test_another_run_date_keeps_its_own_lists_and_replaces_the_snapshot(settings):
    _seed(settings)
    for run_date in (RUN, RUN + dt.timedelta(days=1)):
        write_supply.fn(settings, compute_supply.fn(_read(settings, Rules(), run_date), Rules(), run_date), run_date)
    calls = _table(settings, CallbackEntry, ["run_date", "staff_id", "position"])
    # 11-18 (cutoff 11-17): P1's call completed on 11-17 at 08:00 now counts, so P1 is done; P2's 5 boxes
    # bought on 11-17 restart its cadence (due 11-18); C2 (11-17) arrives. S1 has P1 and C1, so C2 goes to S2.
    assert calls.select("run_date", "staff_id", "patient_id", "consult_id", "reason").rows() == [
        (RUN, "S1", None, "C1", "consult"),
        (RUN, "S1", "P1", None, "cadence"),
        (RUN, "S2", "P2", None, "cadence"),
        (RUN + dt.timedelta(days=1), "S1", None, "C1", "consult"),
        (RUN + dt.timedelta(days=1), "S2", None, "C2", "consult"),
        (RUN + dt.timedelta(days=1), "S2", "P2", None, "cadence"),
    ]
    supply = _table(settings, PatientSupply, ["patient_id"])
    assert supply.select("run_date", "patient_id", "expiry_date").rows() == [
        (RUN + dt.timedelta(days=1), "P1", dt.date(2027, 3, 29)),
        (RUN + dt.timedelta(days=1), "P2", dt.date(2027, 5, 14)),  # 11-16 + 30 days, then 150 more
    ]


def test_the_expiry_lists_keep_unchanged_entries_and_write_the_changed_new_and_gone_ones(settings):
    _seed(settings)
    lineage = {"source_file_id": 0, "source_line": 0}
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(
            sa.insert(Patient.__table__),
            [
                {
                    **lineage,
                    "patient_id": pid,
                    "name": name,
                    "phone": "13800000000",
                    "office_code": "OF1",
                    "callback_staff_id": "S1",
                    "informed": True,
                }
                for pid, name in (("P3", "孙丽"), ("P4", "吴用"))
            ],
        )
        conn.execute(
            sa.insert(Purchase.__table__),
            [
                {**lineage, "purchase_id": uid, "patient_id": pid, "product_code": "PR30", "boxes": 1,
                 "purchase_date": day}
                for uid, pid, day in (
                    ("U5", "P3", dt.date(2026, 10, 20)),  # covers 10-20 .. 11-18: November's list
                    ("U6", "P3", RUN),  # bought back on 11-17: seen by the next night only
                    ("U7", "P4", dt.date(2026, 11, 10)),  # covers 11-10 .. 12-09: December's list
                )
            ],
        )  # fmt: skip
    nights = (RUN, RUN + dt.timedelta(days=1))
    written = []
    for run_date in nights:
        results = compute_supply.fn(_read(settings, Rules(), run_date), Rules(), run_date)
        written.append(write_supply.fn(settings, results, run_date)["expiry_list"])
    nov, dec = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
    expiry = _table(settings, ExpiryEntry, ["month", "patient_id"])
    assert expiry.select("run_date", "month", "patient_id", "expiry_date", "repurchased").rows() == [
        (nights[1], nov, "P3", dt.date(2026, 11, 18), True),  # changed: bought back during its month
        (nights[1], dec, "P3", dt.date(2026, 12, 18), False),  # new: the refill's 30 days from 11-19
        (nights[0], dec, "P4", dt.date(2026, 12, 9), False),  # as it was: keeps the run that wrote it
    ]  # P2 (12-15 on the first night) left: its 5 boxes bought on 11-17, before December, carry it to May
    assert written == [3, 2]


def test_the_kept_coverage_writes_only_the_rows_a_change_touched(settings):
    _seed(settings)
    assert sync_coverage.fn(settings)["rows"] == 4  # P1 (10-01, 11-16), P2 (11-16, 11-17): all new
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(
            sa.insert(Purchase.__table__),
            [{"purchase_id": "U5", "patient_id": "P1", "product_code": "PR30", "boxes": 2,
              "purchase_date": dt.date(2026, 11, 20), "source_file_id": 0, "source_line": 0}],
        )  # fmt: skip
        conn.execute(sa.update(Purchase.__table__).where(Purchase.__table__.c.purchase_id == "U4").values(boxes=4))
    synced = sync_coverage.fn(settings)
    # P1: 11-16 gets a next purchase date (changed), 11-20 is new, 10-01 as it was.
    # P2: 11-17 bought 4 boxes instead of 5 (changed), 11-16 as it was.
    assert (synced["patients"], synced["rows_deleted"], synced["rows"]) == (2, 2, 3)
    stored = _table(settings, SupplyCoverage, list(state.STORED_COLUMNS[:3]))
    with get_engine(settings.database_url).connect() as conn:
        everything = read_table(conn, sa.select(*(Purchase.__table__.c[c] for c in PURCHASES_SCHEMA)))
        products = read_table(conn, sa.select(Product.__table__))
    full = state.stored_rows(coverage(everything, products, dt.date.max))
    assert stored.rows() == full.cast(stored.schema).sort(stored.columns[:3]).rows()
    assert stored.filter(pl.col("patient_id") == "P1")["next_purchase_date"].to_list() == [
        dt.date(2026, 11, 16),
        dt.date(2026, 11, 20),
        None,
    ]
    if settings.database_url.startswith("postgresql"):  # the first sync wrote every row: vacuumed; the second not
        with get_engine(settings.database_url).connect() as conn:
            vacuums = conn.exec_driver_sql(
                "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'supply_coverage'"
            ).scalar_one()
        assert vacuums == 1


def test_the_kept_coverage_is_read_at_the_cutoff_with_the_rows_that_matter(settings):
    """The SQL read equals keqing.supply.state.at_cutoff over the whole table, at its boundaries."""
    _seed(settings)
    more = [  # PR30: one box covers 30 days. Run 11-17: cutoff 11-16, keep_since 05-21 (180-day window)
        ("U5", "P1", "2026-04-22"),  # 04-22 .. 05-21: covers keep_since itself, kept
        ("U6", "P2", "2026-03-22"),  # 03-22 .. 04-20: ran out before keep_since, next purchase U7: dropped
        ("U7", "P2", "2026-04-21"),  # 04-21 .. 05-20: the same, next purchase U3 on the cutoff: dropped
        ("U8", "P3", "2026-01-01"),  # 01-01 .. 01-30, next purchase U9 after the cutoff: the last row, kept
        ("U9", "P3", "2026-11-17"),
    ]
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(
            sa.insert(Purchase.__table__),
            [
                {"purchase_id": u, "patient_id": p, "product_code": "PR30", "boxes": 1,
                 "purchase_date": dt.date.fromisoformat(day), "source_file_id": 0, "source_line": 0}
                for u, p, day in more
            ],
        )  # fmt: skip
    read = _read(settings, Rules(), RUN).coverage.frame().sort("patient_id", "purchase_date")
    assert read.select("patient_id", "purchase_date", "next_purchase_date", "is_last").rows() == [
        ("P1", dt.date(2026, 4, 22), dt.date(2026, 10, 1), False),
        ("P1", dt.date(2026, 10, 1), dt.date(2026, 11, 16), False),
        ("P1", dt.date(2026, 11, 16), None, True),
        ("P2", dt.date(2026, 11, 16), None, True),
        ("P3", dt.date(2026, 1, 1), None, True),
    ]
    stored = _table(settings, SupplyCoverage, list(state.STORED_COLUMNS[:3]))
    for run_date in (RUN, dt.date(2026, 4, 22), dt.date(2026, 11, 18), dt.date(2027, 1, 5)):
        expected = state.coverage_of_stored(
            state.at_cutoff(stored, cutoff_for(run_date), keep_since_for(run_date, Rules()))
        ).frame()
        got = read_supply_inputs.fn(settings, Rules(), run_date).coverage.frame()
        assert got.sort(got.columns).equals(expected.sort(expected.columns)), run_date


def test_corrected_and_deleted_calls_are_taken_into_the_kept_contacts(settings):
    """Triggers on visits name the patients whose calls changed; sync_contacts takes their maxima again."""
    _seed(settings)
    assert _read(settings, Rules(), RUN).contacts.sort("patient_id").rows()[0] == (
        "P1",
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 16),
    )
    v = Visit.__table__
    with get_engine(settings.database_url).begin() as conn:
        conn.execute(sa.update(v).where(v.c.visit_id == "V2").values(outcome="completed"))  # P1's 11-16 call
        conn.execute(sa.delete(v).where(v.c.visit_id == "V7"))  # P3's only call
        conn.execute(sa.update(v).where(v.c.visit_id == "V5").values(target_id="P1", visit_at=dt.datetime(2026, 11, 3)))
        conn.execute(sa.update(v).where(v.c.visit_id == "V8").values(visit_at=dt.datetime(2026, 11, 1)))  # a customer
        named = sorted(r[0] for r in conn.execute(sa.select(SupplyContactChange.__table__.c.patient_id)))
    assert named == ["P1", "P2", "P3"]  # V5 moved from P2 to P1; the customer visit V8 names nobody
    assert sync_contacts.fn(settings)["patients"] == 3
    # P1: V2 completed on 11-16; P2: only V6, on the run date, so nothing before it; P3: no call left.
    assert read_supply_inputs.fn(settings, Rules(), RUN).contacts.sort("patient_id").rows() == [
        ("P1", dt.date(2026, 11, 16), dt.date(2026, 11, 16)),
    ]
    kept = _table(settings, SupplyContact, ["patient_id"]).select("patient_id", "last_attempt")
    assert kept.rows() == [("P1", dt.datetime(2026, 11, 17, 8)), ("P2", dt.datetime(2026, 11, 17))]
    assert sync_contacts.fn(settings)["patients"] == 0  # nothing changed since


def test_the_lists_the_emails_read_get_fresh_planner_statistics_on_postgresql(settings):
    """The views join the patients to tonight's expiry and callback lists: stale statistics made the
    planner loop over the patients' index (1.3 s instead of 0.55 s at `large`)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("planner statistics are PostgreSQL's")
    _seed(settings)
    write_supply.fn(settings, compute_supply.fn(_read(settings, Rules(), RUN), Rules(), RUN), RUN)
    with get_engine(settings.database_url).connect() as conn:
        analyzed = dict(
            conn.exec_driver_sql(
                "SELECT relname, analyze_count FROM pg_stat_user_tables "
                "WHERE relname IN ('expiry_list', 'callback_list', 'patient_supply')"
            ).all()
        )
    assert analyzed == {"expiry_list": 1, "callback_list": 1, "patient_supply": 0}


def test_rows_are_written_in_primary_key_order_unless_the_key_is_a_generated_id():
    frame = pl.DataFrame({"patient_id": ["P2", "P1", "P1"], "product_code": ["A", "B", "A"], "n": [1, 2, 3]})
    ordered = in_key_order(PatientSupply.__table__, frame)
    assert ordered.rows() == [("P1", "A", 3), ("P1", "B", 2), ("P2", "A", 1)]
    assert in_key_order(ExpiryTarget.__table__, frame).equals(frame)  # its key is an id the database gives
