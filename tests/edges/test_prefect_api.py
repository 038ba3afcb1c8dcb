"""The temporary Prefect API server that `keqing run` starts before its imports (edges/prefect_api.py)."""

from __future__ import annotations

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
    finally:
        api.stop()
    assert api.process.poll() is not None
