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
        "患者（patients）：6.0% 的数据行被隔离（6/100，阈值 5%）",
        "拜访记录（visits）：7.0% 的数据行被隔离（14/200，阈值 5%）",
        "1 位员工的邮箱地址无效，未生成邮件：S044",
        "1 封邮件被服务器拒收（5xx），不会自动重发",
        "1 封邮件状态不明（发送后无应答），服务器可能已收到，不会自动重发",
        "1 封邮件重试后仍未送出，下次运行该日期时会再发",
        "grading: rx_monthly has no rows for 2026-10",
    ]
    # With the threshold at 6.5% only visits is over it; a quiet night has no alerts.
    lenient = rules_from_mapping({"ingest": {"alert_quarantine_share": 0.065}})
    assert [a for a in ops_alerts(SUMMARY, lenient) if "隔离" in a] == [
        "拜访记录（visits）：7.0% 的数据行被隔离（14/200，阈值 6.5%）"
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


def test_missing_feeds_broken_batches_and_the_quarantine_attachment_in_the_ops_email():
    from reports.attachments import parse_csv
    from reports.render import render_bodies, render_email
    from reports.views import BrokenBatch, MissingFeed, QuarantineLine

    summary = SUMMARY | {
        "ingest": SUMMARY["ingest"]
        | {
            "missing_feeds": [
                {"feed": "purchases", "label": "购药记录", "cutoff": "2026-11-23", "text": "购药记录缺失"}
            ],
            "broken_batches": [
                {"path": "x/purchases.csv", "feed": "purchases", "rows_read": 10, "rows_quarantined": 3}
                | {"quarantined_share": 0.3}
            ],
        }
    }
    line = QuarantineLine(
        file="x/purchases.csv",
        line=4,
        column="boxes",
        reason="bad_number",
        reason_zh="不是数字",
        raw="purchase_id=B1; boxes=abc",
        feed="purchases",
        status="rejected",
        id=17,
    )
    rules = rules_from_mapping({"freshness": {"max_quarantined_share": 0.25}})
    (view,) = ops_views(summary, rules, RUN_DATE, [recipient("S900", "赵运营")], quarantine=[line], quarantine_total=1)
    assert view.missing_feeds == [MissingFeed(feed="purchases", label="购药记录", text="购药记录缺失")]
    assert view.broken_batches == [
        BrokenBatch(path="x/purchases.csv", feed="purchases", rows_read=10, rows_quarantined=3)
    ]
    assert view.broken_batches[0].share == 0.3

    html, text = render_bodies(view)
    lines = [x for x in text.split("早上好！", 1)[1].splitlines() if x.strip()]
    assert lines[1:6] == [
        "== 数据未到 ==",
        "  ! 购药记录缺失",
        "== 异常批次（隔离行超过 25%） ==",
        "  ! x/purchases.csv（purchases）：读取 10 行，隔离 3 行，隔离比例 30.0%",
        "请联系数据来源修正后重新放入收件箱。",
    ]
    assert (
        "不是有效的手机号（1[3-9] 开头共 11 位）或固定电话（0AA(A)-NNNNNNN(N)）（bad_phone）" in text
    )  # every reason code with its Chinese explanation
    assert "今晚新隔离 1 行，明细见附件 quarantine_2026-11-24.csv（姓名、电话已打码）" in text
    assert "数据未到" in html and "异常批次" in html and "30.0%" in html

    message = render_email(view)
    import email
    from email import policy

    parts = {
        p.get_filename(): p.get_content()
        for p in email.message_from_bytes(message.message, policy=policy.default).iter_attachments()
    }
    csv = parse_csv(parts["quarantine_2026-11-24.csv"].encode("utf-8"))
    assert csv.rows() == [
        (
            "x/purchases.csv",
            "4",
            "boxes",
            "bad_number",
            "不是数字",
            "purchase_id=B1; boxes=abc",
            "purchases",
            "rejected",
            "17",
        )
    ]


def test_a_staff_email_carries_its_notices_first():
    from dataclasses import replace

    from reports.render import render_bodies
    from tests.reports.factories import call, callback_view

    view = replace(callback_view([call("P1", "赵敏", "13812345678")]), notices=("数据未到：昨日的购药记录尚未收到。",))
    html, text = render_bodies(view)
    assert text.index("!! 数据未到：昨日的购药记录尚未收到。") < text.index("== 今日回访 ==")
    assert html.index("数据未到：昨日的购药记录尚未收到。") < html.index("今日回访</h2>")
    plain, _ = render_bodies(callback_view([call("P1", "赵敏", "13812345678")]))
    assert "数据未到" not in plain


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
