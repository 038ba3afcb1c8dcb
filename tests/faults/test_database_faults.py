"""PostgreSQL: keqing's connection terminated from another session in the middle of a load. The load's
transaction is lost as a whole, the load is retried on a new connection, and the night ends as an
undisturbed one."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from tests.faults.snapshot import differences

pytestmark = pytest.mark.e2e

POSTGRES_ONLY = pytest.mark.parametrize(
    "backend",
    [pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
    scope="session",
)
# The visits load, inside its transaction, after its rows went in: idle in a transaction for 8 s,
# the first time only (the retried load goes straight through).
PAUSE = "load:visits:after_upsert@1=sleep:8"


class Terminator(threading.Thread):
    """Terminates the first backend of ``database`` found idle in a transaction that touched visits."""

    def __init__(self, admin: sa.Engine, database: str) -> None:
        super().__init__(daemon=True)
        self.admin, self.database = admin, database
        self.stop = threading.Event()
        self.terminated: list[str] = []  # the last statement of each terminated session

    def run(self) -> None:
        with self.admin.connect() as conn:
            while not self.stop.is_set() and not self.terminated:
                found = conn.execute(
                    sa.text(
                        "SELECT pid, query FROM pg_stat_activity WHERE datname = :d "
                        "AND state = 'idle in transaction' AND query ILIKE '%visits%'"
                    ),
                    {"d": self.database},
                ).all()
                for pid, query in found:
                    if conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one():
                        self.terminated.append(query)
                time.sleep(0.05)


@POSTGRES_ONLY
def test_the_connection_dropped_in_the_middle_of_a_load_is_retried_and_the_night_is_undisturbed(
    night, reference, postgres_admin
):
    terminator = Terminator(postgres_admin, sa.make_url(night.database_url).database)
    terminator.start()
    try:
        assert night.run(failpoint=PAUSE) == 0, night.log()
    finally:
        terminator.stop.set()
        terminator.join()
    # One session terminated, idle inside the visits load (its last statement wrote visits: the
    # COPY of a first load, or the staging table's DROP after an upsert).
    assert len(terminator.terminated) == 1 and "visits" in terminator.terminated[0]
    ingested = dict(night.query("SELECT feed, sum(rows_loaded) FROM ingest_files GROUP BY feed"))
    assert ingested["visits"] == 3713  # once, by the retried load
    assert differences(night.snapshot(), reference) == []

    # And a rerun of the date changes nothing.
    assert night.run() == 0, night.log()
    assert differences(night.snapshot(), reference) == []
