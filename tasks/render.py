"""Render: each recipient's email, built from a view filtered to them, into the outbox.

``render_emails`` takes the views of the night. The per-role builders (reps, callback and home-visit
staff, managers) read the grading, supply and loyalty tables and are registered in
``VIEW_BUILDERS``; the ops view is built here from the run summary and the staff table.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa

from edges import outbox
from edges.db import frame_schema, get_engine, read_frame
from keqing.clock import cutoff_for
from keqing.kinds import STAFF_KINDS
from keqing.quarantine import attachment_frame
from keqing.regions import staff_by_region, staff_regions
from keqing.rules import Rules
from keqing.settings import Settings
from models import QuarantineRow
from models.feeds import Office, Staff
from reports.assemble import with_missing_feed_notices
from reports.ops import ops_views
from reports.render import has_valid_address, render_many
from reports.views import QuarantineLine, Recipient, View, rows_from_frame
from tasks import IO_RETRIES, keqing_task, run_logger
from tasks.completeness import missing_feeds
from tasks.quarantine import read_quarantine
from tasks.runs import crashes_to_report
from tasks.views import VIEW_BUILDERS

# The ops email attaches at most this many of the night's quarantined rows (a first history load can
# quarantine far more); the email says so, and ``keqing quarantine export`` has them all.
QUARANTINE_ATTACHMENT_MAX_ROWS = 5000


@keqing_task(**IO_RETRIES)
def build_staff_views(
    settings: Settings, rules: Rules, run_date: dt.date, staff_ids: Sequence[str] | None = None
) -> list[View]:
    """Every registered builder's views for run_date; only those of ``staff_ids`` when given (a region).

    The builders always read the whole night (a few seconds at ``large`` scale, see docs/email.md);
    the filter comes before rendering and sending, which are what grow with the recipients.
    """
    views: list[View] = []
    for builder in VIEW_BUILDERS:
        views.extend(builder(settings, rules, run_date))
    if staff_ids is not None:
        keep = set(staff_ids)
        views = [v for v in views if v.recipient.staff_id in keep]
    # Read here rather than passed in, so that a region's email run (flows/regional.py) says it too.
    missing = missing_feeds(get_engine(settings.database_url), rules, run_date)
    return with_missing_feed_notices(views, missing, cutoff_for(run_date))


@keqing_task(**IO_RETRIES)
def read_staff_by_region(settings: Settings) -> dict[str, list[str]]:
    """{region: staff ids} of every staff member, by their office's region (see keqing/regions.py)."""
    s, o = Staff.__table__, Office.__table__
    engine = get_engine(settings.database_url)
    staff = read_frame(engine, sa.select(s.c.staff_id, s.c.office_code), frame_schema(s, ["staff_id", "office_code"]))
    offices = read_frame(engine, sa.select(o.c.office_code, o.c.region), frame_schema(o, ["office_code", "region"]))
    return staff_by_region(staff_regions(staff, offices))


def check_views(views: Sequence[View], run_date: dt.date) -> tuple[list[View], list[str]]:
    """One view per (recipient, kind), all for run_date (else ValueError: a builder is wrong).

    Returns the views to render and the staff ids whose email address is not usable: their email is
    not rendered (ops are told) rather than stopping everyone else's.
    """
    wrong_date = sorted({v.recipient.staff_id for v in views if v.run_date != run_date})
    if wrong_date:
        raise ValueError(f"views for another run_date than {run_date}: {', '.join(wrong_date)}")
    twice = [key for key, n in Counter((v.recipient.staff_id, v.kind) for v in views).items() if n > 1]
    if twice:
        raise ValueError(f"more than one view per recipient and kind: {twice[:5]}")
    usable = [v for v in views if has_valid_address(v)]
    return usable, sorted({v.recipient.staff_id for v in views if not has_valid_address(v)})


def to_render(views: Sequence[View], statuses: dict[tuple[str, str], str]) -> list[View]:
    """The views with no outbox row yet or a ``pending`` one: a sent, failed or unknown email is kept
    as it is (``--resend`` makes rows pending first), so rendering it again would be thrown away."""
    return [v for v in views if statuses.get((v.recipient.staff_id, v.kind), "pending") == "pending"]


@keqing_task(**IO_RETRIES)
def render_emails(settings: Settings, run_date: dt.date, views: Sequence[View]) -> dict:
    """Render the views and write them to the outbox, one row per (run_date, recipient, kind).

    A rerun inserts nothing twice: a row still ``pending`` (never delivered) is replaced by the new
    rendering, every other row (sent, failed, unknown) is kept as it is.
    """
    views, bad_addresses = check_views(views, run_date)
    kinds = sorted({v.kind for v in views})
    engine = get_engine(settings.database_url)
    with engine.connect() as conn:
        before = outbox.existing_statuses(conn, run_date, kinds)
    # upsert_rendered replaces a row only while it is pending: the others need no rendering.
    rendered = render_many(to_render(views, before), mail_from=settings.mail_from)
    with engine.begin() as conn:
        outbox.upsert_rendered(
            conn,
            [asdict(r) for r in rendered],
        )
    states = Counter(before.get((v.recipient.staff_id, v.kind), "new") for v in views)
    summary = {
        "emails": len(views),
        "by_kind": dict(sorted(Counter(r.kind for r in rendered).items())),
        "new": states.pop("new", 0),
        "replaced_pending": states.pop("pending", 0),
        "kept": sum(states.values()),  # already sent, failed or unknown: left alone
        "bytes": sum(len(r.message) for r in rendered),
        "bad_addresses": bad_addresses,  # staff ids whose email address cannot be used
    }
    run_logger().info(
        "rendered %d email(s) for %s: %d new, %d pending replaced, %d kept",
        summary["emails"],
        run_date,
        summary["new"],
        summary["replaced_pending"],
        summary["kept"],
    )
    return summary


@keqing_task(**IO_RETRIES)
def build_ops_views(settings: Settings, rules: Rules, run_date: dt.date, summary: dict) -> list[View]:
    """The run summary for every active staff member with role ``ops``."""
    engine = get_engine(settings.database_url)
    s = Staff.__table__
    with engine.connect() as conn:
        staff = conn.execute(sa.select(s.c.staff_id, s.c.name, s.c.role, s.c.email, s.c.active)).all()
    names = {row.staff_id: row.name for row in staff}
    recipients = [
        Recipient(row.staff_id, row.name, row.email)
        for row in sorted(staff, key=lambda r: r.staff_id)
        if row.role == "ops" and row.active is not False and row.email
    ]
    problems = outbox.problems(engine, run_date, kinds=STAFF_KINDS)
    rows, cells, total = read_quarantine(
        engine, [QuarantineRow.__table__.c.first_seen_run_date == run_date], limit=QUARANTINE_ATTACHMENT_MAX_ROWS
    )
    lines = rows_from_frame(attachment_frame(rows, cells), QuarantineLine)
    crashed = crashes_to_report(engine, run_date)
    return list(ops_views(summary, rules, run_date, recipients, problems, names, lines, total, crashed))
