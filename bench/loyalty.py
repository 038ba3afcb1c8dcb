"""Benchmark of the loyalty stage at the issue's ``large`` size: one million orders of history.

Builds the history in memory with numpy/Polars (20,000 terminals, two years, 2% returns), then times

- the pure functions: a day's accrual given the ledger, a full accrual of the whole history, all balances
  from a million ledger entries, the quarter's rewards and the reorder list;
- with ``--db`` (SQLite and/or PostgreSQL URLs): the tasks on a database holding the history: the first,
  full accrual (one-off backfill), a night's incremental accrual of a day's orders plus corrections (target
  under 2 s), a full rebuild of all balances from the ledger through the ``points_balances`` view (target
  under 10 s), the quarter close, a quarter-close night's full check and the reorder reminders.

Prints seconds and peak RSS. Run from the repository root::

    PYTHONPATH=$PWD python bench/loyalty.py                       # pure functions only
    PYTHONPATH=$PWD python bench/loyalty.py --db sqlite --db postgresql+psycopg://postgres@127.0.0.1:5432/postgres

A database URL's database is replaced by a fresh scratch database (dropped afterwards on PostgreSQL);
``sqlite`` means a scratch file in a temporary folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import sqlalchemy as sa

from keqing.clock import cutoff_for
from keqing.loyalty.close import quarter_rewards
from keqing.loyalty.ledger import ORDER_SCHEMA, POSTED_SCHEMA, PRIOR_SCHEMA, accrue, balances
from keqing.loyalty.quarters import parse_quarter
from keqing.loyalty.reorder import reorder_reminders
from keqing.rules import Rules

RULES = Rules()
END = dt.date(2026, 10, 31)  # the last day of history; the night of 1 November accrues it
DAYS = 730


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(label: str, fn: Callable[[], Any], results: list[tuple[str, float]]) -> Any:
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    results.append((label, seconds))
    print(f"{label:<62} {seconds:8.3f} s   peak RSS {peak_rss_mb():7.0f} MB", flush=True)
    return value


def history(n_orders: int, n_terminals: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Orders (ORDER_SCHEMA plus quantity) over DAYS days up to END, and the terminals with their reps."""
    rng = np.random.default_rng(seed)
    # Terminals order at different rates: a few busy pharmacies, many village clinics.
    weight = rng.pareto(1.5, n_terminals) + 0.2
    customer = rng.choice(n_terminals, size=n_orders, p=weight / weight.sum())
    day = rng.integers(0, DAYS, size=n_orders)
    quantity = rng.integers(1, 60, size=n_orders)
    price = rng.choice(np.array([12.5, 18.0, 25.8, 36.0, 48.5, 66.0, 88.0, 128.0, 198.0]), size=n_orders)
    is_return = rng.random(n_orders) < 0.02
    quantity = np.where(is_return, np.maximum(1, quantity // 4), quantity)
    start = END - dt.timedelta(days=DAYS - 1)
    orders = (
        pl.DataFrame(
            {
                "n": np.arange(n_orders),
                "customer": customer,
                "day": day,
                "quantity": quantity,
                "amount": np.round(quantity * price, 2),
                "kind": np.where(is_return, "return", "order"),
                "product": rng.integers(0, 60, size=n_orders),
            }
        )
        .sort("day", "n")
        .with_columns(
            pl.format("D{}", pl.col("n").cast(pl.String).str.zfill(8)).alias("order_id"),
            pl.format("T{}", pl.col("customer").cast(pl.String).str.zfill(6)).alias("customer_id"),
            pl.format("PR{}", pl.col("product").cast(pl.String).str.zfill(2)).alias("product_code"),
            (pl.lit(start) + pl.duration(days=pl.col("day"))).alias("order_date"),
            (pl.col("day") + 1).alias("source_file_id"),  # one file a day
            (pl.int_range(pl.len()).over("day") + 2).alias("source_line"),
        )
        .select(*ORDER_SCHEMA, "quantity")
        .cast({**ORDER_SCHEMA, "quantity": pl.Int64})
    )
    terminals = pl.DataFrame(
        {
            "customer_id": [f"T{i:06d}" for i in range(n_terminals)],
            "owner_staff_id": [f"S{i % 400:04d}" for i in range(n_terminals)],
            "office_code": [f"OF{i % 40:03d}" for i in range(n_terminals)],
        }
    )
    return orders, terminals


def corrections(orders: pl.DataFrame, n: int, file_id: int, seed: int = 11) -> pl.DataFrame:
    """``n`` older orders re-sent with a new amount in the night's file."""
    picked = orders.filter(pl.col("kind") == "order").sample(n, seed=seed)
    return picked.with_columns(
        (pl.col("amount") * 1.5).round(2).alias("amount"),
        pl.lit(file_id, dtype=pl.Int64).alias("source_file_id"),
        (pl.int_range(pl.len()) + 100_000).alias("source_line"),
    )


def pure(orders: pl.DataFrame, terminals: pl.DataFrame, results: list[tuple[str, float]]) -> None:
    run_date = END + dt.timedelta(days=1)
    cutoff = cutoff_for(run_date)
    prior_all = orders.filter(pl.col("kind") == "order").select(*PRIOR_SCHEMA)
    entries = timed(
        f"pure: full accrual of {orders.height:,} orders",
        lambda: accrue(
            orders,
            pl.DataFrame(schema=POSTED_SCHEMA),
            prior_all,
            RULES.loyalty,
            cutoff=cutoff,
            open_quarter=None,
            run_date=run_date,
        ),
        results,
    )
    last_day = orders.filter(pl.col("order_date") == END)
    old = orders.filter(pl.col("order_date") < END)
    fixes = corrections(old, 50, file_id=DAYS + 1)
    night = pl.concat([last_day, fixes.select(last_day.columns)])
    ledger_before = entries.filter(pl.col("order_date") < END)
    posted = ledger_before.join(night.select("order_id"), on="order_id", how="semi").select(*POSTED_SCHEMA)
    returning = night.filter(pl.col("kind") == "return")["customer_id"].unique()
    prior = prior_all.filter(pl.col("customer_id").is_in(returning.implode()))
    day_entries = timed(
        f"pure: a night's accrual ({last_day.height:,} new orders + {fixes.height} corrections)",
        lambda: accrue(
            night,
            posted,
            prior,
            RULES.loyalty,
            cutoff=cutoff,
            open_quarter=parse_quarter("2026Q4"),
            run_date=run_date,
        ),
        results,
    )
    assert day_entries.height == last_day.height + fixes.height
    totals = timed(f"pure: all balances from {entries.height:,} ledger entries", lambda: balances(entries), results)
    timed(
        "pure: rewards of a quarter",
        lambda: quarter_rewards(totals.filter(pl.col("quarter") == "2026Q3"), terminals, RULES.loyalty),
        results,
    )
    timed(
        "pure: reorder reminders over the history",
        lambda: reorder_reminders(
            orders.select("customer_id", "order_date", "kind"), terminals, RULES.loyalty, run_date
        ),
        results,
    )


@contextmanager
def scratch_database(url: str) -> Iterator[str]:
    if url == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    base = sa.make_url(url)
    name = f"keqing_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        from edges.db import dispose_engines

        dispose_engines()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def load_history(engine: sa.Engine, orders: pl.DataFrame, terminals: pl.DataFrame) -> None:
    """Customers, one ingest file per day, and the orders, as the ingest stage would have left them."""
    from edges.db import insert_frame
    from models import FEED_MODELS, IngestFile

    customers = terminals.with_columns(
        pl.col("customer_id").alias("name"),
        pl.lit("terminal").alias("kind"),
        pl.col("customer_id").alias("institution"),
        pl.lit(False).alias("is_kol"),
        pl.lit(0).alias("source_file_id"),
        (pl.int_range(pl.len()) + 2).alias("source_line"),
    )
    files = pl.DataFrame(
        {
            "id": np.arange(1, DAYS + 1),
            "sha256": [uuid.uuid4().hex for _ in range(DAYS)],
            "path": [f"orders_{d}.csv" for d in range(DAYS)],
            "size": np.ones(DAYS, dtype=np.int64),
            "feed": ["orders"] * DAYS,
            "status": ["done"] * DAYS,
            "rows_read": np.zeros(DAYS, dtype=np.int64),
            "rows_loaded": np.zeros(DAYS, dtype=np.int64),
            "rows_quarantined": np.zeros(DAYS, dtype=np.int64),
            "rows_duplicate": np.zeros(DAYS, dtype=np.int64),
            "messages": ["[]"] * DAYS,
            "run_date": [END] * DAYS,
            "ingested_at": [dt.datetime(2026, 11, 1)] * DAYS,
        }
    )
    with engine.begin() as conn:
        insert_frame(conn, FEED_MODELS["customers"].__table__, customers)
        insert_frame(conn, IngestFile.__table__, files)
        insert_frame(conn, FEED_MODELS["orders"].__table__, orders)
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval('ingest_files_id_seq', (SELECT max(id) FROM ingest_files))")
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def night_file(engine: sa.Engine, rows: pl.DataFrame) -> None:
    """The night's orders file: registered as ingested, its rows upserted like the ingest does."""
    from edges.db import upsert_frame
    from models import FEED_MODELS, IngestFile

    with engine.begin() as conn:
        file_id = conn.execute(
            sa.insert(IngestFile.__table__)
            .values(
                sha256=uuid.uuid4().hex,
                path="orders_night.csv",
                size=1,
                feed="orders",
                status="done",
                messages=[],
                run_date=END,
            )
            .returning(IngestFile.__table__.c.id)
        ).scalar_one()
        upsert_frame(
            conn,
            FEED_MODELS["orders"].__table__,
            rows.with_columns(pl.lit(file_id, dtype=pl.Int64).alias("source_file_id")),
            ["order_id"],
            newer_by=("source_file_id", "source_line"),
        )


def database(url: str, orders: pl.DataFrame, terminals: pl.DataFrame, results: list[tuple[str, float]]) -> None:
    from edges.db import get_engine, upgrade
    from keqing.settings import Settings
    from tasks.loyalty import accrue_points, close_quarters, remind_reorders
    from tests.tasks.loyalty_db import read_balances

    with scratch_database(url) as scratch:
        engine = get_engine(scratch)
        dialect = engine.dialect.name
        upgrade(engine)
        cfg = Settings(database_url=scratch)
        history_part = orders.filter(pl.col("order_date") < END)
        last_day = orders.filter(pl.col("order_date") == END)
        timed(
            f"{dialect}: load {history_part.height:,} orders of history (setup)",
            lambda: load_history(engine, history_part, terminals),
            results,
        )
        backfill = timed(
            f"{dialect}: first accrual: full, the whole history (one-off)",
            lambda: accrue_points.fn(cfg, RULES, END),
            results,
        )
        print(f"    {backfill}")
        timed(
            f"{dialect}: quarter close of the ended quarters (one-off here)",
            lambda: close_quarters.fn(cfg, RULES, END),
            results,
        )
        night_file(engine, pl.concat([last_day, corrections(history_part, 50, file_id=0)]))
        night = timed(
            f"{dialect}: a night's accrual ({last_day.height:,} new orders + 50 corrections)",
            lambda: accrue_points.fn(cfg, RULES, END + dt.timedelta(days=1)),
            results,
        )
        print(f"    {night}")
        rerun = timed(
            f"{dialect}: the same night again (rerun)",
            lambda: accrue_points.fn(cfg, RULES, END + dt.timedelta(days=1)),
            results,
        )
        assert rerun.entries == 0
        close_night = timed(
            f"{dialect}: a quarter-close night (full check of every order)",
            lambda: accrue_points.fn(cfg, RULES, dt.date(2027, 1, 1)),
            results,
        )
        assert close_night.mode == "full" and close_night.entries == 0
        all_balances = timed(
            f"{dialect}: full rebuild of all balances from the ledger (view)", lambda: read_balances(engine), results
        )
        print(f"    {all_balances.height:,} terminal-quarter balances")
        reminders = timed(
            f"{dialect}: reorder reminders", lambda: remind_reorders.fn(cfg, RULES, END + dt.timedelta(days=1)), results
        )
        print(f"    {reminders}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--terminals", type=int, default=20_000)
    parser.add_argument("--db", action="append", default=[], help="'sqlite' or a PostgreSQL URL (repeatable)")
    args = parser.parse_args()
    results: list[tuple[str, float]] = []
    orders, terminals = timed(
        "build the synthetic history in memory", lambda: history(args.orders, args.terminals), results
    )
    print(
        f"    {orders.height:,} orders, {terminals.height:,} terminals, "
        f"{orders.filter(pl.col('order_date') == END).height:,} on the last day"
    )
    pure(orders, terminals, results)
    for url in args.db:
        database(url, orders, terminals, results)
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
