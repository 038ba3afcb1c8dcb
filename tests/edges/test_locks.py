"""Locks: a second holder is refused or waits, and a lock dies with the process that held it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from edges.locks import LockBusy, held


def _hold_forever(url: str, name: str, ready) -> None:
    with held(url, name):
        ready.set()
        time.sleep(600)


def test_a_second_holder_is_refused_and_the_lock_is_free_again_afterwards(database_url):
    with held(database_url, "run:2026-11-02"):
        with pytest.raises(LockBusy), held(database_url, "run:2026-11-02"):
            pass
        with held(database_url, "run:2026-11-03"):  # another date is another lock
            pass
    with held(database_url, "run:2026-11-02"):
        pass


def test_a_lock_dies_with_a_killed_holder(database_url):
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    holder = ctx.Process(target=_hold_forever, args=(database_url, "run:2026-11-02", ready))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(LockBusy), held(database_url, "run:2026-11-02"):
            pass
        os.kill(holder.pid, signal.SIGKILL)
        holder.join(30)
        with held(database_url, "run:2026-11-02", wait_seconds=10):
            pass
    finally:
        if holder.is_alive():
            holder.kill()
