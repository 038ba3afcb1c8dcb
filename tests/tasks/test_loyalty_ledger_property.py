"""Property: any interleaving of orders, returns, corrections, reruns, replays and quarantine releases leaves the
ledger at the balances of a hand-written reference, with no duplicate or redundant entry (hypothesis on SQLite;
one fixed interleaving with hand-checked balances on SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
from collections import defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edges.db import dispose_engines, get_engine
from keqing.rules import Rules
from keqing.settings import Settings
from tasks.loyalty import accrue_points, close_quarters
from tests.tasks.loyalty_db import Book, Row

BASE = dt.date(2026, 1, 1)  # day offsets 0..199 span Q1 to Q3 of 2026
RULES = Rules()
TERMINALS = {"T1": "S1", "T2": "S1", "T3": "S2"}


def reference_points(amount: float, kind: str) -> int:
    """The contract by hand: 1 point per full 10 yuan, a return takes its points back."""
    fen = round(amount * 100)
    return -(fen // 1000) if kind == "return" else fen // 1000


@dataclass
class Model:
    """What the orders table holds: the latest row per order id by lineage (file, line), as the ingest loads it."""

    rows: dict[str, tuple[Row, tuple[int, int]]] = field(default_factory=dict)

    def apply(self, rows: list[Row], file_id: int, first_line: int = 2) -> None:
        for line, row in enumerate(rows, start=first_line):
            self.put(row, (file_id, line))

    def put(self, row: Row, lineage: tuple[int, int]) -> None:
        known = self.rows.get(row[0])
        if known is None or known[1] <= lineage:
            self.rows[row[0]] = (row, lineage)


def ledger_entries(engine: sa.Engine) -> dict[str, list[tuple]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT order_id, seq, entry_kind, customer_id, order_kind, order_amount, points "
                "FROM points_ledger ORDER BY order_id, seq"
            )
        ).all()
    by_order: dict[str, list[tuple]] = defaultdict(list)
    for order_id, seq, kind, customer, order_kind, amount, points in rows:
        by_order[order_id].append((seq, kind, customer, order_kind, round(float(amount) * 100), points))
    return by_order


def check_orders(engine: sa.Engine, model: Model, cutoff: dt.date) -> None:
    """Every order dated up to ``cutoff`` is in the ledger exactly at its current state, with clean entries."""
    entries = ledger_entries(engine)
    for order_id, ((_, customer, amount, day, kind), _) in model.rows.items():
        if day > cutoff:
            continue
        mine = entries.get(order_id, [])
        assert [e[0] for e in mine] == list(range(len(mine))), f"{order_id}: seq not 0..n-1: {mine}"
        assert mine and mine[0][1] == ("reverse" if mine[0][3] == "return" else "earn"), f"{order_id}: {mine}"
        held: dict[str, int] = defaultdict(int)
        for _, _, who, _, _, points in mine:
            held[who] += points
        want = reference_points(amount, kind)
        assert {c: p for c, p in held.items() if p} == ({customer: want} if want else {}), f"{order_id}: {mine}"
        assert mine[-1][2:5] == (customer, kind, round(amount * 100)), f"{order_id}: last entry is not the state"
        for before, after in itertools.pairwise(mine):
            # An adjustment changes something: points, or the state it records.
            assert after[5] != 0 or after[2:5] != before[2:5], f"{order_id}: redundant entry {after}"


def balances_by_terminal(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT customer_id, SUM(points) FROM points_balances GROUP BY customer_id")).all()
    return {c: int(p) for c, p in rows if int(p) != 0}


def closed_totals(engine: sa.Engine) -> dict[tuple[str, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT b.quarter, b.customer_id, b.points FROM points_balances b "
                "JOIN quarter_closes c ON c.quarter = b.quarter"
            )
        ).all()
    return {(q, c): int(p) for q, c, p in rows}


def play(url: str, ops: list[tuple]) -> dict[str, int]:
    """Apply ``ops`` to a fresh database and the model; check after every run; return final balances."""
    engine = get_engine(url)
    cfg = Settings(database_url=url)
    book = Book(engine)
    book.terminals(TERMINALS)
    model = Model()
    loaded: list[list[Row]] = []
    held: list[tuple[Row, tuple[int, int]]] = []
    last_run = BASE + dt.timedelta(days=1)
    frozen: dict[tuple[str, str], int] = {}

    def night(run_date: dt.date) -> None:
        accrue_points.fn(cfg, RULES, run_date)
        close_quarters.fn(cfg, RULES, run_date)
        check_orders(engine, model, run_date - dt.timedelta(days=1))
        totals = closed_totals(engine)
        for key, points in frozen.items():
            assert totals.get(key) == points, f"closed quarter changed: {key}"
        frozen.update(totals)

    for op in ops:
        if op[0] == "load":
            rows = list(op[1])
            model.apply(rows, book.load(*rows))
            loaded.append(rows)
        elif op[0] == "replay" and loaded:
            rows = loaded[op[1] % len(loaded)]
            model.apply(rows, book.load(*rows))  # the same rows again, in another file
        elif op[0] == "hold":
            rows = list(op[1])
            file_id = book.hold(*rows)
            held.extend((row, (file_id, line)) for line, row in enumerate(rows, start=2))
        elif op[0] == "release":
            book.release()
            for row, lineage in held:
                model.put(row, lineage)
            held.clear()
        elif op[0] == "run":
            last_run = BASE + dt.timedelta(days=op[1])
            night(last_run)
        elif op[0] == "rerun":
            night(last_run)
    book.release()
    for row, lineage in held:
        model.put(row, lineage)
    night(BASE + dt.timedelta(days=260))  # a run after every order date: everything is in scope

    expected: dict[str, int] = defaultdict(int)
    for (_, customer, amount, _, kind), _ in model.rows.values():
        expected[customer] += reference_points(amount, kind)
    got = balances_by_terminal(engine)
    assert got == {c: p for c, p in expected.items() if p}
    return got


rows = st.tuples(
    st.sampled_from([f"O{i}" for i in range(6)]),
    st.sampled_from(sorted(TERMINALS)),
    st.integers(min_value=1, max_value=300_000).map(lambda fen: fen / 100),
    st.integers(min_value=0, max_value=199).map(lambda d: BASE + dt.timedelta(days=d)),
    st.sampled_from(["order", "order", "return"]),
)
operations = st.one_of(
    st.tuples(st.just("load"), st.lists(rows, min_size=1, max_size=3)),
    st.tuples(st.just("hold"), st.lists(rows, min_size=1, max_size=2)),
    st.just(("release",)),
    st.tuples(st.just("replay"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("run"), st.integers(min_value=1, max_value=200)),
    st.just(("rerun",)),
)


# PROPERTY_EXAMPLES=500 for a deeper search than the default run.
@settings(
    max_examples=int(os.environ.get("PROPERTY_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(ops=st.lists(operations, min_size=1, max_size=12))
def test_any_interleaving_matches_the_reference(ops, sqlite_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("prop") / "edges.db"
    shutil.copy(sqlite_template, path)
    try:
        play(f"sqlite:///{path}", ops)
    finally:
        dispose_engines()


def d(day: int) -> dt.date:
    return BASE + dt.timedelta(days=day)


# Day 0 = 1 January 2026; day 90 = 1 April (Q2); day 181 = 1 July (Q3). Points by hand in the comments.
FIXED = [
    ("load", [("O1", "T1", 1000.00, d(10), "order"), ("O2", "T2", 259.99, d(20), "order")]),
    ("run", 30),  # O1 +100 (T1), O2 +25 (T2), both in Q1
    ("rerun",),  # nothing
    ("load", [("O1", "T1", 1500.00, d(10), "order")]),  # corrected amount
    ("run", 40),  # O1 +50
    ("hold", [("R1", "T1", 400.00, d(95), "return")]),  # a return dated in Q2, waiting in quarantine
    ("replay", 0),  # the first file again: O1 back to 1000
    ("run", 91),  # O1 -50, still in Q1; then Q1 closes: T1 100, T2 25
    ("release",),  # R1 arrives with its old file id
    ("load", [("O2", "T3", 300.00, d(20), "order")]),  # O2 (dated Q1) moves to T3 and grows: late
    ("run", 60),  # a rerun of an old date: O2 is in scope, T2 -25 and T3 +30, counted in Q2; R1 is not
    ("run", 100),  # R1 -40 for T1 in Q2
    ("load", [("O3", "T2", 9.99, d(150), "order")]),  # under 10 yuan: 0 points
    ("run", 182),  # Q2 closes: -40 - 25 + 30 + 0
    ("rerun",),
]


def test_a_fixed_interleaving_on_both_databases(database_url):
    assert play(database_url, FIXED) == {"T1": 100 - 40, "T3": 30}
    engine = get_engine(database_url)
    with engine.connect() as conn:
        quarters = conn.execute(
            sa.text("SELECT quarter, customer_id, points FROM points_balances ORDER BY quarter, customer_id")
        ).all()
        closes = conn.execute(sa.text("SELECT quarter, points FROM quarter_closes ORDER BY quarter")).all()
        entries = conn.execute(sa.text("SELECT count(*) FROM points_ledger")).scalar()
    assert [tuple(r) for r in quarters] == [
        ("2026Q1", "T1", 100),
        ("2026Q1", "T2", 25),
        ("2026Q2", "T1", -40),
        ("2026Q2", "T2", -25),
        ("2026Q2", "T3", 30),
    ]
    assert [tuple(r) for r in closes] == [("2026Q1", 125), ("2026Q2", -35)]
    assert entries == 8  # O1: 3, O2: 3, R1: 1, O3: 1
