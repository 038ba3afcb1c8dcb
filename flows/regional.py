"""Fan-out: the staff emails of a night rendered and sent by one flow run per region, on several workers.

What is split, and why only that: ingest stays single (one writer per feed, under the ingest lock)
and the compute stages (grading, supply, loyalty) stay in the nightly flow run, because they need
global state (grade history, the points ledger) and take seconds of Polars even at ``large`` scale.
What grows with the number of people is the per-recipient work: building each person's view,
rendering it (about 10 ms of CPU an email, see docs/email.md) and delivering it. So
``nightly(fan_out=True)``, after the compute stages, starts one ``regional_emails`` flow run per
region (``offices.region`` of each staff member's office; staff without a region form the group
``未分区``) through the ``regional-emails`` deployment, waits for all of them, fails naming the
regions that did not complete, and then sends the ops email itself.

Routing: each region's run goes to the work queue that ``KEQING_REGION_QUEUES`` names for it (else
the deployment's queue, ``default``); the worker on each machine polls its queues
(``prefect worker start --pool keqing --work-queue east``), so machines split the night by region.

Each regional run is idempotent per (run_date, region) exactly like the single-process path: the
outbox holds one row per (run_date, recipient, kind), a rerun renders again only what is still
pending and sends only what was never sent. It records itself in the ``runs`` table with its
summary (``summary["region"]`` set), where the nightly run reads the counts for the ops email.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence

from prefect import flow
from prefect.runtime import flow_run

from edges import failpoints
from edges.locks import LockBusy, held
from flows.email import DELIVERY_COUNTS, deliver, render
from keqing.regions import queue_for, region_label
from keqing.rules import load_rules
from keqing.settings import Settings, get_settings
from tasks import keqing_task, run_logger
from tasks.deliver import mark_for_resend
from tasks.render import read_staff_by_region
from tasks.runs import finish_run, region_summaries, start_run

REGIONAL_DEPLOYMENT = "regional-emails/regional-emails"  # flow name / deployment name in prefect.yaml
POLL_SECONDS = 2.0  # how often the nightly run asks the API whether its regional runs have finished
RENDER_COUNTS = ("emails", "new", "replaced_pending", "kept", "bytes", "marked_for_resend")


class RegionFailed(RuntimeError):
    """A regional flow run of a fan-out did not complete."""


def region_lock_name(run_date: dt.date, region: str) -> str:
    # hex: the lock file name beside a SQLite database keeps only ASCII, and 华东 must not be 华中.
    return f"run:{run_date}:region:{region.encode().hex()}"


@contextlib.contextmanager
def region_lock(database_url: str, run_date: dt.date, region: str) -> Iterator[None]:
    """One regional run per (run_date, region) at a time (its sender sweeps the region's rows)."""
    try:
        with held(database_url, region_lock_name(run_date, region)):
            yield
    except LockBusy:
        raise RuntimeError(
            f"another run for {run_date}, region {region_label(region)}, is in progress; this one stops"
        ) from None


@flow(name="regional-emails")
def regional_emails(run_date: dt.date, region: str, resend: bool = False) -> dict:
    """Render and send run_date's staff emails of one region's staff (a child of ``nightly(fan_out=True)``).

    ``region`` is an ``offices.region`` value, or "" for staff whose office has no region. The
    lists must have been computed for run_date (the nightly run does that before it fans out).
    """
    settings = get_settings()
    rules = load_rules(settings.rules)
    with region_lock(settings.database_url, run_date, region):
        staff_ids = read_staff_by_region(settings).get(region, [])
        run_id = start_run(settings, run_date, flow_run.get_id(), region_lock_name(run_date, region))
        summary: dict = {"run_date": run_date.isoformat(), "region": region, "staff": len(staff_ids)}
        try:
            if staff_ids:
                summary["render"] = render(settings, rules, run_date, resend=resend, staff_ids=staff_ids)
                failpoints.check("regional:rendered")
                summary["deliver"] = deliver(settings, run_date, staff_ids)
        except BaseException as exc:
            finish_run(settings, run_id, "failed", summary, error=f"{type(exc).__name__}: {exc}")
            raise
        finish_run(settings, run_id, "succeeded", summary)
        return summary


@keqing_task
def run_region(run_date: dt.date, region: str, resend: bool, queue: str | None, wait_seconds: float) -> dict:
    """Start the region's flow run on the regional deployment and wait for it (no retries: a second
    child would only redo the same idempotent work; the rerun of the date does that)."""
    from prefect.deployments import run_deployment

    child = run_deployment(
        REGIONAL_DEPLOYMENT,
        parameters={"run_date": run_date.isoformat(), "region": region, "resend": resend},
        flow_run_name=f"{run_date} {region_label(region)}",
        work_queue_name=queue,
        timeout=wait_seconds,
        poll_interval=POLL_SECONDS,
        as_subflow=True,
    )
    state = child.state
    return {
        "region": region,
        "flow_run_id": str(child.id),
        "flow_run_name": child.name,
        "state": state.type.value if state else "UNKNOWN",
        "state_name": state.name if state else "unknown",
    }


def failed_regions(children: Sequence[dict]) -> list[dict]:
    """The regional runs that did not complete (failed, crashed, cancelled, or still running)."""
    return [c for c in children if c["state"] != "COMPLETED"]


def combine_regions(summaries: Sequence[dict]) -> tuple[dict, dict]:
    """The render and delivery summaries of the regional runs added up, as one process would report them."""
    renders = [s["render"] for s in summaries if "render" in s]
    delivers = [s["deliver"] for s in summaries if "deliver" in s]
    by_kind: Counter[str] = Counter()
    for r in renders:
        by_kind.update(r.get("by_kind", {}))
    total_render: dict = {k: sum(r.get(k, 0) for r in renders) for k in RENDER_COUNTS}
    total_render["by_kind"] = dict(sorted(by_kind.items()))
    total_render["bad_addresses"] = sorted(a for r in renders for a in r.get("bad_addresses", []))
    total_render["resend"] = any(r.get("resend") for r in renders)
    counts = (*DELIVERY_COUNTS, "pending", "interrupted")
    total_deliver: dict = {k: sum(d.get(k, 0) for d in delivers) for k in counts}
    total_deliver["rounds"] = max((d.get("rounds", 0) for d in delivers), default=0)
    total_deliver["transport"] = next((d["transport"] for d in delivers if d.get("transport")), "")
    return total_render, total_deliver


@flow(name="fan-out")
def fan_out(settings: Settings, run_date: dt.date, resend: bool = False) -> dict:
    """The staff emails of run_date by one ``regional-emails`` flow run per region, all at once.

    Raises RegionFailed naming every region whose run did not complete. Returns the regional runs'
    render and delivery summaries added up, and which flow run did which region.
    """
    regions = list(read_staff_by_region(settings))
    futures = [
        run_region.submit(
            run_date, region, resend, queue_for(region, settings.region_queues), settings.region_wait_seconds
        )
        for region in regions
    ]
    children = [f.result() for f in futures]
    failed = failed_regions(children)
    if failed:
        raise RegionFailed(
            "regional email run(s) did not complete: "
            + "; ".join(f"{region_label(c['region'])} ({c['flow_run_name']}: {c['state_name']})" for c in failed)
            + ". Rerun the date: what was sent is not sent again."
        )
    render_total, deliver_total = combine_regions(region_summaries(settings, [c["flow_run_id"] for c in children]))
    if resend:
        # The regional runs mark only staff emails; the ops email is this run's own.
        render_total["marked_for_resend"] += mark_for_resend(settings, run_date, None, ["ops"])
    run_logger().info("fan-out of %s: %d region(s) completed", run_date, len(children))
    return {
        "render": render_total,
        "deliver": deliver_total,
        "regions": {region_label(c["region"]): c["flow_run_name"] for c in children},
    }
