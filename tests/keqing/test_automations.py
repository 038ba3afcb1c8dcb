"""The two ops-alert automations built from the nightly schedule and the deadline, as Prefect 3.8 takes them."""

from __future__ import annotations

import datetime as dt

import pytest

from keqing.automations import (
    FAILED_NAME,
    LATE_NAME,
    ScheduleError,
    automation_specs,
    cron_time,
    late_window,
)

NIGHTLY_ID = "11111111-1111-1111-1111-111111111111"
ALERT_ID = "22222222-2222-2222-2222-222222222222"


def test_the_time_of_a_daily_cron_line():
    assert cron_time("30 1 * * *") == dt.time(1, 30)
    assert cron_time("0 23 * * *") == dt.time(23, 0)


@pytest.mark.parametrize("cron", ["*/5 * * * *", "30 1 * * 1-5", "30 1 1 * *", "61 1 * * *", "30 24 * * *", "30 1"])
def test_a_schedule_that_is_not_one_time_a_day_is_refused(cron):
    with pytest.raises(ScheduleError, match="nightly schedule"):
        cron_time(cron)


def test_the_late_window_runs_from_the_scheduled_time_to_the_deadline():
    assert late_window("30 1 * * *", dt.time(6, 30)) == dt.timedelta(hours=5)
    assert late_window("30 1 * * *", dt.time(7, 0)) == dt.timedelta(hours=5, minutes=30)
    # A deadline before the start is the next day's: 23:00 -> 06:30 is 7.5 hours.
    assert late_window("0 23 * * *", dt.time(6, 30)) == dt.timedelta(hours=7, minutes=30)
    with pytest.raises(ScheduleError, match="own start"):
        late_window("30 1 * * *", dt.time(1, 30))


def _specs(deadline=dt.time(6, 30)):
    return automation_specs(NIGHTLY_ID, ALERT_ID, "30 1 * * *", "Asia/Shanghai", deadline)


def test_both_automations_are_valid_for_prefect():
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    failed, late = (AutomationCore.model_validate(s) for s in _specs())
    assert (failed.name, late.name) == (FAILED_NAME, LATE_NAME)
    assert isinstance(failed.trigger, EventTrigger) and isinstance(late.trigger, EventTrigger)
    assert (failed.trigger.posture, late.trigger.posture) == (Posture.Reactive, Posture.Proactive)
    assert late.trigger.within == dt.timedelta(hours=5)
    assert [a.type for a in failed.actions + late.actions] == ["run-deployment", "run-deployment"]
    assert {str(a.deployment_id) for a in failed.actions + late.actions} == {ALERT_ID}


def test_failed_reacts_to_a_nightly_flow_run_entering_failed_crashed_or_timed_out():
    trigger = _specs()[0]["trigger"]
    assert trigger["expect"] == ["prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut"]
    assert trigger["match"] == {"prefect.resource.id": "prefect.flow-run.*"}
    assert trigger["match_related"] == {"prefect.resource.id": f"prefect.deployment.{NIGHTLY_ID}"}
    assert trigger["for_each"] == ["prefect.resource.id"]
    assert (trigger["posture"], trigger["threshold"], trigger["within"]) == ("Reactive", 1, 0)


def test_late_expects_completed_within_the_window_after_the_run_became_due():
    trigger = _specs(dt.time(7, 0))[1]["trigger"]
    assert trigger["after"] == ["prefect.flow-run.Pending", "prefect.flow-run.Late"]
    assert trigger["expect"] == ["prefect.flow-run.Completed"]
    assert trigger["within"] == 5.5 * 3600
    assert trigger["match_related"] == {"prefect.resource.id": f"prefect.deployment.{NIGHTLY_ID}"}
    assert trigger["for_each"] == ["prefect.resource.id"]


def test_the_actions_run_the_alert_with_the_run_id_and_name_the_server_fills_in():
    failed, late = (s["actions"] for s in _specs())
    assert failed == [
        {
            "type": "run-deployment",
            "source": "selected",
            "deployment_id": ALERT_ID,
            "parameters": {
                "kind": "failed",
                "flow_run_id": {"__prefect_kind": "jinja", "template": "{{ flow_run.id }}"},
                "flow_run_name": {"__prefect_kind": "jinja", "template": "{{ flow_run.name }}"},
                "deadline": "06:30 Asia/Shanghai",
            },
        }
    ]
    assert late[0]["parameters"]["kind"] == "late"


def test_the_deadline_setting_defaults_to_06_30_and_reads_hh_mm(monkeypatch):
    from keqing.settings import Settings

    monkeypatch.delenv("KEQING_ALERT_DEADLINE", raising=False)
    assert Settings().alert_deadline == dt.time(6, 30)
    monkeypatch.setenv("KEQING_ALERT_DEADLINE", "07:15")
    assert Settings().alert_deadline == dt.time(7, 15)
