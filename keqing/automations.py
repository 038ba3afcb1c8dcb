"""The two Prefect automations that tell ops about a bad night, as plain data (``keqing prefect setup``).

Pure: the nightly schedule, the deadline and the deployment ids in, the automations' JSON out (the
body of Prefect 3.8's ``POST /automations``, validated by ``prefect.events.schemas.automations``).

- ``keqing: nightly failed``: reactive; a flow run of the nightly deployment entering ``Failed``,
  ``Crashed`` or ``TimedOut`` runs the ``ops-alert`` deployment at once (kind ``failed``).
- ``keqing: nightly late``: proactive; a nightly flow run that became due (``Pending``: a worker
  took it; ``Late``: nobody did) and is not ``Completed`` within the deadline minus the schedule's
  time (06:30 - 01:30 = 5 hours) runs ``ops-alert`` (kind ``late``): hung, crashed unseen (a machine
  gone), failed, or never started. The window starts when the run becomes due, not at its
  ``Scheduled`` event, which the scheduler emits when it creates runs, up to days ahead.

Each action passes the flow run's id and name (Jinja templates the server fills in from the event);
the alert flow reads the rest from the API. One flow run per firing: the server gives the action an
idempotency key per firing.
"""

from __future__ import annotations

import datetime as dt

FAILED_NAME = "keqing: nightly failed"
LATE_NAME = "keqing: nightly late"
AUTOMATION_NAMES = (FAILED_NAME, LATE_NAME)
FAILED_EVENTS = ("prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut")
DUE_EVENTS = ("prefect.flow-run.Pending", "prefect.flow-run.Late")
COMPLETED_EVENT = "prefect.flow-run.Completed"
MIN_WINDOW = dt.timedelta(seconds=10)  # Prefect's minimum for proactive triggers


class ScheduleError(ValueError):
    """The nightly schedule or the deadline cannot give a lateness window."""


def cron_time(cron: str) -> dt.time:
    """The time of day of a daily cron line (``"30 1 * * *"`` -> 01:30); ScheduleError otherwise."""
    fields = cron.split()
    if len(fields) != 5 or not all(f.isdigit() for f in fields[:2]) or fields[2:] != ["*", "*", "*"]:
        raise ScheduleError(f"the nightly schedule {cron!r} is not a daily cron line like '30 1 * * *'")
    minute, hour = int(fields[0]), int(fields[1])
    if minute > 59 or hour > 23:
        raise ScheduleError(f"the nightly schedule {cron!r} has no such time of day")
    return dt.time(hour, minute)


def late_window(cron: str, deadline: dt.time) -> dt.timedelta:
    """From the nightly run's scheduled time to the deadline (the next day when the deadline is earlier)."""
    start = cron_time(cron)
    minutes = (deadline.hour * 60 + deadline.minute) - (start.hour * 60 + start.minute)
    window = dt.timedelta(minutes=minutes % (24 * 60))
    if window < MIN_WINDOW:
        raise ScheduleError(f"the deadline {deadline:%H:%M} is the nightly run's own start {start:%H:%M}")
    return window


def _nightly_runs(nightly_deployment_id: str) -> dict:
    """Trigger filters: flow runs (the events' resource) of the nightly deployment (a related resource)."""
    return {
        "match": {"prefect.resource.id": "prefect.flow-run.*"},
        "match_related": {"prefect.resource.id": f"prefect.deployment.{nightly_deployment_id}"},
        "for_each": ["prefect.resource.id"],  # each flow run on its own
    }


def _template(expression: str) -> dict:
    """A parameter the server renders as text from the firing's context. The bare ``"{{ flow_run.id }}"``
    string is not used: Prefect 3.8.8 turns it into ``{{ flow_run.id | tojson }}``, which fails on a
    UUID ("Object of type UUID is not JSON serializable") and the action does not run."""
    return {"__prefect_kind": "jinja", "template": "{{ " + expression + " }}"}


def _run_alert(alert_deployment_id: str, kind: str, deadline: str) -> dict:
    return {
        "type": "run-deployment",
        "source": "selected",
        "deployment_id": alert_deployment_id,
        "parameters": {
            "kind": kind,
            "flow_run_id": _template("flow_run.id"),
            "flow_run_name": _template("flow_run.name"),
            "deadline": deadline,
        },
    }


def automation_specs(
    nightly_deployment_id: str,
    alert_deployment_id: str,
    cron: str,
    timezone: str,
    deadline: dt.time,
) -> list[dict]:
    """The two automations, in ``AUTOMATION_NAMES`` order."""
    window = late_window(cron, deadline)
    label = f"{deadline:%H:%M} {timezone}"
    failed = {
        "name": FAILED_NAME,
        "description": "A nightly flow run entered Failed, Crashed or TimedOut: email ops (ops-alert).",
        "enabled": True,
        "trigger": {
            "type": "event",
            "posture": "Reactive",
            **_nightly_runs(nightly_deployment_id),
            "expect": list(FAILED_EVENTS),
            "threshold": 1,
            "within": 0,
        },
        "actions": [_run_alert(alert_deployment_id, "failed", label)],
    }
    late = {
        "name": LATE_NAME,
        "description": (
            f"A nightly flow run not Completed by {label} ({window} after it became due at "
            f"{cron_time(cron):%H:%M}): hung, crashed unseen, failed or never started: email ops (ops-alert)."
        ),
        "enabled": True,
        "trigger": {
            "type": "event",
            "posture": "Proactive",
            **_nightly_runs(nightly_deployment_id),
            "after": list(DUE_EVENTS),
            "expect": [COMPLETED_EVENT],
            "threshold": 1,
            "within": window.total_seconds(),
        },
        "actions": [_run_alert(alert_deployment_id, "late", label)],
    }
    return [failed, late]
