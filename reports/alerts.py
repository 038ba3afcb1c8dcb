"""The ops alerts' views (kinds ``alert_failed`` and ``alert_late``), from Prefect's facts about a run.

Pure: a ``RunFacts`` (read from the Prefect API by ``tasks/alert.py``) and the ops recipients in, one
view per recipient out. Nothing here is personal data: run ids, names, states and times.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from keqing.clock import SHANGHAI, shanghai_today
from reports.views import AlertFailedView, AlertLateView, AlertView, Recipient

ALERT_VIEWS: dict[str, type[AlertView]] = {"failed": AlertFailedView, "late": AlertLateView}


@dataclass(frozen=True, slots=True)
class RunFacts:
    """What the alert says about the nightly flow run."""

    flow_run_id: str
    flow_run_name: str
    state: str  # e.g. Crashed; "未知" when the API could not be read
    state_message: str = ""
    parameters: Mapping | None = None
    start: dt.datetime | None = None  # when it started, else when it was due (timezone-aware)
    ui_url: str = ""


def alert_run_date(facts: RunFacts, now: dt.datetime) -> dt.date:
    """The run_date the run was for: its ``run_date`` parameter, else the Shanghai date of its start
    (as ``flows.nightly.default_run_date``), else of ``now``."""
    given = (facts.parameters or {}).get("run_date")
    if given:
        try:
            return dt.date.fromisoformat(str(given))
        except ValueError:
            pass
    return shanghai_today(facts.start or now)


def alert_views(
    kind: str, facts: RunFacts, recipients: Sequence[Recipient], deadline: str, now: dt.datetime
) -> list[AlertView]:
    """One alert view per ops recipient; ValueError for a kind other than ``failed`` or ``late``."""
    if kind not in ALERT_VIEWS:
        raise ValueError(f"alert kind {kind!r}: expected one of {', '.join(ALERT_VIEWS)}")
    start = facts.start.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if facts.start else ""
    run_date = alert_run_date(facts, now)
    return [
        ALERT_VIEWS[kind](
            run_date=run_date,
            recipient=r,
            flow_run_id=facts.flow_run_id,
            flow_run_name=facts.flow_run_name,
            state=facts.state,
            state_message=facts.state_message,
            deadline=deadline,
            started=start,
            ui_url=facts.ui_url,
        )
        for r in recipients
    ]
