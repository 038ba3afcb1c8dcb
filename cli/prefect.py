"""``keqing prefect setup|status``: the Prefect server's side of keqing, as code.

``setup`` is idempotent: it looks everything up by name and updates it in place. It creates (or
updates) the work pool, the deployments of ``prefect.yaml`` (``prefect deploy --all``, which upserts
by name) and the two automations of ``keqing/automations.py``, which email ops through the
``ops-alert`` deployment. ``status`` lists what exists, with the workers polling each queue.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]  # where prefect.yaml is
NIGHTLY = "nightly/nightly"
ALERT = "ops-alert/ops-alert"

app = typer.Typer(no_args_is_help=True, help="The Prefect server: work pool, deployments, ops alerts.")


def _fail(message: str, code: int = 2) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _deployments() -> list[dict]:
    return yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]


def _nightly_schedule(deployments: list[dict]) -> tuple[str, str]:
    """(cron, timezone) of the nightly deployment's first schedule in prefect.yaml."""
    nightly = next(d for d in deployments if d["name"] == "nightly")
    schedule = nightly["schedules"][0]
    return schedule["cron"], schedule.get("timezone", "UTC")


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        _fail("PREFECT_API_URL is not set: point it at the Prefect server, e.g. http://HOST:4200/api")
    return url


def _parse_deadline(value: str | None) -> dt.time:
    from keqing.settings import get_settings

    if value is None:
        return get_settings().alert_deadline
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a time like 06:30", param_hint="--deadline") from None


def ensure_work_pools(client: Any, deployments: list[dict]) -> list[str]:
    """Create each work pool prefect.yaml names (type process) unless it exists; lines to print."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound

    lines = []
    for name in sorted({d["work_pool"]["name"] for d in deployments}):
        try:
            pool = client.read_work_pool(name)
            lines.append(f"work pool {name}: exists ({pool.type})")
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            lines.append(f"work pool {name}: created (process)")
    return lines


def deploy_all(api_url: str) -> None:
    """``prefect deploy --all`` from the repository root: creates or updates each deployment by name."""
    env = os.environ | {"PREFECT_API_URL": api_url, "PREFECT_CLI_PROMPT": "false"}
    prefect = Path(sys.executable).parent / "prefect"
    done = subprocess.run(
        [str(prefect), "deploy", "--all"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        _fail(f"prefect deploy --all exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}", 1)


def ensure_automations(client: Any, specs: list[dict]) -> list[str]:
    """Create each automation, or update the one of that name in place (and delete any duplicates)."""
    from prefect.events.schemas.automations import AutomationCore

    lines = []
    for spec in specs:
        automation = AutomationCore.model_validate(spec)
        existing = sorted(client.read_automations_by_name(spec["name"]), key=lambda a: str(a.id))
        if not existing:
            new_id = client.create_automation(automation)
            lines.append(f"automation {spec['name']!r}: created ({new_id})")
            continue
        keep, *extra = existing
        client.update_automation(keep.id, automation)
        for duplicate in extra:
            client.delete_automation(duplicate.id)
        lines.append(
            f"automation {spec['name']!r}: updated ({keep.id})"
            + (f", {len(extra)} duplicate(s) deleted" if extra else "")
        )
    return lines


@app.command()
def setup(
    deadline: Annotated[
        str | None,
        typer.Option(
            help="HH:MM (nightly schedule's time zone) by which the nightly run must be Completed; "
            "default KEQING_ALERT_DEADLINE, 06:30"
        ),
    ] = None,
    deploy: Annotated[bool, typer.Option(help="also deploy prefect.yaml (prefect deploy --all)")] = True,
) -> None:
    """Create or update, on the server of PREFECT_API_URL, the work pool, the deployments and the ops alerts."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from keqing.automations import ScheduleError, automation_specs

    api_url = _api_url()
    when = _parse_deadline(deadline)
    deployments = _deployments()
    cron, timezone = _nightly_schedule(deployments)
    with get_client(sync_client=True) as client:
        for line in ensure_work_pools(client, deployments):
            typer.echo(line)
        if deploy:
            deploy_all(api_url)
        ids = {}
        for name in [_full_name(d) for d in deployments]:
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:
                _fail(f"deployment {name} not found on {api_url}: run without --no-deploy", 1)
            ids[name] = str(deployment.id)
            typer.echo(f"deployment {name}: {deployment.id} (queue {deployment.work_queue_name})")
        try:
            specs = automation_specs(ids[NIGHTLY], ids[ALERT], cron, timezone, when)
        except ScheduleError as exc:
            _fail(str(exc))
        for line in ensure_automations(client, specs):
            typer.echo(line)
    typer.echo(
        f"ops are alerted when a nightly run fails, crashes or times out, and when one is not Completed by "
        f"{when:%H:%M} {timezone}; a worker must poll the alerts queue: "
        "prefect worker start --pool keqing --work-queue alerts"
    )


def _full_name(deployment: dict) -> str:
    """``flow name/deployment name`` of a prefect.yaml deployment (the flow's name from its decorator)."""
    import importlib

    path, attr = deployment["entrypoint"].split(":")
    flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), attr)
    return f"{flow.name}/{deployment['name']}"


@app.command()
def status() -> None:
    """What exists on the server: work pools and their queues with the workers polling them,
    keqing's deployments, and the ops-alert automations."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    from keqing.automations import AUTOMATION_NAMES

    api_url = _api_url()
    deployments = _deployments()
    typer.echo(f"Prefect server {api_url}")
    with get_client(sync_client=True) as client:
        for pool_name in sorted({d["work_pool"]["name"] for d in deployments}):
            try:
                pool = client.read_work_pool(pool_name)
            except ObjectNotFound:
                typer.echo(f"work pool {pool_name}: missing (run keqing prefect setup)")
                continue
            queues = sorted(q.name for q in client.read_work_queues(work_pool_name=pool_name))
            workers = client.read_workers_for_work_pool(pool_name)
            online = sorted(w.name for w in workers if str(w.status).upper().endswith("ONLINE"))
            typer.echo(
                f"work pool {pool_name} ({pool.type}): queues {', '.join(queues) or '-'}; "
                f"workers online: {', '.join(online) or 'none'}"
            )
        for d in deployments:
            name = _full_name(d)
            try:
                deployment = client.read_deployment_by_name(name)
            except ObjectNotFound:
                typer.echo(f"deployment {name}: missing (run keqing prefect setup)")
                continue
            schedules = ", ".join(
                f"{getattr(s.schedule, 'cron', s.schedule)} {getattr(s.schedule, 'timezone', '')}".strip()
                for s in deployment.schedules
            )
            typer.echo(f"deployment {name}: queue {deployment.work_queue_name}; schedule {schedules or 'none'}")
        for name in AUTOMATION_NAMES:
            found = client.read_automations_by_name(name)
            if not found:
                typer.echo(f"automation {name!r}: missing (run keqing prefect setup)")
            for automation in found:
                state = "enabled" if automation.enabled else "DISABLED"
                trigger = automation.trigger.describe_for_cli().strip()
                typer.echo(f"automation {name!r}: {state}; {trigger}")
