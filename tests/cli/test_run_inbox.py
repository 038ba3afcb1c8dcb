"""`keqing run` with an inbox that is missing or not a folder: the run fails (exit 1), once, and says why."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from cli.main import app
from tasks.ingest import discover
from tests.helpers import table

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.mark.parametrize("make_bad", ["missing", "a_file"])
def test_a_missing_or_unusable_inbox_fails_the_run_with_exit_1_and_is_not_retried(settings, monkeypatch, make_bad):
    shutil.rmtree(settings.inbox)
    if make_bad == "a_file":
        settings.inbox.write_text("not a folder")
    calls = []
    real = discover._inbox_entries
    monkeypatch.setattr(discover, "_inbox_entries", lambda inbox: calls.append(inbox) or real(inbox))

    result = CliRunner().invoke(app, ["run", "--date", "2026-11-02"])

    assert result.exit_code == 1
    what = "does not exist" if make_bad == "missing" else "is not a folder"
    assert f"the inbox {settings.inbox} {what}; check KEQING_INBOX" in result.output
    assert len(calls) == 1  # not retried: a retry cannot create the folder
    runs = table(settings, "runs")
    assert runs["status"].to_list() == ["failed"]
    assert "InboxUnavailable" in runs["error"][0]
    assert table(settings, "outbox").height == 0
