"""Failpoints: a named point raises, fires only the k-th time with ``@k``, or pauses; unset, nothing."""

from __future__ import annotations

import pytest

from edges import failpoints


@pytest.fixture(autouse=True)
def fresh_counts(monkeypatch):
    monkeypatch.setattr(failpoints, "_reached", failpoints.Counter())


def test_unset_or_another_name_does_nothing(monkeypatch):
    monkeypatch.delenv("KEQING_FAILPOINT", raising=False)
    failpoints.check("stage:ingest:done")
    monkeypatch.setenv("KEQING_FAILPOINT", "stage:grading:done")
    failpoints.check("stage:ingest:done")


def test_a_named_point_raises_every_time(monkeypatch):
    monkeypatch.setenv("KEQING_FAILPOINT", "load:staff:after_upsert, stage:ingest:done")
    for _ in range(2):
        with pytest.raises(failpoints.InjectedFault, match="fault injected at stage:ingest:done"):
            failpoints.check("stage:ingest:done")


def test_at_k_fires_only_the_kth_time(monkeypatch):
    monkeypatch.setenv("KEQING_FAILPOINT", "deliver:sent@3")
    failpoints.check("deliver:sent")
    failpoints.check("deliver:sent")
    with pytest.raises(failpoints.InjectedFault):
        failpoints.check("deliver:sent")
    failpoints.check("deliver:sent")


def test_sleep_pauses_and_goes_on(monkeypatch):
    slept = []
    monkeypatch.setattr(failpoints.time, "sleep", slept.append)
    monkeypatch.setenv("KEQING_FAILPOINT", "load:visits:after_upsert@1=sleep:2.5")
    failpoints.check("load:visits:after_upsert")
    failpoints.check("load:visits:after_upsert")
    assert slept == [2.5]
