"""The temporary Prefect API server that `keqing run` starts before its imports (edges/prefect_api.py)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from edges import prefect_api


def test_no_server_is_started_when_the_environment_names_one(monkeypatch):
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")
    assert prefect_api.start_if_needed() is None
    with prefect_api.serving(None, timeout_seconds=1):
        pass


@pytest.mark.slow
def test_the_server_answers_its_health_check_and_stops_with_its_owner(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    api = prefect_api.start_if_needed()
    assert api is not None
    try:
        api.wait(timeout_seconds=120)
        with urllib.request.urlopen(f"{api.api_url}/health", timeout=5) as response:
            assert response.status == 200
        with urllib.request.urlopen(f"{api.api_url}/admin/settings", timeout=5) as response:
            server = json.load(response)["server"]
        # A server for one run: no automations to evaluate, no telemetry; flows and tasks recorded.
        assert server["services"]["triggers"]["enabled"] is False
        assert server["analytics_enabled"] is False
        assert server["services"]["task_run_recorder"]["enabled"] is True
    finally:
        api.stop()
    assert api.process.poll() is not None


def _answering(*statuses: int, headers: list | None = None):
    """An ASGI app answering each HTTP request with the next status, and what it was sent back."""
    import asyncio

    pending = list(statuses)

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": pending.pop(0), "headers": list(headers or [])})
        await send({"type": "http.response.body", "body": b"{}"})

    def ask(wrapped) -> dict:
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        asyncio.run(wrapped({"type": "http"}, None, send))
        return dict(sent[0]["headers"])

    return app, ask


def test_busy_answers_ask_for_a_short_retry_doubling_while_the_server_stays_busy():
    """Prefect's client waits 2 s after a 503 that names no Retry-After; the wrapper names one."""
    now = [100.0]
    app, ask = _answering(503, 503, 503, 200, 503, 503)
    wrapped = prefect_api.RetrySoonWhenBusy(app, first_seconds=0.2, most_seconds=0.5, clock=lambda: now[0])
    assert ask(wrapped)[b"retry-after"] == b"0.20"
    now[0] += 0.3  # the retry, busy again
    assert ask(wrapped)[b"retry-after"] == b"0.40"
    now[0] += 0.5
    assert ask(wrapped)[b"retry-after"] == b"0.50"  # capped
    assert b"retry-after" not in ask(wrapped)  # a 200 is left alone
    now[0] += 1.6  # after the last wait and its grace of 1 s: a new conflict starts over
    assert ask(wrapped)[b"retry-after"] == b"0.20"
    app, ask = _answering(503, headers=[(b"Retry-After", b"7")])
    assert ask(prefect_api.RetrySoonWhenBusy(app))[b"Retry-After"] == b"7"  # the app's own is kept
