"""The database edge: engines, migrations, and the bulk paths in and out of Polars.

Upserts go through a staging table and one set-based ``INSERT .. SELECT .. ON CONFLICT`` per table;
plain appends, and the first load of an empty table, go straight in. PostgreSQL writes with ``COPY``,
SQLite with one ``executemany``. Reads of large tables go through ADBC straight into Arrow. Both
dialects are first-class.
"""

from __future__ import annotations

import contextlib
import io
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and its parent folder created."""
    url_obj = sa.make_url(url)
    if url_obj.get_backend_name() == "sqlite":
        if url_obj.database and url_obj.database != ":memory:":
            Path(url_obj.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url_obj, connect_args={"timeout": 60}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, manage transactions (needed for BEGIN IMMEDIATE etc.).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    if url_obj.drivername in ("postgresql", "postgres"):
        url_obj = url_obj.set(drivername="postgresql+psycopg")
    # Staging tables are temporary: give them room in memory (the default 8 MB spills to disk); and
    # the nightly reads aggregate millions of rows, which spill to disk with the default 4 MB work_mem.
    connect_args = {"options": "-c temp_buffers=256MB -c work_mem=128MB"}
    return sa.create_engine(url_obj, pool_pre_ping=True, connect_args=connect_args, **kwargs)


_ENGINES: dict[str, Engine] = {}


def get_engine(url: str) -> Engine:
    """One engine per URL per process (tasks look it up from the settings)."""
    if url not in _ENGINES:
        _ENGINES[url] = make_engine(url)
    return _ENGINES[url]


def dispose_engines() -> None:
    """Close every cached engine's connections and the idle ADBC ones (tests and forked workers call this)."""
    for engine in list(_ENGINES.values()):
        engine.dispose()
    _ENGINES.clear()
    _close_idle_adbc()


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def refresh_statistics(engine: Engine, tables: Iterable[sa.Table], *, vacuum: bool = False) -> None:
    """PostgreSQL: ANALYZE ``tables`` now, after a large write, rather than when autovacuum gets to
    them (until then the planner guesses a handful of rows for what was just written). SQLite: nothing.

    ``vacuum``: VACUUM (ANALYZE) instead, after a bulk load of many rows. Until a table is vacuumed,
    its visibility map is empty and an index-only scan visits the table for every row: at `large`
    with two years of orders, the reorder list's read of 1.8 M order days took 6.0 s right after the
    load and 1.8 s after a VACUUM that took 0.3 s. Autovacuum would get there too, but not before
    the next night's queries.
    """
    if not is_postgres(engine):
        return
    command = "VACUUM (ANALYZE)" if vacuum else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in tables:
            conn.exec_driver_sql(f"{command} {table.name}")


def drop_secondary_indexes(engine: Engine, table: sa.Table) -> list[str]:
    """Drop the model's non-unique indexes of ``table`` (the primary key and unique constraints,
    which conflicts need, stay), so that a bulk load does not update them row by row; the names.
    ``create_missing_indexes`` builds them again, and every run calls it at its start."""
    dropped = [index for index in table.indexes if not index.unique]
    with engine.begin() as conn:
        for index in dropped:
            conn.execute(sa.schema.DropIndex(index, if_exists=True))
    return sorted(index.name for index in dropped)


def index_names(conn: Connection) -> set[str]:
    """The names of the indexes in the database (current schema)."""
    if is_postgres(conn):
        sql = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'index'"
    return {name for (name,) in conn.exec_driver_sql(sql)}


def create_missing_indexes(engine: Engine, tables: Iterable[sa.Table]) -> list[str]:
    """Create the indexes of ``tables`` that the database lacks; the names created. Only missing ones
    are touched: creating an index locks its table against writes while it is built. ``IF NOT
    EXISTS``: two processes starting at once (regional workers) may both find one missing."""
    with engine.begin() as conn:
        present = index_names(conn)
        missing = sorted((i for t in tables for i in t.indexes if i.name not in present), key=lambda i: i.name)
        for index in missing:
            conn.execute(sa.schema.CreateIndex(index, if_not_exists=True))
    return [index.name for index in missing]


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config(str(MIGRATIONS.parent / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent; safe to call on every run)."""
    from alembic import command

    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if is_postgres(conn):
            # Two processes migrating at once would race; the advisory lock dies with its session.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(74657101)")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


# --- writing ---------------------------------------------------------------------------------


def _sqlite_values(df: pl.DataFrame) -> pl.DataFrame:
    """Values as SQLAlchemy's SQLite types store them (ISO text dates, 0/1 booleans)."""
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype == pl.Date:
            exprs.append(col.dt.strftime("%Y-%m-%d"))
        elif isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.strftime("%Y-%m-%d %H:%M:%S.%6f"))
        elif dtype == pl.Boolean:
            exprs.append(col.cast(pl.Int8))
        else:
            exprs.append(col)
    return df.select(exprs)


COPY_SLICE_ROWS = 100_000


def _bulk_insert(conn: Connection, target: str, df: pl.DataFrame) -> None:
    """Append ``df`` to the table named ``target`` in one bulk operation (COPY, or one executemany)."""
    if df.height == 0:
        return
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in df.columns)
    if is_postgres(conn):
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {target} ({quoted}) FROM STDIN WITH (FORMAT csv)") as copy:
            # In slices, so that a million rows never sit in memory twice more as CSV text.
            for part in df.iter_slices(COPY_SLICE_ROWS):
                buf = io.BytesIO()
                # Nulls are unquoted empty fields; empty strings were turned into nulls by the normaliser.
                part.write_csv(buf, include_header=False, null_value="", datetime_format="%Y-%m-%d %H:%M:%S%.f")
                copy.write(buf.getbuffer())
    else:
        marks = ", ".join("?" for _ in df.columns)
        cur = conn.connection.driver_connection.cursor()
        cur.executemany(f"INSERT INTO {target} ({quoted}) VALUES ({marks})", _sqlite_values(df).iter_rows())
        cur.close()


def _stage(conn: Connection, table: sa.Table, df: pl.DataFrame, staging: str) -> None:
    """Create a temporary table with ``table``'s columns of ``df`` (their types, no constraints) and
    fill it with ``df`` in one bulk operation."""
    empty = f"SELECT {', '.join(conn.dialect.identifier_preparer.quote(c) for c in df.columns)} FROM {table.name}"
    if is_postgres(conn):
        conn.exec_driver_sql(f"CREATE TEMP TABLE {staging} ON COMMIT DROP AS {empty} WHERE false")
    else:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS temp.{staging}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {staging} AS {empty} WHERE 0")
    _bulk_insert(conn, staging, df)


def _is_empty(conn: Connection, table: sa.Table) -> bool:
    return conn.exec_driver_sql(f"SELECT 1 FROM {table.name} LIMIT 1").first() is None


def _drop_staging(conn: Connection, staging: str) -> None:
    """Drop the staging table now, so the same table can be loaded again in this transaction."""
    conn.exec_driver_sql(f"DROP TABLE {staging}" if is_postgres(conn) else f"DROP TABLE temp.{staging}")


def upsert_frame(
    conn: Connection,
    table: sa.Table,
    df: pl.DataFrame,
    key: Sequence[str],
    *,
    newer_by: Sequence[str] | None = None,
) -> int:
    """Insert or update ``df`` into ``table`` by ``key``: stage in bulk, then one set-based statement.

    Rows of ``df`` must be unique by ``key`` (the caller keeps the latest). With ``newer_by`` (e.g.
    source file and line), an existing row is only replaced by one that is not older by those
    columns, so a late retry of an old row never overwrites a newer version. Returns the row count.
    """
    if df.height == 0:
        return 0
    if _is_empty(conn, table):  # the first load of a table: nothing to conflict with, append directly
        _bulk_insert(conn, table.name, df)
        return df.height
    staging = f"stg_{table.name}"
    _stage(conn, table, df, staging)
    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote(c) for c in df.columns)
    updates = [c for c in df.columns if c not in key]
    conflict = ", ".join(prep.quote(c) for c in key)
    if updates:
        sets = ", ".join(f"{prep.quote(c)} = excluded.{prep.quote(c)}" for c in updates)
        action = f"DO UPDATE SET {sets}"
        if newer_by:
            mine = ", ".join(f"{table.name}.{prep.quote(c)}" for c in newer_by)
            theirs = ", ".join(f"excluded.{prep.quote(c)}" for c in newer_by)
            action += f" WHERE ({mine}) <= ({theirs})"
    else:
        action = "DO NOTHING"
    # "WHERE true" keeps SQLite's parser from reading ON CONFLICT as a join constraint.
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {staging} WHERE true ON CONFLICT ({conflict}) {action}"
    )
    _drop_staging(conn, staging)
    return df.height


def frame_changes(old: pl.DataFrame, new: pl.DataFrame, key: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What turns the rows ``old`` into ``new`` (both unique by ``key``, same columns): the rows of
    ``new`` not in ``old`` exactly as they are (to insert), and the keys of the rows of ``old`` not in
    ``new`` exactly (to delete: changed or gone). Nulls compare equal; rows that did not change are in
    neither."""
    columns = list(new.columns)
    fresh = new.join(old.select(columns), on=columns, how="anti", nulls_equal=True)
    stale = old.select(columns).join(new, on=columns, how="anti", nulls_equal=True).select(key)
    return fresh, stale


def delete_keys(conn: Connection, table: sa.Table, keys: pl.DataFrame) -> int:
    """Delete the rows of ``table`` whose key columns (the columns of ``keys``) match a row of ``keys``:
    the keys staged in bulk, then one statement. Returns the number of keys."""
    if keys.height == 0:
        return 0
    cols = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in keys.columns)
    staging = f"stg_keys_{table.name}"
    _stage(conn, table, keys, staging)
    conn.exec_driver_sql(f"DELETE FROM {table.name} WHERE ({cols}) IN (SELECT {cols} FROM {staging})")
    _drop_staging(conn, staging)
    return keys.height


def dialect_insert(conn: Connection, table: sa.Table) -> Any:
    """The dialect's own INSERT for ``table`` (PostgreSQL or SQLite), which has ``on_conflict_*``."""
    if is_postgres(conn):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def insert_ignore(conn: Connection, table: sa.Table) -> Any:
    """``INSERT .. ON CONFLICT DO NOTHING``: rows already there are skipped (a retried write must not
    fail on its own earlier rows)."""
    return dialect_insert(conn, table).on_conflict_do_nothing()


def insert_frame(conn: Connection, table: sa.Table, df: pl.DataFrame, *, ignore_conflicts: bool = False) -> int:
    """Append ``df`` to ``table`` in bulk; with ``ignore_conflicts`` rows hitting a unique key are skipped."""
    if df.height == 0:
        return 0
    if not ignore_conflicts:  # a conflict is an error either way: no need to stage
        _bulk_insert(conn, table.name, df)
        return df.height
    staging = f"stg_{table.name}"
    _stage(conn, table, df, staging)
    prep = conn.dialect.identifier_preparer
    cols = ", ".join(prep.quote(c) for c in df.columns)
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    result = conn.exec_driver_sql(f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {staging} WHERE true{tail}")
    _drop_staging(conn, staging)
    return result.rowcount if result.rowcount is not None and result.rowcount >= 0 else df.height


# --- reading ---------------------------------------------------------------------------------


def _polars_dtype(column: sa.Column) -> pl.DataType:
    t = column.type
    if isinstance(t, sa.Boolean):
        return pl.Boolean()
    if isinstance(t, sa.DateTime):
        return pl.Datetime("us")
    if isinstance(t, sa.Date):
        return pl.Date()
    if isinstance(t, sa.Integer):
        return pl.Int64()
    if isinstance(t, sa.Float | sa.Numeric):
        return pl.Float64()
    if isinstance(t, sa.JSON):
        return pl.String()
    return pl.String()


def frame_schema(table: sa.Table, columns: Iterable[str] | None = None) -> dict[str, pl.DataType]:
    names = list(columns) if columns is not None else [c.name for c in table.columns]
    return {name: _polars_dtype(table.c[name]) for name in names}


def _cast_to(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        current = df.schema[name]
        if current == dtype:
            exprs.append(col)
        elif dtype == pl.Date and current.is_integer():  # days since 1970-01-01
            exprs.append(col.cast(pl.Int32).cast(pl.Date))
        elif dtype == pl.Date and current == pl.String:
            exprs.append(col.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False))
        elif isinstance(dtype, pl.Datetime) and current == pl.String:
            exprs.append(col.str.to_datetime(time_unit="us", strict=False))
        elif dtype == pl.Boolean and current != pl.Boolean:
            exprs.append(col.cast(pl.Int64).cast(pl.Boolean))
        else:
            exprs.append(col.cast(dtype, strict=False))
    return df.select(exprs)


def _adbc_uri(engine: Engine) -> str:
    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    # The same session setting as the engine's (libpq URI options, percent-encoded).
    return uri + ("&" if "?" in uri else "?") + "options=-c%20work_mem%3D128MB"


# Idle ADBC PostgreSQL connections by (process, URI). Opening one costs about 50 ms (the driver
# reads the server's type catalogue), a query on an open one under 1 ms, and a night reads a few
# hundred times. Autocommit, so an idle connection holds no snapshot and no lock (a TRUNCATE or a
# DROP DATABASE does not wait for it); the process id keeps a forked child off its parent's sockets.
_ADBC_IDLE: dict[tuple[int, str], list[Any]] = {}
_ADBC_LOCK = threading.Lock()


def _close_idle_adbc() -> None:
    with _ADBC_LOCK:
        idle = [conn for conns in _ADBC_IDLE.values() for conn in conns]
        _ADBC_IDLE.clear()
    for conn in idle:
        with contextlib.suppress(Exception):
            conn.close()


@contextlib.contextmanager
def _adbc_connection(engine: Engine, *, fresh: bool = False) -> Iterator[tuple[Any, bool]]:
    """An ADBC connection to ``engine``'s database and whether it was reused.

    SQLite connections are opened for the read and closed after it (opening one costs 0.5 ms and
    they must not outlive it, see ``_adbc_usable``). PostgreSQL ones go back to the idle list after a
    read that succeeded; one whose read failed is closed.
    """
    if engine.url.get_backend_name() == "sqlite":
        import adbc_driver_sqlite.dbapi as adbc_sqlite

        with adbc_sqlite.connect(engine.url.database or ":memory:") as conn:
            yield conn, False
        return
    import adbc_driver_postgresql.dbapi as adbc_pg

    key = (os.getpid(), _adbc_uri(engine))
    conn = None
    if not fresh:
        with _ADBC_LOCK:
            idle = _ADBC_IDLE.get(key)
            conn = idle.pop() if idle else None
    reused = conn is not None
    if conn is None:
        conn = adbc_pg.connect(key[1], autocommit=True)
    try:
        yield conn, reused
    except BaseException:
        with contextlib.suppress(Exception):
            conn.close()
        raise
    with _ADBC_LOCK:
        _ADBC_IDLE.setdefault(key, []).append(conn)


def _plain_arrow(table: Any) -> Any:
    """Arrow extension columns as their storage: ADBC's PostgreSQL driver returns NUMERIC (money) as an
    opaque extension over decimal strings, which Polars cannot cast; the schema cast then parses them."""
    import pyarrow as pa

    for index, field in enumerate(table.schema):
        if isinstance(field.type, pa.BaseExtensionType):
            column = table.column(index)
            storage = pa.chunked_array([chunk.storage for chunk in column.chunks], type=field.type.storage_type)
            table = table.set_column(index, field.name, storage)
    return table


def _adbc_usable(engine: Engine) -> bool:
    """Whether ``engine``'s database may be read through ADBC now (a question only: it changes nothing).

    ADBC links its own SQLite library. Two SQLite libraries with the same file open in one process
    break each other's POSIX locks: the ADBC connection, believing itself the last one, checkpoints
    and deletes the WAL under the open pysqlite connections, which then read stale data or fail with
    "disk I/O error". So on SQLite, ADBC reads only while none of the engine's connections is checked
    out (the read then goes through pysqlite), and ``read_frame`` closes the pooled ones first.
    """
    if engine.url.get_backend_name() != "sqlite":
        return True
    if engine.url.database in (None, "", ":memory:"):
        return False
    checked_out = getattr(engine.pool, "checkedout", None)
    return checked_out is None or checked_out() == 0


def _read_adbc(engine: Engine, sql: str, *, fresh: bool = False) -> pl.DataFrame | None:
    """``sql`` through ADBC into Arrow; None when ADBC's SQLite driver cannot type a column.

    That driver guesses each column's type from the first rows: a column whose first thousand values
    are NULL and later ones text fails with "Type mismatch". The caller then reads through pysqlite.
    A read that fails on a reused PostgreSQL connection (the server restarted since, say) is tried
    once more on a new one.
    """
    reused = False
    try:
        with _adbc_connection(engine, fresh=fresh) as (adbc, reused), adbc.cursor() as cur:
            if engine.url.get_backend_name() == "sqlite":  # the driver's default is 1,024 rows a batch
                cur.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "65536"})
            cur.execute(sql)
            return _collect_batches(cur.fetch_record_batch())
    except Exception as exc:
        if isinstance(exc, OSError) and engine.url.get_backend_name() == "sqlite" and "Type mismatch" in str(exc):
            return None
        if reused:
            return _read_adbc(engine, sql, fresh=True)
        raise


# Rows per chunk of a frame read through ADBC.
READ_CHUNK_ROWS = 1_000_000


def _collect_batches(reader: Any) -> pl.DataFrame:
    """The driver's record batches as one frame made of contiguous chunks of about READ_CHUNK_ROWS rows.

    Each chunk is copied out of the driver's batches as soon as it is full, so their memory goes back
    while reading. A frame made straight from the batches keeps every batch alive (Polars shares
    their numbers rather than copying them); bench/results/large.md has the figures.
    """
    import pyarrow as pa

    chunks: list[pl.DataFrame] = []
    pending: list[pl.DataFrame] = []
    pending_rows = 0
    for batch in reader:
        pending.append(pl.from_arrow(_plain_arrow(pa.Table.from_batches([batch]))))
        pending_rows += batch.num_rows
        if pending_rows >= READ_CHUNK_ROWS:
            chunks.append(pl.concat(pending, rechunk=True))
            pending, pending_rows = [], 0
    if pending:
        chunks.append(pl.concat(pending, rechunk=True))
    frame = pl.concat(chunks, rechunk=False) if chunks else pl.from_arrow(reader.schema.empty_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


_UNIX_EPOCH_JULIAN_DAY = 2440587.5


def _sqlite_dates_as_day_numbers(query: sa.Select, schema: dict[str, pl.DataType]) -> sa.Select:
    """``query`` with the columns wanted as dates selected as days since 1970-01-01.

    SQLite keeps dates as ISO text: read as strings and parsed in Polars they cost a third of the
    memory of a large read.
    """
    dates = {c.name for c in query.selected_columns if schema.get(c.name) == pl.Date}
    if not dates or len(query.column_descriptions) != len(query.selected_columns):
        return query  # nothing to do, or text such as sa.text("a, b") among the columns, which cannot be listed
    return query.with_only_columns(
        *(
            sa.cast(sa.func.julianday(c) - _UNIX_EPOCH_JULIAN_DAY, sa.Integer).label(c.name) if c.name in dates else c
            for c in query.selected_columns
        )
    )


def read_frame(
    bind: Engine | Connection, query: sa.Select | str, schema: dict[str, pl.DataType] | None = None
) -> pl.DataFrame:
    """Run ``query`` and return a Polars frame, cast to ``schema`` when given.

    With an engine, the query runs on its own ADBC connection straight into Arrow (committed data,
    fast for millions of rows). With a connection, it runs inside that connection's transaction.
    """
    if isinstance(query, sa.Select):
        if schema is not None and bind.dialect.name == "sqlite":
            query = _sqlite_dates_as_day_numbers(query, schema)
        sql = str(query.compile(dialect=bind.dialect, compile_kwargs={"literal_binds": True}))
    else:
        sql = query
    df = None
    if isinstance(bind, Engine) and _adbc_usable(bind):
        if bind.url.get_backend_name() == "sqlite":
            bind.dispose()  # no pooled pysqlite connection may stay open beside ADBC's (see _adbc_usable)
        df = _read_adbc(bind, sql)
    if df is None:
        result = bind.exec_driver_sql(sql) if isinstance(bind, Connection) else None
        if result is None:
            with bind.connect() as conn:
                result = conn.exec_driver_sql(sql)
                names, rows = list(result.keys()), result.fetchall()
        else:
            names, rows = list(result.keys()), result.fetchall()
        df = pl.DataFrame(
            [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in names],
            schema=names,
            orient="col",
            strict=False,
        )
    assert isinstance(df, pl.DataFrame)
    if schema is None:
        return df
    return _cast_to(df, {n: schema.get(n, df.schema[n]) for n in df.columns})


def read_table(bind: Engine | Connection, query: sa.Select) -> pl.DataFrame:
    """Rows of a select over one table, typed from that table's columns (see ``frame_schema``)."""
    table = query.get_final_froms()[0]
    assert isinstance(table, sa.Table), "read_table reads selects over one table"
    return read_frame(bind, query, frame_schema(table, [c.name for c in query.selected_columns]))


@contextlib.contextmanager
def reading(engine: Engine, conn: Connection | None = None) -> Iterator[Engine | Connection]:
    """Where a stage's reads go: PostgreSQL through the engine (ADBC into Arrow, committed data);
    SQLite through one pysqlite connection, ``conn`` when given (a write transaction reading what it
    builds on) or a new one, so that ADBC's second SQLite library never opens the file beside this
    process's pysqlite connections (see ``_adbc_usable``)."""
    if is_postgres(engine):
        yield engine
    elif conn is not None:
        yield conn
    else:
        with engine.connect() as own:
            yield own
