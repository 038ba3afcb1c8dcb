"""Benchmark of a run's fixed cost: `keqing run` on a database that has nothing new.

A `tiny` inbox is generated and loaded by one run; then the same date is run ``--runs`` times more,
each a fresh `keqing run` process as a user starts it (no PREFECT_API_URL: Prefect's temporary
server included). With ``--server``, the runs report to one Prefect server started beforehand (as in
production, where PREFECT_API_URL names a running server) and that server's start is not timed.
Printed per run: the process's wall seconds and the CPU seconds of the process and its children.

Wall and CPU seconds are both printed: on a shared machine the wall time depends on the load.

Run: ``python bench/fixed_cost.py [--runs 3] [--keep DIR] [--server]``
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN_DATE = "2026-11-02"
KEQING = str(Path(sys.executable).with_name("keqing"))


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of the process and its children, stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="work in this folder (kept) instead of a temporary one")
    parser.add_argument("--server", action="store_true", help="report to a Prefect server started beforehand")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="keqing-fixed-"))
    env = {
        **{k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"},
        "KEQING_INBOX": str(work / "inbox"),
        "KEQING_DATABASE_URL": f"sqlite:///{work / 'edges.db'}",
        "KEQING_OUTBOX": str(work / "outbox"),
    }
    if args.server:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from edges.prefect_api import TemporaryApi

        database = work / "prefect.db"
        server = TemporaryApi(env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{database}"})
        server.wait(timeout_seconds=120)
        env["PREFECT_API_URL"] = server.api_url
        print(f"Prefect server at {server.api_url}", flush=True)
    if not (work / "inbox").exists():
        subprocess.run([KEQING, "generate", "--scale", "tiny", "--out", str(work / "inbox")], env=env, check=True)
    wall, cpu, _ = timed([KEQING, "run", "--date", RUN_DATE], env)
    print(f"first run (loads the inbox): {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    for number in range(1, args.runs + 1):
        wall, cpu, out = timed([KEQING, "run", "--date", RUN_DATE], env)
        files = next((line for line in out.splitlines() if line.startswith("files:")), "")
        print(f"run {number}, nothing new: {wall:.1f} s wall, {cpu:.1f} s CPU ({files})", flush=True)
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; work folder {work}")
    if args.server:
        server.stop()


if __name__ == "__main__":
    main()
