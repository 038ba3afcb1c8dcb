"""read_frame through ADBC: SQLite reads after SQLAlchemy writes in one process, PostgreSQL NUMERIC columns."""

from __future__ import annotations

import sqlite3

import pytest

from edges.db import make_engine, read_frame


def test_adbc_reads_between_pysqlite_writes_are_fresh_and_leave_the_file_sound(tmp_path):
    path = tmp_path / "two_libraries.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert read_frame(engine, "SELECT count(*) AS n FROM t").item() == 1
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (2)")
    # Before the fix this read 1 row: ADBC's own SQLite had deleted the WAL under the pooled connection.
    assert read_frame(engine, "SELECT count(*) AS n FROM t").item() == 2
    with engine.connect() as held:  # a checked-out connection: the read goes through pysqlite
        held.exec_driver_sql("SELECT 1")
        assert read_frame(engine, "SELECT count(*) AS n FROM t").item() == 2
    engine.dispose()
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (2,)


def test_a_column_null_for_its_first_thousands_of_rows_then_text_still_reads(tmp_path):
    """ADBC's SQLite driver types a column from its first rows and fails on a later text value."""
    import polars as pl

    engine = make_engine(f"sqlite:///{tmp_path / 'late_text.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (n INTEGER, event_id TEXT)")
        conn.exec_driver_sql(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 5000) "
            "INSERT INTO t SELECT n, CASE WHEN n > 4000 THEN 'EV' || n END FROM s"
        )
    frame = read_frame(engine, "SELECT n, event_id FROM t ORDER BY n", {"n": pl.Int64, "event_id": pl.String})
    assert frame.height == 5000
    assert frame["event_id"].null_count() == 4000
    assert frame["event_id"][4000] == "EV4001"
    engine.dispose()


@pytest.mark.postgres
def test_postgres_numeric_through_adbc_becomes_float(postgres_admin):
    import uuid

    import polars as pl

    name = f"keqing_num_{uuid.uuid4().hex[:8]}"
    with postgres_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        sql = "SELECT 12.34::numeric(14,2) AS amount, 'x' AS id"
        frame = read_frame(engine, sql, {"amount": pl.Float64(), "id": pl.String()})
        assert frame.rows() == [(12.34, "x")]
    finally:
        engine.dispose()
        with postgres_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_whether_adbc_may_read_is_only_a_question(tmp_path):
    """``_adbc_usable`` answers and changes nothing: the pooled connection it sees stays pooled
    (``read_frame``, the caller, is the one that closes them before an ADBC read)."""
    from edges.db import _adbc_usable

    engine = make_engine(f"sqlite:///{tmp_path / 'question.db'}")
    assert _adbc_usable(make_engine("sqlite://")) is False  # in memory: nothing for ADBC to open
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        assert _adbc_usable(engine) is False  # a checked-out connection
    pooled = engine.pool.checkedin()
    assert pooled == 1
    assert _adbc_usable(engine) is True
    assert engine.pool.checkedin() == pooled
    engine.dispose()


@pytest.mark.postgres
def test_postgres_reads_reuse_one_connection_that_holds_no_lock_and_survives_its_backend_dying(postgres_admin):
    """An ADBC connection costs about 50 ms to open: reads reuse an idle one. Idle, it is outside any
    transaction (a TRUNCATE does not wait for it); killed by the server, the next read opens another."""
    import uuid

    from edges.db import dispose_engines

    name = f"keqing_pool_{uuid.uuid4().hex[:8]}"
    with postgres_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = postgres_admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    backend = "SELECT pg_backend_pid() AS pid"
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (n integer)")
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        first = read_frame(engine, backend).item()
        assert read_frame(engine, "SELECT count(*) AS n FROM t").item() == 1
        assert read_frame(engine, backend).item() == first  # the same connection, reused
        with engine.begin() as conn:  # would wait forever behind a read's open transaction
            conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            conn.exec_driver_sql("TRUNCATE t")
        assert read_frame(engine, "SELECT count(*) AS n FROM t").item() == 0  # and sees what was committed
        with postgres_admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        assert read_frame(engine, backend).item() != first
    finally:
        engine.dispose()
        dispose_engines()
        with postgres_admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
