"""The ``keqing`` command line (contract section 6)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from cli import calendar as calendar_cli
from cli import runs as runs_cli
from cli.prefect import app as prefect_app

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="keqing 客情: the nightly lists for reps and nurses."
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(db_app, name="db")
app.add_typer(prefect_app, name="prefect")


def _prefect_defaults() -> None:
    """Quiet, offline-friendly Prefect defaults for a one-process run (the environment may override)."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _parse_date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date like 2026-11-21", param_hint=option) from None


def _fail(message: str, code: int = 2) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _load_settings_and_rules():
    from pydantic import ValidationError

    from keqing.rules import RulesError, load_rules
    from keqing.settings import get_settings

    try:
        settings = get_settings()
    except ValidationError as exc:
        problems = "; ".join(f"KEQING_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors())
        _fail(f"settings: {problems}")
    try:
        rules = load_rules(settings.rules)
    except RulesError as exc:
        _fail(f"rules: {exc}")
    return settings, rules


EXIT_FAILED = 1
EXIT_ALREADY_RUNNING = 3


def _start_prefect_api():
    """Prefect's temporary server, started now so that it boots while the run imports (edges/prefect_api.py)."""
    from edges import prefect_api

    return prefect_api.start_if_needed()


def _run_one(run_date: dt.date, api, *, resend: bool = False, send: bool = True) -> tuple[int, dict | None]:
    """Run the nightly flow for one date; (exit status, summary)."""
    from edges.prefect_api import serving
    from flows.nightly import RunInProgress, nightly

    try:
        with serving(api, float(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"])):
            return 0, nightly(run_date=run_date, resend=resend, send=send)
    except RunInProgress as exc:
        typer.secho(str(exc), fg=typer.colors.YELLOW, err=True)
        return EXIT_ALREADY_RUNNING, None
    except Exception as exc:  # the flow has recorded the failure; say it plainly
        typer.secho(f"run for {run_date} failed: {type(exc).__name__}: {exc}", fg=typer.colors.RED, err=True)
        return EXIT_FAILED, None


@app.command()
def run(
    date: Annotated[str | None, typer.Option("--date", help="run_date YYYY-MM-DD (default: today in Shanghai)")] = None,
    resend: Annotated[bool, typer.Option("--resend", help="send this date's emails again")] = False,
) -> None:
    """One nightly run for a run_date, in this process. Exit 0 on success, 1 on failure, 3 if one is running."""
    from keqing.clock import shanghai_today

    run_date = _parse_date(date, "--date") or shanghai_today()
    _prefect_defaults()
    api = _start_prefect_api()
    settings, _ = _load_settings_and_rules()
    typer.echo(
        f"keqing run for {run_date} (records up to {run_date - dt.timedelta(days=1)}), "
        f"inbox {settings.inbox}, database {_safe_url(settings.database_url)}"
    )
    status, summary = _run_one(run_date, api, resend=resend)
    if summary is not None:
        typer.echo(format_summary(summary))
    raise typer.Exit(status)


@app.command()
def backfill(
    from_: Annotated[str, typer.Option("--from", help="first run_date YYYY-MM-DD")],
    to: Annotated[str, typer.Option("--to", help="last run_date YYYY-MM-DD (included)")],
    send: Annotated[bool, typer.Option("--send", help="also render and send the emails of each date")] = False,
) -> None:
    """A nightly run per date, in order, without email unless --send. Stops at the first failure."""
    first, last = _parse_date(from_, "--from"), _parse_date(to, "--to")
    assert first is not None and last is not None
    if last < first:
        raise typer.BadParameter("--to is before --from", param_hint="--to")
    _prefect_defaults()
    api = _start_prefect_api()
    _load_settings_and_rules()
    day = first
    while day <= last:
        status, summary = _run_one(day, api, send=send)
        if status != 0:
            typer.secho(
                f"backfill stopped at {day}; resume with --from {day} --to {last}", fg=typer.colors.RED, err=True
            )
            raise typer.Exit(status)
        ingest = (summary or {}).get("ingest", {})
        typer.echo(
            f"{day}: {ingest.get('rows_loaded', 0):,} rows loaded, {ingest.get('rows_quarantined', 0):,} quarantined"
        )
        day += dt.timedelta(days=1)


def _safe_url(url: str) -> str:
    import sqlalchemy as sa

    return sa.make_url(url).render_as_string(hide_password=True)


def format_summary(summary: dict) -> str:
    """The short end-of-run summary: files, rows loaded, quarantined by reason."""
    ingest = summary.get("ingest", {})
    lines = [
        f"run_date {summary.get('run_date')}",
        f"files: {ingest.get('files_new', 0)} new, {ingest.get('files_already_ingested', 0)} already ingested, "
        f"{len(ingest.get('files_same_bytes', []))} same bytes as another, "
        f"{len(ingest.get('files_ignored', []))} not a feed",
        f"rows: {ingest.get('rows_read', 0):,} read, {ingest.get('rows_loaded', 0):,} loaded, "
        f"{ingest.get('rows_quarantined', 0):,} quarantined, {ingest.get('rows_duplicate', 0):,} exact duplicates, "
        f"{ingest.get('rows_released', 0):,} released from quarantine, {ingest.get('rows_waiting', 0):,} waiting",
    ]
    lines[1:1] = health_lines(summary)
    for feed, f in ingest.get("feeds", {}).items():
        lines.append(
            f"  {feed:<11} {f['files']:>4} file(s) {f['rows_read']:>10,} read {f['loaded']:>10,} loaded "
            f"{f['quarantined']:>7,} quarantined {f['duplicates']:>5,} duplicates"
        )
    reasons = ingest.get("quarantined_by_reason", {})
    if reasons:
        lines.append("quarantined by reason: " + ", ".join(f"{r} {n:,}" for r, n in reasons.items()))
    if "deliver" in summary:
        d = summary["deliver"]
        rendered = summary.get("render", {}).get("emails", 0) + summary.get("ops_email", {}).get("emails", 0)
        lines.append(
            f"emails: {rendered:,} rendered, {d.get('sent', 0):,} sent, {d.get('written', 0):,} written to files, "
            f"{d.get('failed', 0):,} failed, {d.get('unknown', 0):,} unknown, {d.get('deferred', 0):,} deferred"
        )
    for m in ingest.get("missing_feeds", []):
        lines.append(f"missing daily feed: {m['feed']} (no record dated {m['cutoff']}; the emails say 数据未到)")
    for b in ingest.get("broken_batches", []):
        lines.append(
            f"broken batch: {b['path']}: {b['rows_quarantined']:,} of {b['rows_read']:,} rows quarantined "
            f"({b['quarantined_share']:.1%})"
        )
    for extra in summary.get("report_lines", []):
        lines.append(extra)
    return "\n".join(lines)


def health_lines(summary: dict) -> list[str]:
    """What the ops email opens with: a calendar year nobody knows, earlier runs found dead."""
    lines = [
        f"calendar: {year} is unknown to chinesecalendar and the rules file, planned Monday-Friday; "
        f"add it under calendar.holidays in the rules file (check with `keqing calendar {year}`)"
        for year in (summary.get("calendar") or {}).get("unknown_years", [])
    ]
    crashed = summary.get("crashed_runs") or []
    if crashed:
        lines.append(
            f"earlier runs found dead (lock free, said running), now crashed: {', '.join(f'#{i}' for i in crashed)}"
        )
    return lines


@app.command()
def generate(
    scale: Annotated[str, typer.Option(help="tiny, small, medium or large")] = "small",
    out: Annotated[Path, typer.Option(help="folder to write, one sub-folder per day")] = Path("data/inbox"),
    seed: Annotated[int, typer.Option(help="same seed, same bytes")] = 42,
    start: Annotated[str | None, typer.Option(help="first day YYYY-MM-DD (default: the scale's)")] = None,
    days: Annotated[int | None, typer.Option(help="number of days (default: the scale's)")] = None,
    dirty: Annotated[float, typer.Option(help="share of rows made dirty on purpose (0 = clean)")] = 0.005,
) -> None:
    """Write realistic synthetic feeds in the contract's format."""
    from keqing.generate import generate as run_generate

    if scale not in ("tiny", "small", "medium", "large"):
        raise typer.BadParameter("choose tiny, small, medium or large", param_hint="--scale")
    if not 0 <= dirty <= 0.5:
        raise typer.BadParameter("a share between 0 and 0.5", param_hint="--dirty")
    try:
        summary = run_generate(
            scale,
            out,
            seed=seed,
            start=_parse_date(start, "--start"),
            days=days,
            dirty=dirty,
            progress=lambda line: typer.echo(f"  {line}", err=True),
        )
    except FileExistsError as exc:
        _fail(str(exc))
    typer.echo(
        f"wrote {summary.files_written} file(s) for {summary.days_written} day(s) to {out} "
        f"in {summary.elapsed_seconds:.1f}s"
    )
    for feed, rows in summary.rows_per_feed.items():
        typer.echo(f"  {feed:<11} {rows:>12,} rows")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    settings, _ = _load_settings_and_rules()
    from edges.db import get_engine, upgrade

    upgrade(get_engine(settings.database_url))
    typer.echo(f"schema is current in {_safe_url(settings.database_url)}")


from cli.quarantine import quarantine_app  # noqa: E402  (it imports this module's helpers lazily)

app.add_typer(quarantine_app, name="quarantine")
app.command("runs")(runs_cli.runs)
app.command("calendar")(calendar_cli.calendar)


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
