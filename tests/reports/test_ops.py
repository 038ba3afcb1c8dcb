"""The ops view: the run summary, its alerts, and the delivery problems, from a hand-built summary."""

from __future__ import annotations

import datetime as dt

from keqing.rules import Rules, rules_from_mapping
from reports.ops import email_counts, ops_alerts, ops_views
from reports.render import render_bodies
from reports.views import CrashedRun, DeliveryProblem, FeedLine, FileProblem
from tests.reports.factories import RUN_DATE, recipient

SUMMARY = {
    "run_date": "2026-11-24",
    "ingest": {
        "files_new": 4,
        "files_already_ingested": 7,
        "files_same_bytes": [{"path": "b.csv", "same_as": "a.csv"}],
        "files_ignored": ["notes.docx"],
        "rows_read": 300,
        "rows_loaded": 280,
        "rows_quarantined": 20,
        "rows_duplicate": 0,
        "rows_released": 2,
        "rows_waiting": 5,
        "quarantined_by_reason": {"bad_phone": 12, "unknown_reference": 8},
        "feeds": {
            "patients": {"files": 1, "rows_read": 100, "loaded": 94, "quarantined": 6, "duplicates": 0, "waiting": 0},
            "visits": {"files": 2, "rows_read": 200, "loaded": 186, "quarantined": 14, "duplicates": 0, "waiting": 5},
        },
        "files": [
            {"path": "2026-11-23/visits.csv", "status": "done", "messages": []},
            {"path": "2026-11-23/staff.csv", "status": "rejected", "messages": ["missing required column email"]},
        ],
    },
    "render": {"emails": 9, "bad_addresses": ["S044"]},
    "deliver": {"sent": 6, "written": 0, "failed": 1, "unknown": 1, "deferred": 1},
    "alerts": ["grading: rx_monthly has no rows for 2026-10"],
}


def test_email_counts_come_from_render_and_deliver():
    assert email_counts(SUMMARY) == {"rendered": 9, "sent": 6, "written": 0, "failed": 1, "unknown": 1, "deferred": 1}
    assert email_counts({}) == {"rendered": 0, "sent": 0, "written": 0, "failed": 0, "unknown": 0, "deferred": 0}


def test_alerts_name_rejected_files_feeds_over_the_quarantine_share_and_undelivered_emails():
    # patients 6/100 = 6% and visits 14/200 = 7% are over the default 5%.
    assert ops_alerts(SUMMARY, Rules()) == [
        "1 个文件被整体拒收：2026-11-23/staff.csv",
        "patients：6.0% 的数据行被隔离（6/100，阈值 5%）",
        "visits：7.0% 的数据行被隔离（14/200，阈值 5%）",
        "1 位员工的邮箱地址无效，未生成邮件：S044",
        "1 封邮件被服务器拒收（5xx），不会自动重发",
        "1 封邮件状态不明（发送后无应答），服务器可能已收到，不会自动重发",
        "1 封邮件重试后仍未送出，下次运行该日期时会再发",
        "grading: rx_monthly has no rows for 2026-10",
    ]
    # With the threshold at 6.5% only visits is over it; a quiet night has no alerts.
    lenient = rules_from_mapping({"ingest": {"alert_quarantine_share": 0.065}})
    assert [a for a in ops_alerts(SUMMARY, lenient) if "隔离" in a] == [
        "visits：7.0% 的数据行被隔离（14/200，阈值 6.5%）"
    ]
    assert (
        ops_alerts({"ingest": {"feeds": {}, "files": []}, "render": {"emails": 3}, "deliver": {"sent": 3}}, Rules())
        == []
    )


def test_one_view_per_ops_recipient_with_the_summary_and_the_problems():
    problems = [
        {"staff_id": "S005", "kind": "rep", "status": "failed", "last_error": "550 5.1.1 no such user"},
        {"staff_id": "S006", "kind": "callback", "status": "unknown", "last_error": None},
    ]
    views = ops_views(
        SUMMARY,
        Rules(),
        RUN_DATE,
        [recipient("S900", "赵运营"), recipient("S901", "钱运营")],
        problems,
        {"S005": "陈磊"},
    )
    assert [v.recipient.staff_id for v in views] == ["S900", "S901"]
    view = views[0]
    assert (view.run_date, view.data_as_of.isoformat(), view.run_status) == (RUN_DATE, "2026-11-23", "succeeded")
    assert (view.files_new, view.files_already_ingested, view.files_same_bytes, view.files_ignored) == (
        4,
        7,
        1,
        ["notes.docx"],
    )
    assert view.rejected_files == [
        FileProblem(path="2026-11-23/staff.csv", feed=None, messages=["missing required column email"])
    ]
    assert (view.rows_read, view.rows_loaded, view.rows_quarantined, view.rows_released, view.rows_waiting) == (
        300,
        280,
        20,
        2,
        5,
    )
    assert view.quarantined_by_reason == [("bad_phone", 12), ("unknown_reference", 8)]
    assert view.feeds[1] == FeedLine(
        feed="visits", files=2, rows_read=200, loaded=186, quarantined=14, duplicates=0, waiting=5
    )
    assert view.delivery_problems == [
        DeliveryProblem(
            staff_id="S005", staff_name="陈磊", kind="rep", status="failed", error="550 5.1.1 no such user"
        ),
        DeliveryProblem(staff_id="S006", staff_name=None, kind="callback", status="unknown", error=None),
    ]
    assert len(view.alerts) == 8


def test_the_ops_email_opens_with_an_unknown_calendar_year_and_the_runs_that_died():
    summary = SUMMARY | {"calendar": {"unknown_years": [2027], "rules_key": "calendar.holidays"}}
    crashed = [
        {"run_id": 41, "run_date": dt.date(2026, 11, 23), "started_at": dt.datetime(2026, 11, 22, 17, 30, 5),
         "host": "keqing-1", "pid": 4242},
    ]  # fmt: skip
    view = ops_views(summary, Rules(), RUN_DATE, [recipient("S900", "赵运营")], crashed_runs=crashed)[0]
    assert view.unknown_calendar_years == [2027]
    assert view.crashed_runs == [
        CrashedRun(run_id=41, run_date=dt.date(2026, 11, 23), started="2026-11-23 01:30", host="keqing-1", pid=4242)
    ]
    html, text = render_bodies(view)
    body = text.split("早上好！", 1)[1]
    # The calendar warning comes first, then the dead run, then everything else.
    assert body.index("2027 年的法定节假日和调休安排未知") < body.index("运行 #41") < body.index("== 告警 ==")
    assert "规则文件（KEQING_RULES）的 calendar.holidays" in body and "keqing calendar 2027" in body
    assert "运行 #41（日期 2026-11-23，2026-11-23 01:30 开始，keqing-1 进程 4242）" in body
    assert "keqing run --date 2026-11-23" in body
    assert html.index("节假日安排未知") < html.index("异常中断的运行") < html.index("<b>告警</b>")
    # A night without either has no such block.
    quiet = ops_views(SUMMARY, Rules(), RUN_DATE, [recipient("S900", "赵运营")])[0]
    html, text = render_bodies(quiet)
    assert "节假日安排未知" not in text + html and "异常中断" not in text + html
