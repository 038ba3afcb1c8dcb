"""The ``ops-alert`` flow: a Prefect automation runs it when a nightly flow run fails, crashes or is
not Completed by the deadline (keqing/automations.py); it emails ops through keqing's own outbox."""

from __future__ import annotations

from prefect import flow

from keqing.settings import get_settings
from tasks.alert import read_ops_recipients, read_run_facts, render_alerts
from tasks.deliver import deliver_pending
from tasks.runs import migrate_database


@flow(name="ops-alert")
def ops_alert(kind: str, flow_run_id: str, flow_run_name: str = "", deadline: str = "") -> dict:
    """Email every ops staff member that the nightly flow run ``flow_run_id`` ``failed`` (Failed,
    Crashed, TimedOut) or is ``late`` (not Completed by ``deadline``); once per flow run and kind."""
    settings = get_settings()
    migrate_database(settings)
    facts = read_run_facts(flow_run_id, flow_run_name)
    recipients = read_ops_recipients(settings)
    if not recipients:
        raise RuntimeError("no active ops staff member with an email address: nobody to alert")
    run_date, emails = render_alerts(settings, kind, facts, recipients, deadline)
    delivered = deliver_pending(settings, run_date, [f"alert_{kind}"])
    return {"kind": kind, "flow_run_id": flow_run_id, "state": facts.state, "run_date": str(run_date)} | {
        "emails": emails,
        "deliver": delivered,
    }
