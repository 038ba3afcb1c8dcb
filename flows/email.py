"""The morning emails: render each recipient's email into the outbox, then deliver it exactly once."""

from __future__ import annotations

import datetime as dt

from prefect import flow
from prefect.utilities.annotations import quote

from keqing.kinds import STAFF_KINDS
from keqing.rules import Rules
from keqing.settings import Settings
from tasks.deliver import deliver_pending, mark_for_resend
from tasks.render import build_ops_views, build_staff_views, render_emails

DELIVERY_COUNTS = ("sent", "written", "failed", "unknown", "deferred", "attempts", "connections")


@flow(name="render")
def render(
    settings: Settings,
    rules: Rules,
    run_date: dt.date,
    resend: bool = False,
    staff_ids: list[str] | None = None,
) -> dict:
    """Render every staff member's email for run_date (only those of staff_ids when given) into the outbox.

    With resend, the date's emails (all, or the staff emails of staff_ids) are made pending again
    first: they are rendered anew and sent again. Nothing else ever sends an email a second time.
    """
    resent = 0
    if resend:
        resent = mark_for_resend(settings, run_date, staff_ids, STAFF_KINDS if staff_ids is not None else None)
    views = build_staff_views(settings, rules, run_date, staff_ids)
    # quote(): Prefect would otherwise walk every row of every view looking for futures (seconds for
    # a night's 2,000 views); the task gets the list itself.
    return render_emails(settings, run_date, quote(views)) | {"resend": resend, "marked_for_resend": resent}


@flow(name="deliver")
def deliver(settings: Settings, run_date: dt.date, staff_ids: list[str] | None = None) -> dict:
    """Send run_date's pending staff emails (of staff_ids, when given) over SMTP, or as .eml files."""
    return deliver_pending(settings, run_date, STAFF_KINDS, staff_ids)


@flow(name="ops-email")
def ops_email(settings: Settings, rules: Rules, run_date: dt.date, summary: dict) -> dict:
    """Email the night's summary, delivery counts included, to every ops staff member, and send it."""
    views = build_ops_views(settings, rules, run_date, summary)
    rendered = render_emails(settings, run_date, quote(views))
    delivered = deliver_pending(settings, run_date, ["ops"])
    return {"recipients": len(views), "render": rendered, "deliver": delivered}


def add_delivery(total: dict, more: dict) -> dict:
    """Delivery counts of two sends added up (the staff emails, then the ops email)."""
    first_error = total.get("first_error") or more.get("first_error")
    return total | {k: total.get(k, 0) + more.get(k, 0) for k in DELIVERY_COUNTS} | {"first_error": first_error}
