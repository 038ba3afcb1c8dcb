"""The quarantine loop on SQLite and PostgreSQL: the ops email attaches the night's quarantined rows
masked, `keqing quarantine list|export|dismiss` show, export in full and close them, a dismissed row
still counts as quarantined in its file, and a row fixed in a later file leaves the open list."""

from __future__ import annotations

import email
from email import policy

import polars as pl
import pytest
from typer.testing import CliRunner

from cli.main import app
from reports.attachments import parse_csv
from tests.helpers import OFFICES, PRODUCTS, run_nightly, table, write

pytestmark = pytest.mark.usefixtures("prefect_server")

STAFF = (
    "staff_id,name,role,email,office_code,manager_id,team,active\n"
    "S002,李娜,callback,li.na@example.com,OF001,,,1\n"
    "S900,赵运营,ops,ops@example.com,OF001,,,1\n"
)
# Line 3 (P0002) is rejected: age 200 is out of range.
PATIENTS = (
    "patient_id,name,phone,age,disease,office_code,callback_staff_id\n"
    "P0001,赵敏,13812340000,66,高血压,OF001,S002\n"
    "P0002,张三明,13812345678,200,糖尿病,OF001,S002\n"
)
# Line 2 waits: patient P0404 has not arrived.
PURCHASES = "purchase_id,patient_id,product_code,boxes,purchase_date\nB001,P0404,PR01,1,2026-11-01\n"


def _invoke(*args: str):
    return CliRunner().invoke(app, ["quarantine", *args])


def _ops_message(settings, run_date: str):
    outbox = table(settings, "outbox")
    row = outbox.filter((pl.col("kind") == "ops") & (pl.col("run_date").cast(pl.String).str.slice(0, 10) == run_date))
    return email.message_from_bytes(row["message"][0], policy=policy.default)


def test_the_ops_attachment_is_masked_the_export_is_full_and_dismiss_keeps_reconciliation(settings, tmp_path):
    for name, content in (("offices", OFFICES), ("staff", STAFF), ("products", PRODUCTS), ("patients", PATIENTS)):
        write(settings, f"2026-11-01/{name}.csv", content)
    write(settings, "2026-11-01/purchases.csv", PURCHASES)
    run_nightly("2026-11-02")

    # The ops email attaches the night's two quarantined rows, names and phones masked.
    message = _ops_message(settings, "2026-11-02")
    files = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert list(files) == ["quarantine_2026-11-02.csv"]
    attached = parse_csv(files["quarantine_2026-11-02.csv"].encode("utf-8"))
    assert attached.columns == ["file", "line", "column", "reason", "reason_zh", "raw", "feed", "status", "id"]
    assert attached.select("file", "line", "column", "reason", "reason_zh", "raw", "status").rows() == [
        (
            "2026-11-01/patients.csv",
            "3",
            "age",
            "out_of_range",
            "数值超出允许范围",
            "patient_id=P0002; name=张*明; phone=138****5678; age=200; disease=***; "
            "office_code=OF001; callback_staff_id=S002",
            "rejected",
        ),
        (
            "2026-11-01/purchases.csv",
            "2",
            "patient_id",
            "unknown_patient",
            "患者未知，等待患者数据到达",
            "purchase_id=B001; patient_id=P0404; product_code=PR01; boxes=1; purchase_date=2026-11-01",
            "waiting",
        ),
    ]
    whole = "".join(str(part.get_content()) for part in message.walk() if not part.is_multipart())
    assert "张三明" not in whole and "13812345678" not in whole and "糖尿病" not in whole
    assert "数值超出允许范围（out_of_range） 1 行" in message.get_body(("plain",)).get_content()

    # list: the open rows, without their data.
    listed = _invoke("list")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[1].split() == [
        "1",
        "patients",
        "2026-11-01/patients.csv:3",
        "age",
        "rejected",
        "2026-11-02",
        "out_of_range",
        "(数值超出允许范围)",
    ]
    assert lines[2].split()[:5] == ["2", "purchases", "2026-11-01/purchases.csv:2", "patient_id", "waiting"]
    assert lines[3] == "2 open row(s)"
    assert "张三明" not in listed.output
    assert _invoke("list", "--feed", "purchases").output.splitlines()[-1] == "1 open row(s)"
    assert _invoke("list", "--reason", "bad_phone").output.strip() == "no open quarantined rows"

    # export: the full rows, for the person who fixes the source.
    out = tmp_path / "fix" / "quarantine.csv"
    exported = _invoke("export", "--out", str(out))
    assert exported.exit_code == 0 and "wrote 2 open row(s)" in exported.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    full = parse_csv(data)
    patient = full.filter(pl.col("id") == "1").row(0, named=True)
    assert (patient["name"], patient["phone"], patient["age"], patient["disease"]) == (
        "张三明",
        "13812345678",
        "200",
        "糖尿病",
    )
    assert full.filter(pl.col("id") == "2")["purchase_id"].to_list() == ["B001"]

    # dismiss: the waiting purchase will never be fixed.
    dismissed = _invoke("dismiss", "2", "--why", "患者已退出项目", "--by", "ops1")
    assert dismissed.exit_code == 0
    assert dismissed.output.strip() == "dismissed 1 row(s) (2) by ops1: 患者已退出项目"
    assert _invoke("list").output.splitlines()[-1] == "1 open row(s)"
    again = _invoke("dismiss", "2", "--why", "again")
    assert again.exit_code == 1 and "not open (unknown, resolved or dismissed already): 2" in again.output
    q = table(settings, "quarantine").filter(pl.col("id") == 2).row(0, named=True)
    assert (q["status"], q["dismissed_by"], q["dismissed_why"]) == ("dismissed", "ops1", "患者已退出项目")
    # Its file still reconciles and still counts it as quarantined.
    files_table = table(settings, "ingest_files").filter(pl.col("feed") == "purchases").row(0, named=True)
    assert (files_table["rows_read"], files_table["rows_loaded"], files_table["rows_quarantined"]) == (1, 0, 1)
    assert table(settings, "quarantine").filter(pl.col("file_id") == files_table["id"]).height == 1

    # The patient row fixed and dropped again in a later file leaves the open list by itself.
    write(
        settings,
        "2026-11-02/patients_fixed.csv",
        "patient_id,name,phone,age,disease,office_code,callback_staff_id\nP0002,张三明,13812345678,70,糖尿病,OF001,S002\n",
    )
    run_nightly("2026-11-03")
    q = table(settings, "quarantine").sort("id")
    assert q.select("id", "status").rows() == [(1, "resolved"), (2, "dismissed")]
    assert str(q["resolved_run_date"][0])[:10] == "2026-11-03"
    assert _invoke("list").output.strip() == "no open quarantined rows"
    # Nothing new was quarantined on 2026-11-03: no attachment.
    assert [p.get_filename() for p in _ops_message(settings, "2026-11-03").iter_attachments()] == []
