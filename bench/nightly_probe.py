"""One nightly run in this process, timed from inside; prints one JSON object (``bench/run.py`` runs it).

    PYTHONPATH=$PWD python bench/nightly_probe.py --date 2026-11-01 [--no-send]

The settings come from the environment (``KEQING_*``), as for ``keqing run``, and so does the
Prefect server: the temporary one ``keqing run`` starts (edges/prefect_api.py), unless
``PREFECT_API_URL`` names one. It is up before the clock starts (it costs seconds once per
process, not per run). The
stages' times are those Prefect recorded for the subflow runs; ``tasks_seconds`` adds up the time
spent inside task functions, so ``flow_seconds - tasks_seconds`` bounds Prefect's own overhead
(it also holds the few lines of flow code between tasks). ``task_peak_rss_gb`` is the highest
resident memory of this process sampled every 0.2 s during each task (render's worker processes
are not in it; ``/usr/bin/time`` in ``bench/run.py`` counts them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import threading
import time
from uuid import UUID

_PAGE = os.sysconf("SC_PAGE_SIZE")


class MemorySampler:
    """This process's resident memory every ``every`` seconds, in a daemon thread: (unix time, bytes)."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.samples = every, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with open("/proc/self/statm") as statm:
            while not self._stop.is_set():
                statm.seek(0)
                self.samples.append((time.time(), int(statm.read().split()[1]) * _PAGE))
                self._stop.wait(self.every)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def peak_per_task(self, timeline: list[tuple[float, float, str]]) -> dict[str, float]:
        """The highest sample inside each task's runs, in GiB (2^30 bytes), highest first."""
        peaks: dict[str, float] = {}
        for start, end, name in timeline:
            inside = [rss for t, rss in self.samples if start <= t <= end]
            if inside:
                peaks[name] = max(peaks.get(name, 0.0), max(inside) / 1024**3)
        return {name: round(gb, 3) for name, gb in sorted(peaks.items(), key=lambda kv: -kv[1])}


def _start_prefect() -> tuple[contextlib.ExitStack, float]:
    """The server ``keqing run`` uses (edges/prefect_api.py: Prefect's app answering its busy 503s with
    Retry-After), up and answering; the stack stops it. Returns the seconds it took to answer."""
    from edges.prefect_api import serving, start_if_needed

    t0 = time.perf_counter()
    stack = contextlib.ExitStack()
    timeout = float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])
    stack.enter_context(serving(start_if_needed(), timeout))
    return stack, time.perf_counter() - t0


async def _stage_times(parent: UUID) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
        TaskRunFilter,
        TaskRunFilterFlowRunId,
    )

    async with get_client() as client:
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent]))
        )
        flows = {parent: "nightly"}
        stages: dict[str, float] = {}
        for run in children:
            name = (await client.read_flow(run.flow_id)).name
            flows[run.id] = name
            stages[name] = stages.get(name, 0.0) + run.total_run_time.total_seconds()
        tasks = await client.read_task_runs(
            task_run_filter=TaskRunFilter(flow_run_id=TaskRunFilterFlowRunId(any_=list(flows)))
        )
    # Task runs by name, without the parent's stand-in task run for each subflow.
    named = [(t.name.rsplit("-", 1)[0], t) for t in tasks]
    named = [(name, t) for name, t in named if name not in stages]
    per_task: dict[str, float] = {}
    for name, t in named:
        per_task[name] = per_task.get(name, 0.0) + t.total_run_time.total_seconds()
    timeline = sorted(
        (t.start_time.timestamp(), t.end_time.timestamp(), name) for name, t in named if t.start_time and t.end_time
    )
    return {
        "timeline": timeline,  # (start, end, task) in Unix seconds, to line up with memory samples
        "stages": stages,
        "task_runs": len(named),
        "tasks_seconds": sum(per_task.values()),
        "tasks": dict(sorted(per_task.items(), key=lambda kv: -kv[1])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--date", type=dt.date.fromisoformat, required=True)
    parser.add_argument("--no-send", action="store_true", help="compute the lists but render and send nothing")
    args = parser.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

    server, server_seconds = _start_prefect()
    with server:
        from flows.nightly import nightly

        t0 = time.perf_counter()
        with MemorySampler() as memory:
            state = nightly(run_date=args.date, send=not args.no_send, return_state=True)
        flow_seconds = time.perf_counter() - t0
        summary = state.result()
        times = asyncio.run(_stage_times(state.state_details.flow_run_id))
    ingest = summary.get("ingest", {})
    print(
        json.dumps(
            {
                "run_date": args.date.isoformat(),
                "prefect_server_start_seconds": round(server_seconds, 2),
                "flow_seconds": round(flow_seconds, 3),
                "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 3),
                "rows_read": ingest.get("rows_read", 0),
                "rows_loaded": ingest.get("rows_loaded", 0),
                "files_new": ingest.get("files_new", 0),
                "emails": summary.get("render", {}).get("emails", 0),
                **times,
                "task_peak_rss_gb": memory.peak_per_task(times["timeline"]),
            }
        )
    )


if __name__ == "__main__":
    main()
