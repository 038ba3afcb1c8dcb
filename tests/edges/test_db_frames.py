"""Frames in and out of SQLite and PostgreSQL: bulk inserts in slices, reads in chunks, SQLite's text dates."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from edges import db

TABLE = sa.Table(
    "frames_probe",
    sa.MetaData(),
    sa.Column("k", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("who", sa.String),
    sa.Column("day", sa.Date),
    sa.Column("at", sa.DateTime),
)
SCHEMA = {"k": pl.Int64(), "who": pl.String(), "day": pl.Date(), "at": pl.Datetime("us")}
ROWS = [
    (1, "赵敏", dt.date(2026, 11, 16), dt.datetime(2026, 11, 16, 23, 59, 30, 250_000)),
    (2, None, None, None),
    (3, 'say "hi", then go', dt.date(1969, 12, 31), None),  # before 1970: a negative day number
    (4, "line\nbreak", dt.date(2024, 2, 29), None),
    (5, "钱多多", dt.date(1970, 1, 1), dt.datetime(2026, 11, 17)),
]


@pytest.fixture
def engine(database_url: str):
    engine = sa.create_engine(database_url)
    TABLE.create(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def filled(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        conn.execute(sa.insert(TABLE), [dict(zip(SCHEMA, row, strict=True)) for row in ROWS])
    return engine


@pytest.mark.parametrize("slice_rows", [2, 100_000])
def test_insert_frame_writes_every_row_once_whatever_the_slice(engine, monkeypatch, slice_rows):
    monkeypatch.setattr(db, "COPY_SLICE_ROWS", slice_rows)  # 5 rows in slices of 2: three COPY writes
    with engine.begin() as conn:
        assert db.insert_frame(conn, TABLE, pl.DataFrame(ROWS, schema=SCHEMA, orient="row")) == 5
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(sa.select(TABLE).order_by(TABLE.c.k))] == ROWS


@pytest.mark.parametrize("chunk_rows", [2, 1_000_000])
def test_a_read_returns_every_row_typed_in_chunks_of_the_chosen_size(filled, monkeypatch, chunk_rows):
    monkeypatch.setattr(db, "READ_CHUNK_ROWS", chunk_rows)
    frame = db.read_frame(filled, sa.select(TABLE).order_by(TABLE.c.k), SCHEMA)
    assert frame.schema == pl.Schema(SCHEMA)
    assert frame.rows() == ROWS


def test_an_empty_result_keeps_its_columns(filled):
    frame = db.read_frame(filled, sa.select(TABLE).where(TABLE.c.k > 99), SCHEMA)
    assert frame.height == 0
    assert frame.schema == pl.Schema(SCHEMA)


def test_dates_in_aggregates_and_beside_text_columns_read_as_dates(filled):
    latest = sa.select(sa.func.max(TABLE.c.day).label("day"), sa.func.count(TABLE.c.day).label("n"))
    assert db.read_frame(filled, latest, {"day": pl.Date(), "n": pl.Int64()}).rows() == [(dt.date(2026, 11, 16), 4)]
    # A text column among the columns: the query is run as written, the date parsed from text on SQLite.
    mixed = sa.select(TABLE.c.day, sa.text("who")).select_from(TABLE).where(TABLE.c.k == 1)
    assert db.read_frame(filled, mixed, {"day": pl.Date(), "who": pl.String()}).rows() == [
        (dt.date(2026, 11, 16), "赵敏")
    ]


def test_sqlite_dates_are_selected_as_day_numbers():
    sql = str(db._sqlite_dates_as_day_numbers(sa.select(TABLE), SCHEMA).compile(dialect=sa.dialects.sqlite.dialect()))
    assert "julianday(frames_probe.day)" in sql
    assert "frames_probe.who" in sql
    assert "julianday(frames_probe.at)" not in sql  # datetimes stay text


def test_frame_changes_are_the_new_or_changed_rows_and_the_keys_of_changed_or_gone_rows():
    schema = {"k": pl.Int64(), "who": pl.String(), "day": pl.Date()}
    old = pl.DataFrame(
        [(1, "赵敏", dt.date(2026, 11, 1)), (2, None, None), (3, "钱多多", dt.date(2026, 11, 3)), (4, "孙丽", None)],
        schema=schema,
        orient="row",
    )
    new = pl.DataFrame(
        [(1, "赵敏", dt.date(2026, 11, 1)), (2, None, None), (3, "钱多多", dt.date(2026, 11, 9)), (5, "吴用", None)],
        schema=schema,
        orient="row",
    )
    fresh, stale = db.frame_changes(old, new, ["k"])
    # 1 and 2 (nulls included) are as they were; 3 changed; 4 left; 5 is new.
    assert fresh.sort("k").rows() == [(3, "钱多多", dt.date(2026, 11, 9)), (5, "吴用", None)]
    assert stale.sort("k").rows() == [(3,), (4,)]


def test_delete_keys_deletes_exactly_the_rows_with_those_keys(filled):
    with filled.begin() as conn:
        keys = pl.DataFrame({"k": [2, 4, 99]}, schema={"k": pl.Int64()})
        assert db.delete_keys(conn, TABLE, keys) == 3
        db.delete_keys(conn, TABLE, keys.head(1))  # again in the same transaction: its staging table was dropped
    with filled.connect() as conn:
        assert [r.k for r in conn.execute(sa.select(TABLE.c.k).order_by(TABLE.c.k))] == [1, 3, 5]
