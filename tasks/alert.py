"""The ops alert: read what Prefect knows of a nightly flow run, render the alert for each ops staff
member into the outbox, once per flow run (flows/alert.py sends it through the usual sender)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict

import sqlalchemy as sa

from edges import outbox
from edges.db import get_engine
from keqing import clock
from keqing.settings import Settings
from models.feeds import Staff
from reports.alerts import RunFacts, alert_views
from reports.render import mail_from_address, render_email
from reports.views import AlertView, Recipient
from tasks import IO_RETRIES, keqing_task, run_logger

UNKNOWN_STATE = "未知"


@keqing_task(retries=2, retry_delay_seconds=[2, 10])
def read_run_facts(flow_run_id: str, flow_run_name: str) -> RunFacts:
    """The flow run's state, parameters and start from the Prefect API; what the automation passed
    (id and name) when the API cannot be read: an alert with less detail beats no alert."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_UI_URL

    ui = PREFECT_UI_URL.value()
    ui_url = f"{ui.rstrip('/')}/runs/flow-run/{flow_run_id}" if ui else ""
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(UUID(flow_run_id))
    except Exception as exc:
        run_logger().warning("could not read flow run %s from the API: %s", flow_run_id, type(exc).__name__)
        return RunFacts(flow_run_id, flow_run_name, UNKNOWN_STATE, ui_url=ui_url)
    state = run.state
    return RunFacts(
        flow_run_id=flow_run_id,
        flow_run_name=run.name or flow_run_name,
        state=state.name if state else UNKNOWN_STATE,
        state_message=(state.message or "") if state else "",
        parameters=dict(run.parameters or {}),
        start=run.start_time or run.expected_start_time,
        ui_url=ui_url,
    )


@keqing_task(**IO_RETRIES)
def read_ops_recipients(settings: Settings) -> list[Recipient]:
    """Every active staff member with role ``ops`` and an email address (as for the ops email)."""
    s = Staff.__table__
    query = sa.select(s.c.staff_id, s.c.name, s.c.email).where(
        s.c.role == "ops", s.c.active.is_not(False), s.c.email.is_not(None), s.c.email != ""
    )
    with get_engine(settings.database_url).connect() as conn:
        return [Recipient(r.staff_id, r.name, r.email) for r in conn.execute(query.order_by(s.c.staff_id))]


def alert_message_id(view: AlertView, mail_from: str | None) -> str:
    """One Message-ID per (flow run, kind, recipient): the outbox knows the alert when it comes again."""
    domain = mail_from_address(mail_from).domain or "localhost"
    return f"<{view.kind}.{view.flow_run_id}.{view.recipient.staff_id}@{domain}>"


@keqing_task(**IO_RETRIES)
def render_alerts(
    settings: Settings, kind: str, facts: RunFacts, recipients: Sequence[Recipient], deadline: str
) -> tuple[dt.date, int]:
    """Render the alert for each recipient into the outbox; (the run_date it is filed under, emails)."""
    views = alert_views(kind, facts, recipients, deadline, clock.now())
    rendered = [
        render_email(v, mail_from=settings.mail_from, files=[], message_id=alert_message_id(v, settings.mail_from))
        for v in views
    ]
    with get_engine(settings.database_url).begin() as conn:
        outbox.upsert_alerts(conn, [asdict(r) for r in rendered])
    run_date = views[0].run_date if views else clock.shanghai_today()
    run_logger().info("alert %s for flow run %s (%s): %d email(s)", kind, facts.flow_run_id, facts.state, len(views))
    return run_date, len(views)
