"""``keqing runs [--last N]``: the recent runs with their state, stages, duration and counts.

Looking is also when a run whose process died (its row says running, its lock is free) becomes
``crashed`` (tasks/runs.py ``mark_crashed``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Annotated

import typer

from keqing.clock import shanghai_wall


def _duration(run: Mapping, now: dt.datetime) -> str:
    if run["status"] == "crashed":
        return "-"
    end = run["finished_at"] or now
    seconds = (end - run["started_at"]).total_seconds()
    text = f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:04.1f} s"
    return text if run["finished_at"] else f"{text} so far"


def _counts(summary: Mapping) -> str:
    ingest = summary.get("ingest") or {}
    parts = []
    if ingest:
        parts.append(
            f"{ingest.get('files_new', 0)} new file(s), {ingest.get('rows_loaded', 0):,} rows loaded, "
            f"{ingest.get('rows_quarantined', 0):,} quarantined"
        )
    if "grading" in summary:
        parts.append(f"{summary['grading'].get('targets', 0):,} visit targets")
    if "supply" in summary:
        parts.append(f"{(summary['supply'].get('callbacks') or {}).get('listed', 0):,} calls")
    if "deliver" in summary:
        d = summary["deliver"]
        rendered = (summary.get("render") or {}).get("emails", 0) + (summary.get("ops_email") or {}).get("emails", 0)
        parts.append(
            f"{rendered} emails rendered, {d.get('sent', 0)} sent, {d.get('written', 0)} written, "
            f"{d.get('failed', 0) + d.get('unknown', 0)} failed/unknown, {d.get('deferred', 0)} deferred"
        )
    if summary.get("region") is not None:
        parts.insert(0, f"region {summary['region'] or '未分区'}")
    return "; ".join(parts)


def format_runs(runs: Sequence[Mapping], now: dt.datetime) -> str:
    """Newest first: one line per run, then its stages, counts and error. ``now``: naive UTC."""
    if not runs:
        return "no runs yet"
    lines = []
    for run in runs:
        where = f"{run['host']} pid {run['pid']}" if run.get("host") else "host unknown"
        started = shanghai_wall(run["started_at"], "%Y-%m-%d %H:%M:%S", missing="-")
        lines.append(
            f"#{run['id']:<5} {run['run_date'].isoformat()}  {run['status']:<9}  started {started}"
            f"  {_duration(run, now):>14}  {where}"
        )
        summary = run.get("summary") or {}
        stages = summary.get("stages") or {}
        if stages:
            lines.append("       stages: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in stages.items()))
        counts = _counts(summary)
        if counts:
            lines.append(f"       counts: {counts}")
        if run.get("error"):
            lines.append(f"       error: {run['error'].splitlines()[0][:200]}")
    return "\n".join(lines)


def runs(
    last: Annotated[int, typer.Option("--last", help="how many of the newest runs to show", min=1)] = 10,
) -> None:
    """The recent runs: date, state, start (Shanghai), duration, stage timings and counts."""
    from cli.main import _load_settings_and_rules
    from edges.db import get_engine, upgrade
    from keqing.clock import utc_now
    from tasks.runs import mark_crashed, recent_runs

    settings, _ = _load_settings_and_rules()
    upgrade(get_engine(settings.database_url))  # as every run does first: the columns looked at exist
    crashed = mark_crashed(settings.database_url)
    if crashed:
        typer.secho(f"marked crashed (process gone, lock free): {', '.join(f'#{i}' for i in crashed)}", err=True)
    typer.echo(format_runs(recent_runs(settings.database_url, last), utc_now()))
