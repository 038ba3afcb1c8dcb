"""Reading query results into Polars on SQLite and PostgreSQL: types, chunks, and SQLite's text dates."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from keqing import db

TABLE = sa.Table(
    "read_probe",
    sa.MetaData(),
    sa.Column("k", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("who", sa.String),
    sa.Column("day", sa.Date),
)
SCHEMA = {"k": pl.Int64(), "who": pl.String(), "day": pl.Date()}
ROWS = [
    (1, "赵敏", dt.date(2026, 11, 16)),
    (2, None, None),
    (3, "P3", dt.date(1969, 12, 31)),  # before 1970: a negative day number
    (4, "P4", dt.date(2024, 2, 29)),
    (5, "P5", dt.date(1970, 1, 1)),
]


@pytest.fixture
def engine(database_url: str):
    engine = sa.create_engine(database_url)
    TABLE.create(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(TABLE), [dict(zip(("k", "who", "day"), row, strict=True)) for row in ROWS])
    yield engine
    engine.dispose()


@pytest.mark.parametrize("chunk_rows", [2, 1_000_000])
def test_a_read_returns_every_row_typed_in_chunks_of_the_chosen_size(engine, monkeypatch, chunk_rows):
    monkeypatch.setattr(db, "READ_CHUNK_ROWS", chunk_rows)
    frame = db.read_frame(engine, sa.select(TABLE).order_by(TABLE.c.k), SCHEMA)
    assert frame.schema == pl.Schema(SCHEMA)
    assert frame.rows() == ROWS


def test_an_empty_result_keeps_its_columns(engine):
    frame = db.read_frame(engine, sa.select(TABLE).where(TABLE.c.k > 99), SCHEMA)
    assert frame.height == 0
    assert frame.schema == pl.Schema(SCHEMA)


def test_dates_in_aggregates_and_beside_text_columns_read_as_dates(engine):
    latest = sa.select(sa.func.max(TABLE.c.day).label("day"), sa.func.count(TABLE.c.day).label("n"))
    assert db.read_frame(engine, latest, {"day": pl.Date(), "n": pl.Int64()}).rows() == [(dt.date(2026, 11, 16), 4)]
    # A text column among the columns: the query is run as written, the date parsed from text on SQLite.
    mixed = sa.select(TABLE.c.day, sa.text("who")).select_from(TABLE).where(TABLE.c.k == 1)
    assert db.read_frame(engine, mixed, {"day": pl.Date(), "who": pl.String()}).rows() == [
        (dt.date(2026, 11, 16), "赵敏")
    ]


def test_sqlite_dates_are_selected_as_day_numbers():
    sql = str(db._sqlite_dates_as_day_numbers(sa.select(TABLE), SCHEMA).compile(dialect=sa.dialects.sqlite.dialect()))
    assert "julianday(read_probe.day)" in sql
    assert "read_probe.who" in sql
