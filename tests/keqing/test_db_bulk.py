"""Bulk inserts on SQLite and PostgreSQL: every row arrives once, in slices or not."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from keqing import db


@pytest.mark.parametrize("slice_rows", [2, 100_000])
def test_insert_frame_writes_every_row_once_whatever_the_slice(database_url, monkeypatch, slice_rows):
    monkeypatch.setattr(db, "COPY_SLICE_ROWS", slice_rows)  # 5 rows in slices of 2: three COPY writes
    table = sa.Table(
        "bulk_probe",
        sa.MetaData(),
        sa.Column("k", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String),
        sa.Column("at", sa.DateTime),
    )
    frame = pl.DataFrame(
        {
            "k": [1, 2, 3, 4, 5],
            "name": ["赵敏", None, 'say "hi", then go', "line\nbreak", "钱多多"],
            "at": [dt.datetime(2026, 11, 16, 23, 59, 30, 250_000), None, None, None, dt.datetime(2026, 11, 17)],
        }
    )
    engine = sa.create_engine(database_url)
    table.create(engine)
    with engine.begin() as conn:
        assert db.insert_frame(conn, table, frame) == 5
    with engine.connect() as conn:
        got = conn.execute(sa.select(table).order_by(table.c.k)).all()
    engine.dispose()
    assert [tuple(r) for r in got] == list(frame.iter_rows())
