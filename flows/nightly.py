"""The nightly run for one run_date: ingest the inbox, compute the lists, render and send the emails."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from functools import partial

from prefect import flow
from prefect.runtime import flow_run
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from edges import failpoints
from edges.locks import INGEST_LOCK, INGEST_LOCK_WAIT_SECONDS, LockBusy, held
from flows.email import add_delivery, deliver, ops_email, render
from flows.grading import grading
from flows.ingest import ingest
from flows.loyalty import loyalty
from flows.regional import fan_out as fan_out_emails
from flows.supply import supply
from keqing.clock import shanghai_today
from keqing.rules import load_rules
from keqing.settings import get_settings
from tasks.audit import audit_outputs
from tasks.deliver import check_delivered, outbox_status
from tasks.runs import (
    calendar_check,
    finish_run,
    migrate_database,
    publish_run_artifact,
    record_progress,
    start_run,
    sweep_crashed_runs,
)


class RunInProgress(RuntimeError):
    """Another run for the same run_date holds its lock."""


class AuditFailed(RuntimeError):
    """The night's outputs failed their audit: no staff email went out, ops were told."""


def default_run_date() -> dt.date:
    """The Shanghai date of the flow run's scheduled start (a 01:30 run is for that morning)."""
    scheduled = flow_run.scheduled_start_time
    return shanghai_today(scheduled) if scheduled is not None else shanghai_today()


def run_lock_name(run_date: dt.date) -> str:
    return f"run:{run_date}"


@contextlib.contextmanager
def run_lock(database_url: str, run_date: dt.date) -> Iterator[None]:
    """One run per run_date at a time: a second run stops at once with a clear message."""
    try:
        with held(database_url, run_lock_name(run_date)):
            yield
    except LockBusy:
        raise RunInProgress(
            f"another run for {run_date} is in progress; this one stops. Rerun when it has finished "
            "(a crashed run's lock is released with its process)."
        ) from None


@contextlib.contextmanager
def stages_without_heartbeats() -> Iterator[None]:
    """Subflows started inside send no heartbeats of their own; the nightly run's heartbeats go on.

    A stage runs in the nightly run's process, so the parent's heartbeats already say whether that
    process is alive. Each flow's heartbeat thread also costs up to a second when the flow ends (it
    sleeps in one-second steps): with eight stages, 5 s of a 55 s night at `large` (bench/results).
    """
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@contextlib.contextmanager
def stage(summary: dict, name: str, save: Callable[[dict], None] | None = None) -> Iterator[None]:
    """A stage of the night: its seconds go to ``summary["stages"]`` (``keqing runs`` shows them) and
    the summary so far to ``save``; the fault tests' failpoint ``stage:<name>:done``
    (edges/failpoints.py) is checked when it has ended."""
    started = time.perf_counter()
    yield
    summary.setdefault("stages", {})[name] = round(time.perf_counter() - started, 2)
    if save is not None:
        save(summary)
    failpoints.check(f"stage:{name}:done")


@flow(name="nightly")
def nightly(run_date: dt.date | None = None, resend: bool = False, send: bool = True, fan_out: bool = False) -> dict:
    """Build the morning lists for run_date (default: today in Asia/Shanghai) from records up to the day before.

    Parameters are only dates and flags: ``resend`` sends the date's emails again, ``send=False``
    (backfills) computes the lists without rendering or sending email. ``fan_out`` renders and sends
    the staff emails in one ``regional-emails`` flow run per region, picked up by the workers
    (flows/regional.py); ingest and the compute stages always run here, the ops email last.
    """
    settings = get_settings()
    rules = load_rules(settings.rules)
    run_date = run_date or default_run_date()
    with run_lock(settings.database_url, run_date), stages_without_heartbeats():
        migrate_database(settings)
        run_id = start_run(settings, run_date, flow_run.get_id(), run_lock_name(run_date))
        summary: dict = {"run_date": run_date.isoformat()}
        save = partial(record_progress, settings, run_id)
        try:
            summary["crashed_runs"] = sweep_crashed_runs(settings, run_lock_name(run_date), run_id)
            summary["calendar"] = calendar_check(rules, run_date)
            with (
                stage(summary, "ingest", save),
                held(settings.database_url, INGEST_LOCK, wait_seconds=INGEST_LOCK_WAIT_SECONDS),
            ):
                summary["ingest"] = ingest(settings, rules, run_date)
            # Loyalty before grading: the visit plan lists reorders and rewards (contract section 5).
            with stage(summary, "loyalty", save):
                summary["loyalty"] = loyalty(settings, rules, run_date)
            with stage(summary, "grading", save):
                summary["grading"] = grading(settings, rules, run_date)
            with stage(summary, "supply", save):
                summary["supply"] = supply(settings, rules, run_date)
            with stage(summary, "audit", save):
                summary["audit"] = audit_outputs(settings, rules, run_date)
            # Write, audit, publish: lists that fail their audit reach no staff member; ops are told.
            publish = send and summary["audit"]["passed"]
            if not summary["audit"]["passed"]:
                summary.setdefault("alerts", []).extend(summary["audit"]["alerts"])
            if publish and fan_out:
                with stage(summary, "deliver", save):
                    regional = fan_out_emails(settings, run_date, resend=resend)
                summary["render"], summary["deliver"] = regional["render"], regional["deliver"]
                summary["regions"] = regional["regions"]
            elif publish:
                with stage(summary, "render", save):
                    summary["render"] = render(settings, rules, run_date, resend=resend)
                with stage(summary, "deliver", save):
                    summary["deliver"] = deliver(settings, run_date)
            if send:
                # Last, so that ops read how the other emails went.
                with stage(summary, "ops_email", save):
                    ops = ops_email(settings, rules, run_date, summary)
                summary["deliver"] = add_delivery(summary.get("deliver", {}), ops["deliver"])
                summary["deliver"]["outbox"] = outbox_status(settings, run_date)
                summary["ops_email"] = {"recipients": ops["recipients"], "emails": ops["render"]["emails"]}
                check_delivered(summary["deliver"], run_date)
            if not summary["audit"]["passed"]:
                raise AuditFailed(f"the night's outputs failed their audit: {', '.join(summary['audit']['failed'])}")
        except BaseException as exc:
            finish_run(settings, run_id, "failed", summary, error=f"{type(exc).__name__}: {exc}")
            raise
        finish_run(settings, run_id, "succeeded", summary)
        publish_run_artifact(summary)
        return summary
