"""The ops email's view: the nightly run summary (contract section 5) and its alerts.

Pure: the summary dict of ``flows/nightly.py`` (see ``flows.ingest.ingest_summary``) and the
outbox's problem rows in, an ``OpsView`` per ops recipient out. Nothing here is personal data of
patients or customers: file paths, counts, reasons, staff ids and names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from keqing.clock import shanghai_wall
from keqing.rules import Rules
from reports.views import (
    BrokenBatch,
    CrashedRun,
    DeliveryProblem,
    FeedLine,
    FileProblem,
    MissingFeed,
    OpsView,
    QuarantineLine,
    Recipient,
    feed_label,
)

EMAIL_COUNTS = ("rendered", "sent", "written", "failed", "unknown", "deferred")


def email_counts(summary: Mapping) -> dict[str, int]:
    """Emails of the run: rendered (from ``summary["render"]``) and delivery outcomes (``summary["deliver"]``)."""
    render = summary.get("render") or {}
    deliver = summary.get("deliver") or {}
    counts = {"rendered": int(render.get("emails", 0))}
    counts |= {k: int(deliver.get(k, 0)) for k in EMAIL_COUNTS if k != "rendered"}
    return counts


def ops_alerts(summary: Mapping, rules: Rules) -> list[str]:
    """What ops must look at today, most serious first, in Chinese.

    Rejected files; feeds whose quarantined share of rows read is over
    ``rules.ingest.alert_quarantine_share``; staff whose email address cannot be used; emails failed,
    unknown or deferred; and any alerts other stages put in ``summary["alerts"]``.
    """
    alerts: list[str] = []
    if summary.get("status") == "failed":
        stage, error = summary.get("error_stage", "未知阶段"), summary.get("error_type", "错误")
        alerts.append(f"夜间运行失败：{stage}（{error}），详情见 runs 表")
    ingest = summary.get("ingest") or {}
    rejected = [f for f in ingest.get("files", []) if f.get("status") == "rejected"]
    if rejected:
        alerts.append(f"{len(rejected)} 个文件被整体拒收：{'、'.join(f['path'] for f in rejected)}")
    threshold = rules.ingest.alert_quarantine_share
    for feed, f in (ingest.get("feeds") or {}).items():
        read = f.get("rows_read", 0)
        if read and f.get("quarantined", 0) / read > threshold:
            share, limit = f["quarantined"] / read, f"{threshold * 100:g}%"
            alerts.append(
                f"{feed_label(feed)}：{share:.1%} 的数据行被隔离（{f['quarantined']:,}/{read:,}，阈值 {limit}）"
            )
    bad = (summary.get("render") or {}).get("bad_addresses") or []
    if bad:
        alerts.append(f"{len(bad)} 位员工的邮箱地址无效，未生成邮件：{'、'.join(bad)}")
    emails = email_counts(summary)
    if emails["failed"]:
        alerts.append(f"{emails['failed']} 封邮件被服务器拒收（5xx），不会自动重发")
    if emails["unknown"]:
        alerts.append(f"{emails['unknown']} 封邮件状态不明（发送后无应答），服务器可能已收到，不会自动重发")
    if emails["deferred"]:
        alerts.append(f"{emails['deferred']} 封邮件重试后仍未送出，下次运行该日期时会再发")
    alerts.extend(str(a) for a in summary.get("alerts", []))
    return alerts


def ops_views(
    summary: Mapping,
    rules: Rules,
    run_date: dt.date,
    recipients: Sequence[Recipient],
    problems: Sequence[Mapping] = (),
    staff_names: Mapping[str, str] | None = None,
    quarantine: Sequence[QuarantineLine] = (),
    quarantine_total: int = 0,
    crashed_runs: Sequence[Mapping] = (),
) -> list[OpsView]:
    """One OpsView per ops recipient, all with the same content.

    ``quarantine``: the night's newly quarantined rows, masked (``keqing.quarantine.attachment_frame``);
    ``crashed_runs``: the earlier runs found dead that this email names (``tasks.runs.crashes_to_report``).
    """
    ingest = summary.get("ingest") or {}
    staff_names = staff_names or {}
    feeds = [
        FeedLine(
            feed=feed,
            files=f.get("files", 0),
            rows_read=f.get("rows_read", 0),
            loaded=f.get("loaded", 0),
            quarantined=f.get("quarantined", 0),
            duplicates=f.get("duplicates", 0),
            waiting=f.get("waiting", 0),
        )
        for feed, f in (ingest.get("feeds") or {}).items()
    ]
    rejected = [
        FileProblem(path=f["path"], feed=f.get("feed"), messages=list(f.get("messages") or []))
        for f in ingest.get("files", [])
        if f.get("status") == "rejected"
    ]
    delivery = [
        DeliveryProblem(
            staff_id=p["staff_id"],
            staff_name=staff_names.get(p["staff_id"]),
            kind=p["kind"],
            status=p["status"],
            error=p.get("last_error"),
        )
        for p in problems
    ]
    common = completeness_fields(ingest, rules) | {
        "quarantine": list(quarantine),
        "quarantine_total": quarantine_total,
        "run_date": run_date,
        "run_status": "failed" if summary.get("status") == "failed" else "succeeded",
        "files_new": ingest.get("files_new", 0),
        "files_already_ingested": ingest.get("files_already_ingested", 0),
        "files_same_bytes": len(ingest.get("files_same_bytes", [])),
        "files_ignored": list(ingest.get("files_ignored", [])),
        "rejected_files": rejected,
        "rows_read": ingest.get("rows_read", 0),
        "rows_loaded": ingest.get("rows_loaded", 0),
        "rows_quarantined": ingest.get("rows_quarantined", 0),
        "rows_duplicate": ingest.get("rows_duplicate", 0),
        "rows_released": ingest.get("rows_released", 0),
        "rows_waiting": ingest.get("rows_waiting", 0),
        "quarantined_by_reason": list((ingest.get("quarantined_by_reason") or {}).items()),
        "feeds": feeds,
        "emails": email_counts(summary),
        "delivery_problems": delivery,
        "alerts": ops_alerts(summary, rules),
        **run_health(summary, crashed_runs),
    }
    return [OpsView(recipient=r, **common) for r in recipients]


def completeness_fields(ingest: Mapping, rules: Rules) -> dict:
    """The ops view's missing daily feeds and broken batches, from the ingest summary."""
    return {
        "missing_feeds": [
            MissingFeed(feed=m["feed"], label=m["label"], text=m["text"]) for m in ingest.get("missing_feeds") or []
        ],
        "broken_batches": [
            BrokenBatch(
                path=b["path"], feed=b.get("feed"), rows_read=b["rows_read"], rows_quarantined=b["rows_quarantined"]
            )
            for b in ingest.get("broken_batches") or []
        ],
        "max_quarantined_share": rules.freshness.max_quarantined_share,
    }


def run_health(summary: Mapping, crashed_runs: Sequence[Mapping]) -> dict:
    """The ops email's first block: the calendar years nobody knows (``summary["calendar"]``) and
    earlier runs whose process died."""
    calendar = summary.get("calendar") or {}
    crashed = [
        CrashedRun(
            run_id=r["run_id"],
            run_date=r["run_date"],
            started=shanghai_wall(r.get("started_at")),
            host=r.get("host"),
            pid=r.get("pid"),
        )
        for r in crashed_runs
    ]
    return {
        "unknown_calendar_years": list(calendar.get("unknown_years") or []),
        "calendar_rules_key": calendar.get("rules_key") or "calendar.holidays",
        "crashed_runs": crashed,
    }
