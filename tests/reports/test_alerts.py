"""The ops alert emails: which run_date they are filed under, one per ops recipient, what they say."""

from __future__ import annotations

import datetime as dt
import email
from email import policy

import pytest

from reports.alerts import RunFacts, alert_run_date, alert_views
from reports.render import render_email
from reports.views import AlertFailedView, AlertLateView, Recipient

NOW = dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai
RUN_ID = "0b6c3f1e-9f7a-4c1e-8d3b-5a1f2e3d4c5b"
OPS = [Recipient("S900", "赵运营", "ops@example.com"), Recipient("S902", "孙运营", "ops3@example.com")]


def facts(**changes) -> RunFacts:
    base = {
        "flow_run_id": RUN_ID,
        "flow_run_name": "amber-okapi",
        "state": "Crashed",
        "state_message": "Flow run infrastructure exited with non-zero status code -9.",
        "parameters": {},
        "start": dt.datetime(2026, 11, 23, 17, 30, 5, tzinfo=dt.UTC),  # 01:30:05 on the 24th in Shanghai
        "ui_url": f"http://127.0.0.1:4200/runs/flow-run/{RUN_ID}",
    }
    return RunFacts(**(base | changes))


def test_the_run_date_is_the_parameter_else_the_shanghai_date_of_the_start_else_of_now():
    assert alert_run_date(facts(parameters={"run_date": "2026-11-20"}), NOW) == dt.date(2026, 11, 20)
    assert alert_run_date(facts(), NOW) == dt.date(2026, 11, 24)  # 17:30 UTC is the next morning in Shanghai
    assert alert_run_date(facts(parameters={"run_date": "not a date"}), NOW) == dt.date(2026, 11, 24)
    assert alert_run_date(facts(start=None), dt.datetime(2026, 11, 30, 16, 30, tzinfo=dt.UTC)) == dt.date(2026, 12, 1)


def test_one_view_per_ops_recipient_of_the_kind_asked():
    views = alert_views("failed", facts(), OPS, "06:30 Asia/Shanghai", NOW)
    assert [(type(v), v.recipient.staff_id, v.run_date, v.started) for v in views] == [
        (AlertFailedView, "S900", dt.date(2026, 11, 24), "2026-11-24 01:30"),
        (AlertFailedView, "S902", dt.date(2026, 11, 24), "2026-11-24 01:30"),
    ]
    late = alert_views("late", facts(state="Running"), OPS[:1], "06:30 Asia/Shanghai", NOW)
    assert [(type(v), v.state, v.deadline) for v in late] == [(AlertLateView, "Running", "06:30 Asia/Shanghai")]
    with pytest.raises(ValueError, match="alert kind 'hung'"):
        alert_views("hung", facts(), OPS, "", NOW)


def _parsed(view, **kwargs):
    rendered = render_email(view, mail_from="客情 <keqing@example.com>", now=NOW, files=[], **kwargs)
    msg = email.message_from_bytes(rendered.message, policy=policy.default)
    return rendered, msg, msg.get_body(preferencelist=("plain",)).get_content()


def test_the_failed_alert_names_the_run_its_state_and_how_to_rerun_the_date():
    view = alert_views("failed", facts(), OPS, "06:30 Asia/Shanghai", NOW)[0]
    rendered, msg, text = _parsed(view, message_id=f"<alert_failed.{RUN_ID}.S900@example.com>")
    assert (rendered.kind, rendered.staff_id, rendered.run_date) == ("alert_failed", "S900", dt.date(2026, 11, 24))
    assert msg["Subject"] == "[客情] 2026-11-24 告警：夜间运行 Crashed"
    assert msg["Message-ID"].strip() == f"<alert_failed.{RUN_ID}.S900@example.com>"
    assert msg["To"] == "赵运营 <ops@example.com>"
    assert "2026-11-24 的夜间运行 Crashed" in text
    assert f"amber-okapi（{RUN_ID}）" in text
    assert "non-zero status code -9" in text
    assert "prefect deployment run nightly/nightly -p run_date=2026-11-24" in text
    assert f"http://127.0.0.1:4200/runs/flow-run/{RUN_ID}" in msg.get_body(preferencelist=("html",)).get_content()
    assert list(msg.iter_attachments()) == []


def test_the_late_alert_names_the_deadline_and_the_state_the_run_is_in():
    view = alert_views("late", facts(state="Running", state_message=""), OPS, "06:30 Asia/Shanghai", NOW)[1]
    _, msg, text = _parsed(view)
    assert msg["Subject"] == "[客情] 2026-11-24 告警：夜间运行到 06:30 Asia/Shanghai 仍未完成（Running）"
    assert "到 06:30 Asia/Shanghai 仍未完成（当前状态 Running）" in text
    assert "应完成时间：06:30 Asia/Shanghai" in text
    assert "状态说明" not in text


@pytest.mark.slow
def test_both_alerts_fit_a_390_px_phone():
    from reports.screenshot import PHONE_WIDTH, scroll_widths
    from tests.helpers import chromium_or_skip

    chromium_or_skip()
    long_message = "Flow run infrastructure exited: " + "x" * 150  # one long word must wrap, not widen
    emails = {}
    for kind in ("failed", "late"):
        view = alert_views(kind, facts(state_message=long_message), OPS, "06:30 Asia/Shanghai", NOW)[0]
        msg = email.message_from_bytes(_parsed(view)[0].message, policy=policy.default)
        emails[kind] = msg.get_body(preferencelist=("html",)).get_content()
    assert scroll_widths(emails, width=PHONE_WIDTH) == {"failed": PHONE_WIDTH, "late": PHONE_WIDTH}
