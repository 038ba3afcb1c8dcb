"""Shared by the fault tests: one generated `tiny` inbox, a fresh database per night, and the undisturbed
reference night per database (SQLite and PostgreSQL), each computed once per test session."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pickle
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa

from keqing.generate import generate
from tests.conftest import POSTGRES_URL
from tests.faults.process import keqing
from tests.faults.snapshot import Snapshot, snapshot

RUN_DATE = dt.date(2026, 11, 2)  # a Monday after tiny's October: every kind of email, the weekly ranking
MAIL_FROM = "客情 <keqing@corp.example>"
T = TypeVar("T")


@dataclass
class Night:
    """One keqing database, inbox and outbox folder, and the runs made on them."""

    database_url: str
    inbox: Path
    outbox: Path
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    runs: int = 0

    def base_env(self) -> dict[str, str]:
        return {
            "KEQING_INBOX": str(self.inbox),
            "KEQING_DATABASE_URL": self.database_url,
            "KEQING_OUTBOX": str(self.outbox),
            "KEQING_MAIL_FROM": MAIL_FROM,
        } | self.env

    def run(self, *, failpoint: str | None = None, date: dt.date = RUN_DATE, **env: str) -> int:
        """``keqing run --date`` in its own process; its exit status (-9 when a failpoint killed it)."""
        self.runs += 1
        full = self.base_env() | {k.upper(): v for k, v in env.items()}
        if failpoint:
            full["KEQING_FAILPOINT"] = failpoint
        log = self.logs / f"run-{self.runs}.log"
        return keqing(full, "run", "--date", date.isoformat(), log=log)

    def log(self, number: int | None = None) -> str:
        return (self.logs / f"run-{number or self.runs}.log").read_text(encoding="utf-8", errors="replace")

    def snapshot(self) -> Snapshot:
        return snapshot(self.database_url, self.outbox)

    def query(self, sql: str, **params: object) -> list[tuple]:
        engine = sa.create_engine(self.database_url, poolclass=sa.pool.NullPool)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql), params)]
        finally:
            engine.dispose()


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder all pytest-xdist workers of this session see (their common base), for what is made once."""
    base = tmp_path_factory.getbasetemp()
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "faults-shared"
    folder.mkdir(exist_ok=True)
    return folder


def once(shared: Path, name: str, make: Callable[[], T]) -> T:
    """``make()`` once per test session, whichever xdist worker asks first; the others wait and reuse it.

    (The suite's ``--dist loadgroup`` does not keep tests with one ``xdist_group`` on one worker here,
    so the expensive fixtures are shared this way: pytest-xdist's "execute only once" recipe.)
    """
    with (shared / f"{name}.lock").open("a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        made = shared / f"{name}.pickle"
        if made.exists():
            return pickle.loads(made.read_bytes())
        value = make()
        made.write_bytes(pickle.dumps(value))
        return value


@pytest.fixture(scope="session")
def tiny_inbox(shared: Path) -> Path:
    """The generated `tiny` inbox (31 days of October 2026, with its default share of dirty rows).

    Read-only for everyone: keqing never modifies, moves or deletes inbox files.
    """

    def make() -> Path:
        generate("tiny", shared / "tiny-inbox")
        return shared / "tiny-inbox"

    return once(shared, "tiny-inbox", make)


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


class Databases:
    """Fresh migrated keqing databases of one backend (copies of the session's template)."""

    def __init__(self, backend: str, template: Path | str, admin: sa.Engine | None) -> None:
        self.backend, self.template, self.admin = backend, template, admin
        self.created: list[str] = []

    def new(self, folder: Path) -> str:
        if self.backend == "sqlite":
            path = folder / "edges.db"
            shutil.copy(self.template, path)
            return f"sqlite:///{path}"
        assert self.admin is not None
        name = f"keqing_f_{uuid.uuid4().hex[:10]}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return sa.make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    def drop(self, database_url: str | None = None) -> None:
        """Drop one PostgreSQL database made here (all of them without an argument)."""
        names = [sa.make_url(database_url).database] if database_url else list(self.created)
        if self.admin is None:
            return
        with self.admin.connect() as conn:
            for name in [n for n in names if n in self.created]:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                self.created.remove(name)


@pytest.fixture(scope="session")
def databases(request: pytest.FixtureRequest, backend: str) -> Iterator[Databases]:
    if backend == "sqlite":
        dbs = Databases(backend, request.getfixturevalue("sqlite_template"), None)
    else:
        admin = request.getfixturevalue("postgres_admin")
        dbs = Databases(backend, request.getfixturevalue("postgres_template"), admin)
    yield dbs
    dbs.drop()


def new_night(databases: Databases, inbox: Path, folder: Path) -> Night:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(exist_ok=True)
    return Night(databases.new(folder), inbox, folder / "outbox", folder / "logs")


@pytest.fixture(scope="session")
def reference(prefect_server: None, databases: Databases, tiny_inbox: Path, shared: Path) -> Snapshot:
    """The undisturbed night: one run of RUN_DATE on a fresh database, writing .eml files."""

    def make() -> Snapshot:
        night = new_night(databases, tiny_inbox, shared / f"reference-{databases.backend}")
        assert night.run() == 0, night.log()
        return night.snapshot()

    return once(shared, f"reference-{databases.backend}", make)


@pytest.fixture
def night(prefect_server: None, databases: Databases, tiny_inbox: Path, tmp_path: Path) -> Iterator[Night]:
    """A fresh database and outbox folder for one test, on the same inbox as the reference."""
    night = new_night(databases, tiny_inbox, tmp_path)
    yield night
    databases.drop(night.database_url)
