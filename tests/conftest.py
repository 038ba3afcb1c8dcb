"""Shared fixtures: one Prefect test server per session, and a fresh keqing database per test on
SQLite and (when reachable, always in CI) PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from edges.db import dispose_engines, make_engine, upgrade
from keqing.settings import Settings, get_settings

POSTGRES_URL = os.environ.get("KEQING_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _postgres_reachable() -> str | None:
    """None when the test server answers, else why not."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[sa.Engine]:
    problem = _postgres_reachable()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL at {POSTGRES_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL} ({problem}); set KEQING_TEST_POSTGRES_URL")
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_template(postgres_admin: sa.Engine) -> Iterator[str]:
    """A migrated database to copy per test (CREATE DATABASE .. TEMPLATE is fast)."""
    name = f"keqing_tpl_{uuid.uuid4().hex[:8]}"
    with postgres_admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield name
    with postgres_admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty keqing database: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "edges.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        dispose_engines()
        return
    admin: sa.Engine = request.getfixturevalue("postgres_admin")
    template = request.getfixturevalue("postgres_template")
    name = f"keqing_t_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    dispose_engines()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[Settings]:
    """Settings for a test: its own inbox, outbox and database, no SMTP."""
    for name in list(os.environ):
        if name.startswith("KEQING_") and name not in ("KEQING_TEST_POSTGRES_URL",):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KEQING_INBOX", str(tmp_path / "inbox"))
    monkeypatch.setenv("KEQING_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.setenv("KEQING_DATABASE_URL", database_url)
    (tmp_path / "inbox").mkdir()
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes 10-20 s to start): the one `keqing
    run` starts (edges/prefect_api.py, which answers SQLite's busy 503s with a short Retry-After),
    on a database of the session's own, as Prefect's ``prefect_test_harness`` does."""
    import prefect.context
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from edges.prefect_api import TemporaryApi

    database = tmp_path_factory.mktemp("prefect") / "prefect.db"
    server_env = {
        "PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}",
        # Task runs arrive as events that this service writes to the database: half of the server's
        # CPU, which was as much as the tests' own. No test reads task runs back from this server
        # (the deployment tests start servers of their own).
        "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED": "false",
    }
    api = TemporaryApi(env=server_env)
    api.wait(timeout_seconds=120)
    with contextlib.ExitStack() as stack:
        stack.enter_context(temporary_settings(updates={PREFECT_API_URL: api.api_url}))
        # As the harness: code in a context copied before this one (a thread) uses this server too.
        stack.enter_context(prefect.context._temporary_global_settings_context(prefect.context.get_settings_context()))
        yield
    # The server stops at exit, after Prefect has flushed its last events and logs to it.
