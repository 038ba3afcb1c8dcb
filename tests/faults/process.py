"""``keqing run`` in a process of its own, which a failpoint may kill with SIGKILL.

The processes come from a ``forkserver`` that has imported keqing, Prefect and Great Expectations
once (about 13 s of imports a fresh ``keqing run`` would pay each time); each run is a fork of it
with its own environment, that runs the command line's ``run`` command against the session's
Prefect test server. A killed run dies as a power cut would: no ``finally``, no lock release
but the kernel's, nothing recorded. The exit status is that of ``keqing run`` (0, 1, 3), or -9
when it was killed.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from pathlib import Path

PRELOAD = ["cli.main", "flows.nightly", "keqing.ingest.expectations", "great_expectations", "tests.faults.process"]
TIMEOUT_SECONDS = 300
KILLED = -signal.SIGKILL


def _context():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def _main(env: dict[str, str], api_url: str, args: list[str], log: str) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    for name in [n for n in os.environ if n.startswith("KEQING_")]:
        del os.environ[name]
    os.environ.update(env)

    from prefect.settings import PREFECT_API_URL, PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from cli.main import app

    # No flow heartbeats: their thread costs up to 1 s at the end of each of a night's eight (sub)flows,
    # and nothing here depends on them.
    with temporary_settings(updates={PREFECT_API_URL: api_url, PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        app(args, prog_name="keqing")


def keqing(env: dict[str, str], *args: str, log: Path) -> int:
    """Run ``keqing <args>`` with the environment ``env`` (KEQING_* only) in its own process; its exit status.

    Output goes to ``log``. A run still going after TIMEOUT_SECONDS is killed and the test fails
    (a hang is a fault too).
    """
    from prefect.settings import PREFECT_API_URL

    process = _context().Process(target=_main, args=(env, PREFECT_API_URL.value(), list(args), str(log)))
    process.start()
    process.join(TIMEOUT_SECONDS)
    if process.is_alive():
        process.kill()
        process.join()
        raise AssertionError(f"keqing {' '.join(args)} still running after {TIMEOUT_SECONDS} s; see {log}")
    assert process.exitcode is not None
    return process.exitcode
