"""The nightly flow as a whole: one run per date at a time, and its record in the runs table."""

from __future__ import annotations

import pytest

from flows.nightly import RunInProgress
from keqing.locks import held
from tests.helpers import run_nightly, table, write_master

pytestmark = pytest.mark.usefixtures("prefect_server")


def test_a_second_run_for_the_same_date_stops_with_a_clear_message(settings):
    write_master(settings)
    with held(settings.database_url, "run:2026-11-02"), pytest.raises(RunInProgress, match="2026-11-02 is in progress"):
        run_nightly("2026-11-02")
    summary = run_nightly("2026-11-02")
    assert summary["ingest"]["files_new"] == 3
    runs = table(settings, "runs")
    assert runs.select("status").to_series().to_list() == ["succeeded"]
