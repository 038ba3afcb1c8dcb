"""``keqing quarantine list|export|dismiss`` (contract section 6): the operator's quarantine loop.

``list`` shows the open rows (waiting or rejected) without their data, ``export`` writes them with
their full, unmasked row for the person who gets the source fixed, ``dismiss`` closes rows that will
never be fixed, keeping who and why. A row fixed and dropped again in a later file leaves the open
list by itself (it is ``resolved`` when its record loads).
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

quarantine_app = typer.Typer(no_args_is_help=True, help="Quarantined rows: list, export, dismiss.")

FeedOption = Annotated[str | None, typer.Option("--feed", help="only this feed, e.g. purchases")]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="only this reason code, e.g. bad_phone")]
SinceOption = Annotated[str | None, typer.Option("--since", help="first quarantined on or after this run_date")]


def _engine():
    from cli.main import _load_settings_and_rules
    from edges.db import get_engine, upgrade

    settings, _ = _load_settings_and_rules()
    engine = get_engine(settings.database_url)
    upgrade(engine)
    return engine


def _where(feed: str | None, reason: str | None, since: str | None):
    from cli.main import _parse_date
    from tasks.quarantine import open_rows_filter

    return open_rows_filter(feed, reason, _parse_date(since, "--since"))


def format_rows(rows, total: int) -> str:
    """The open rows as lines for the terminal: no cell of the row itself (it may hold personal data)."""
    from keqing.quarantine import with_reason_zh

    if total == 0:
        return "no open quarantined rows"
    lines = [f"{'id':>7}  {'feed':<11} {'file:line':<40} {'column':<16} {'status':<8} {'since':<10}  reason"]
    for r in with_reason_zh(rows).iter_rows(named=True):
        where = f"{r['file']}:{r['line']}"
        lines.append(
            f"{r['id']:>7}  {r['feed']:<11} {where:<40} {r['column'] or '':<16} {r['status']:<8} "
            f"{r['first_seen_run_date'].isoformat():<10}  {r['reason']} ({r['reason_zh']})"
        )
    shown = rows.height
    lines.append(f"{total:,} open row(s)" + (f", the first {shown:,} shown (--limit)" if shown < total else ""))
    return "\n".join(lines)


@quarantine_app.command("list")
def list_(
    feed: FeedOption = None,
    reason: ReasonOption = None,
    since: SinceOption = None,
    limit: Annotated[int, typer.Option(help="show at most this many rows", min=1)] = 200,
) -> None:
    """The open quarantined rows (waiting or rejected): id, feed, file and line, column, reason."""
    from tasks.quarantine import read_quarantine

    rows, _, total = read_quarantine(_engine(), _where(feed, reason, since), limit=limit)
    typer.echo(format_rows(rows, total))


@quarantine_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="the CSV file to write (UTF-8 with BOM)")],
    feed: FeedOption = None,
    reason: ReasonOption = None,
    since: SinceOption = None,
) -> None:
    """The open rows with their full, unmasked cells, for the person who fixes the source."""
    from keqing.quarantine import export_frame
    from reports.attachments import csv_bytes
    from tasks.quarantine import read_quarantine

    rows, cells, total = read_quarantine(_engine(), _where(feed, reason, since))
    frame = export_frame(rows, cells)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(csv_bytes(frame))
    typer.echo(f"wrote {total:,} open row(s) to {out} (full rows: personal data, handle with care)")


@quarantine_app.command("dismiss")
def dismiss(
    ids: Annotated[list[int], typer.Argument(help="quarantine id(s), as `keqing quarantine list` shows them")],
    why: Annotated[str, typer.Option("--why", help="why the row will never be fixed")],
    by: Annotated[str | None, typer.Option("--by", help="who dismisses (default: the login name)")] = None,
) -> None:
    """Close rows that will never be fixed: they leave the open list, their file still counts them."""
    from cli.main import _fail
    from tasks.quarantine import dismiss as dismiss_rows

    if not why.strip():
        raise typer.BadParameter("say why", param_hint="--why")
    who = by or getpass.getuser()
    done, not_open = dismiss_rows(_engine(), ids, who, why.strip())
    if done:
        typer.echo(f"dismissed {len(done)} row(s) ({', '.join(map(str, done))}) by {who}: {why.strip()}")
    if not_open:
        _fail(f"not open (unknown, resolved or dismissed already): {', '.join(map(str, not_open))}", code=1)
