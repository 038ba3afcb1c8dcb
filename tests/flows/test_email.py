"""The email stages in the nightly flow: staff views from a registered builder, the ops email with the
run summary, exactly once per date, and --resend; on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy

import polars as pl
import pytest

import tasks.render
from edges.db import get_engine, read_frame
from reports.views import Recipient, RepView, VisitTarget, rows_from_frame, split_by_recipient
from tests.helpers import OFFICES, PRODUCTS, table, write

# Three nightly runs per database: end to end, so behind the slow marker (make test and .ci/run run it).
pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

STAFF = (
    "staff_id,name,role,email,office_code,manager_id,team,active\n"
    "S001,张伟,rep,zhang.wei@example.com,OF001,S009,GEN,1\n"
    "S004,刘洋,rep,liu.yang@example.com,OF001,S009,GEN,1\n"
    "S009,王强,manager,wang.qiang@example.com,OF001,,,1\n"
    "S900,赵运营,ops,ops@example.com,OF001,,,1\n"
    "S901,钱运营,ops,ops2@example.com,OF001,,,0\n"
)
CUSTOMERS = (
    "customer_id,name,kind,institution,department,owner_staff_id,office_code\n"
    "C001,赵一医生,doctor,市一医院,心内科,S001,OF001\n"
    "C002,钱二主任,doctor,县医院,药剂科,S004,OF001\n"
    "C003,孙三医生,doctor,市一医院,内分泌科,S001,OF001\n"
)
RUN_DATE = dt.date(2026, 11, 24)


def rep_views_from_customers(settings, rules, run_date) -> list:
    """A stand-in for the targets stage's builder: every owned customer is a target today."""
    frame = read_frame(get_engine(settings.database_url), "SELECT * FROM customers ORDER BY customer_id")
    frame = frame.rename({"name": "customer_name"}).with_columns(grade=pl.lit("A"), reason=pl.lit("frequency"))
    staff = read_frame(get_engine(settings.database_url), "SELECT staff_id, name, email FROM staff")
    people = {r["staff_id"]: Recipient(r["staff_id"], r["name"], r["email"]) for r in staff.iter_rows(named=True)}
    return [
        RepView(run_date=run_date, recipient=people[owner], targets=rows_from_frame(part, VisitTarget))
        for owner, part in sorted(split_by_recipient(frame, "owner_staff_id").items())
    ]


@pytest.fixture
def inbox(settings, monkeypatch):
    monkeypatch.setattr(tasks.render, "VIEW_BUILDERS", [rep_views_from_customers])
    write(settings, "2026-11-22/offices.csv", OFFICES)
    write(settings, "2026-11-22/staff.csv", STAFF)
    write(settings, "2026-11-22/products.csv", PRODUCTS)
    write(settings, "2026-11-22/customers.csv", CUSTOMERS)
    return settings


def nightly(resend: bool = False) -> dict:
    from flows.nightly import nightly as flow

    return flow(run_date=RUN_DATE, resend=resend)


def test_nightly_renders_delivers_and_emails_ops_once_per_date_and_again_on_resend(inbox):
    settings = inbox
    summary = nightly()
    assert summary["render"]["emails"] == 2 and summary["render"]["by_kind"] == {"rep": 2}
    deliver = summary["deliver"]
    assert (deliver["transport"], deliver["written"], deliver["sent"], deliver["failed"]) == ("file", 3, 0, 0)
    assert deliver["outbox"] == {"sent": 3}
    assert summary["ops_email"] == {"recipients": 1, "emails": 1}  # S901 is not active
    folder = settings.outbox / "2026-11-24"
    assert sorted(p.name for p in folder.iterdir()) == ["ops-S900.eml", "rep-S001.eml", "rep-S004.eml"]

    rep = email.message_from_bytes((folder / "rep-S001.eml").read_bytes(), policy=policy.default)
    body = rep.get_body(preferencelist=("html",)).get_content()
    assert "赵一医生" in body and "孙三医生" in body and "钱二主任" not in body
    ops = email.message_from_bytes((folder / "ops-S900.eml").read_bytes(), policy=policy.default)
    assert ops["Subject"] == "[客情] 2026-11-24 夜间运行成功"
    text = ops.get_body(preferencelist=("plain",)).get_content()
    assert f"入库 {summary['ingest']['rows_loaded']}" in text
    assert "生成 2，已发送 0，写入文件 2，失败 0，状态不明 0，待重试 0" in text
    # No personal data of customers in the run summary.
    assert "赵一医生" not in json.dumps(summary, ensure_ascii=False)

    rerun = nightly()
    assert (rerun["render"]["kept"], rerun["deliver"]["written"], rerun["deliver"]["attempts"]) == (2, 0, 0)
    assert table(settings, "outbox").height == 3

    resent = nightly(resend=True)
    assert resent["render"]["marked_for_resend"] == 3
    assert (resent["render"]["replaced_pending"], resent["deliver"]["written"]) == (2, 3)
    assert table(settings, "outbox")["resends"].to_list() == [1, 1, 1]


def test_an_outbox_that_cannot_be_written_fails_the_run_and_the_rerun_delivers_each_email_once(
    inbox, monkeypatch, tmp_path
):
    from typer.testing import CliRunner

    from cli.main import app
    from flows.nightly import nightly as flow
    from keqing.settings import get_settings
    from tasks.deliver import DeliveryFailed

    settings = inbox
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")  # the outbox path is a regular file (root ignores permissions, so no chmod)
    monkeypatch.setenv("KEQING_OUTBOX", str(blocker))
    monkeypatch.setenv("KEQING_SMTP_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()

    result = CliRunner().invoke(app, ["run", "--date", RUN_DATE.isoformat()])
    assert result.exit_code == 1
    assert "run for 2026-11-24 failed: DeliveryFailed: no email could be written to the outbox folder: 3 email(s)" in (
        result.output
    )
    assert f"cannot write {blocker}/2026-11-24/" in result.output
    assert "rerun `keqing run --date 2026-11-24`" in result.output
    runs = table(settings, "runs")
    assert runs["status"].to_list() == ["failed"]
    assert runs["error"][0].startswith("DeliveryFailed: no email could be written")
    assert table(settings, "outbox")["status"].to_list() == ["pending"] * 3

    state = flow(run_date=RUN_DATE, return_state=True)  # the same in Prefect's terms
    assert state.is_failed()
    with pytest.raises(DeliveryFailed):
        state.result()

    monkeypatch.setenv("KEQING_OUTBOX", str(tmp_path / "outbox"))
    get_settings.cache_clear()
    summary = nightly()
    assert (summary["deliver"]["written"], summary["deliver"]["outbox"]) == (3, {"sent": 3})
    folder = tmp_path / "outbox" / "2026-11-24"
    assert sorted(p.name for p in folder.iterdir()) == ["ops-S900.eml", "rep-S001.eml", "rep-S004.eml"]
    assert nightly()["deliver"]["written"] == 0  # and never again
    assert table(settings, "runs", order_by="id")["status"].to_list() == ["failed", "failed", "succeeded", "succeeded"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the calendar check uses no database
def test_a_run_whose_horizon_reaches_an_unknown_year_opens_the_ops_email_with_it(inbox, monkeypatch, tmp_path):
    from flows.nightly import nightly as flow
    from keqing.settings import get_settings

    assert flow(run_date=dt.date(2026, 12, 2))["calendar"]["unknown_years"] == [2027]
    ops = email.message_from_bytes((inbox.outbox / "2026-12-02" / "ops-S900.eml").read_bytes(), policy=policy.default)
    text = ops.get_body(preferencelist=("plain",)).get_content().split("早上好！", 1)[1]
    assert text.splitlines()[2] == "== 节假日安排未知 =="  # first, after the lead line
    assert "2027 年的法定节假日和调休安排未知" in text and "calendar.holidays" in text

    rules = tmp_path / "rules.yaml"
    rules.write_text("calendar:\n  holidays: [{name: 元旦, from: 2027-01-01, to: 2027-01-03}]\n", encoding="utf-8")
    monkeypatch.setenv("KEQING_RULES", str(rules))
    get_settings.cache_clear()
    assert flow(run_date=dt.date(2026, 12, 3))["calendar"]["unknown_years"] == []
    ops = email.message_from_bytes((inbox.outbox / "2026-12-03" / "ops-S900.eml").read_bytes(), policy=policy.default)
    assert "节假日安排未知" not in ops.get_body(preferencelist=("plain",)).get_content()
