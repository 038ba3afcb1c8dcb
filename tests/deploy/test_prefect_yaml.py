"""Policy over prefect.yaml: entrypoints import, every deployment is scheduled in Shanghai time and tagged."""

from __future__ import annotations

import datetime as dt
import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_entrypoint_imports_to_a_flow(deployment):
    from prefect import Flow

    path, name = deployment["entrypoint"].split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    assert isinstance(getattr(module, name), Flow)


# Deployments without a schedule of their own: only the nightly run starts them (fan-out), or only
# the automations of `keqing prefect setup` (the ops alert).
TRIGGERED_BY_NIGHTLY = {"regional-emails", "ops-alert"}


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=lambda d: d["name"])
def test_every_deployment_has_a_shanghai_schedule_tags_and_a_pool(deployment):
    assert deployment["tags"] and "keqing" in deployment["tags"]
    if deployment["name"] in TRIGGERED_BY_NIGHTLY:
        assert deployment["schedules"] == [], "started by the nightly run only"
    else:
        assert deployment["schedules"], "every deployment runs on a schedule"
    assert all(s["timezone"] == "Asia/Shanghai" for s in deployment["schedules"])
    assert deployment["work_pool"]["name"] == "keqing"


def test_the_deployments_are_the_nightly_run_its_regional_children_and_the_ops_alert():
    from flows.alert import ops_alert
    from flows.regional import REGIONAL_DEPLOYMENT, regional_emails

    assert [d["name"] for d in DEPLOYMENTS] == ["nightly", "regional-emails", "ops-alert"]
    alert = DEPLOYMENTS[2]
    assert (ops_alert.name, alert["work_pool"]["work_queue_name"]) == ("ops-alert", "alerts")
    regional = next(d for d in DEPLOYMENTS if d["name"] == "regional-emails")
    assert f"{regional_emails.name}/{regional['name']}" == REGIONAL_DEPLOYMENT


def test_parameters_are_only_dates_and_flags():
    from flows.nightly import nightly
    from flows.regional import regional_emails

    assert set(nightly.parameters.properties) == {"run_date", "resend", "send", "fan_out"}
    # The region's name (an offices.region value, not personal data) picks the regional run's staff.
    assert set(regional_emails.parameters.properties) == {"run_date", "region", "resend"}
    assert regional_emails.parameters.required == ["run_date", "region"]
    # The alert gets Prefect's id and name of the run it is about (the automation fills them in).
    from flows.alert import ops_alert

    assert set(ops_alert.parameters.properties) == {"kind", "flow_run_id", "flow_run_name", "deadline"}
    for deployment in DEPLOYMENTS:
        assert set(deployment.get("parameters") or {}) <= {"run_date", "resend", "send", "fan_out"}


def test_the_nightly_cron_is_01_30_shanghai_which_is_17_30_utc_the_day_before():
    import asyncio

    from prefect.server.schemas.schedules import CronSchedule  # what the Prefect scheduler itself uses

    nightly = next(d for d in DEPLOYMENTS if d["name"] == "nightly")
    spec = nightly["schedules"][0]
    schedule = CronSchedule(cron=spec["cron"], timezone=spec["timezone"])
    dates = asyncio.run(schedule.get_dates(n=2, start=dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)))
    assert [d.astimezone(dt.UTC) for d in dates] == [
        dt.datetime(2026, 11, 20, 17, 30, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 21, 17, 30, tzinfo=dt.UTC),
    ]
    from keqing.clock import shanghai_today

    assert [shanghai_today(d) for d in dates] == [dt.date(2026, 11, 21), dt.date(2026, 11, 22)]
