"""The ingest stage on SQLite and PostgreSQL: its rules through the flow's body with the tasks' plain
functions (``run_ingest``, a second or two a case), and one whole night (``run_nightly``, 20-45 s a
case) for what only a night shows: a crash leaving the run failed and its rerun loading once. (The
stage's summary in the night's is checked in tests/flows/test_nightly.py.)"""

from __future__ import annotations

import datetime as dt
import io

import polars as pl
import pytest
import xlsxwriter

from tests.helpers import quarantine, run_ingest, run_nightly, table, write, write_master

PATIENTS_EN = (
    "patient_id,name,phone,gender,age,disease,office_code,callback_staff_id,informed,contact_name,contact_relation\n"
    "P0001,赵敏,13812345678,F,66,高血压,OF001,S002,1,,\n"
    "P0002,钱多多,+86 139-1234-5678,M,70,糖尿病,OF001,S002,0,钱小二,儿子\n"
    "00123,孙丽,010-87654321,F,58,冠心病,OF001,,Y,,\n"
)
PATIENTS_ZH = (
    "患者编号,姓名,电话,性别,年龄,病种,办事处编码,回访员工号,是否知情,联系人,与患者关系\n"
    "P0001,赵敏,13812345678.0,女,66,高血压,OF001,S002,是,,\n"
    "P0002,钱多多,8613912345678,男,70,糖尿病,OF001,S002,否,钱小二,儿子\n"
    "00123,孙丽,01087654321,女,58,冠心病,OF001,,是,,\n"
)
EXPECTED_PATIENTS = pl.DataFrame(
    {
        "patient_id": ["00123", "P0001", "P0002"],
        "name": ["孙丽", "赵敏", "钱多多"],
        "phone": ["010-87654321", "13812345678", "13912345678"],
        "gender": ["F", "F", "M"],
        "age": [58, 66, 70],
        "informed": [True, True, False],
        "contact_name": [None, None, "钱小二"],
    }
)


def _patients(settings) -> pl.DataFrame:
    df = table(settings, "patients", order_by="patient_id")
    return df.select(EXPECTED_PATIENTS.columns).with_columns(pl.col("informed").cast(pl.Boolean))


def test_gb18030_chinese_headers_and_utf8_twin_load_identical_rows(settings):
    write_master(settings)
    write(settings, "2026-11-01/patients_gb.csv", PATIENTS_ZH, encoding="gb18030")
    summary = run_ingest(settings, "2026-11-02")
    assert summary["rows_loaded"] == 3 + 2 + 3 + 1
    from_gb = _patients(settings)
    assert from_gb.equals(EXPECTED_PATIENTS)
    assert table(settings, "ingest_files").filter(pl.col("feed") == "patients")["encoding"].to_list() == ["gb18030"]

    write(settings, "2026-11-02/patients_utf8.csv", PATIENTS_EN)
    summary = run_ingest(settings, "2026-11-03")
    assert summary["feeds"]["patients"]["loaded"] == 3
    assert _patients(settings).equals(from_gb)
    assert quarantine(settings).height == 0


def _xlsx(rows: list[list], date_columns: set[int] = frozenset()) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    date_format = wb.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif value is None:
                continue
            else:
                ws.write(r, c, value)
    wb.close()
    return buf.getvalue()


def test_xlsx_with_excel_phones_and_date_cells_loads_and_lost_digits_are_quarantined(settings):
    write_master(settings)
    write(
        settings,
        "2026-11-01/patients.xlsx",
        _xlsx(
            [
                ["patient_id", "name", "phone", "office_code", "callback_staff_id"],
                ["P0001", "赵敏", 13812345678, "OF001", "S002"],
                ["P0002", "钱多多", "1.38E+10", "OF001", "S002"],
                ["P0003", "孙丽", "1.3912345678E10", "OF001", "S002"],
            ]
        ),
    )
    write(
        settings,
        "2026-11-01/purchases.xlsx",
        _xlsx(
            [
                ["purchase_id", "patient_id", "product_code", "boxes", "purchase_date", "amount"],
                ["PU1", "P0001", "PR01", 3, dt.date(2026, 10, 1), 264],
                ["PU2", "P0003", "PR01", 2, dt.date(2026, 10, 30), 176.0],
            ]
        ),
    )
    run_ingest(settings, "2026-11-02")
    patients = table(settings, "patients", order_by="patient_id")
    assert patients.select("patient_id", "phone").rows() == [("P0001", "13812345678"), ("P0003", "13912345678")]
    q = quarantine(settings)
    assert q.select("line", "column_name", "reason", "status").rows() == [(3, "phone", "phone_lost_digits", "rejected")]
    assert q["message"][0] == (
        "2026-11-01/patients.xlsx, line 3, column phone: "
        "the phone number lost digits in Excel (scientific notation); export it as text"
    )
    purchases = table(settings, "purchases", order_by="purchase_id")
    assert [str(d)[:10] for d in purchases["purchase_date"]] == ["2026-10-01", "2026-10-30"]
    assert purchases["boxes"].to_list() == [3, 2]


PURCHASES = (
    "purchase_id,patient_id,product_code,boxes,purchase_date,channel,amount\n"
    "PU1,P0001,PR01,3,2026-10-01,store,264\n"
    "PU2,P0001,PR01,3,2026-10-20,store,264\n"
)


def test_same_bytes_under_two_names_load_once_and_a_later_correction_updates(settings):
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    write(settings, "2026-11-01/purchases.csv", PURCHASES)
    run_ingest(settings, "2026-11-02")
    write(settings, "2026-11-02/purchases_resent.csv", PURCHASES)
    summary = run_ingest(settings, "2026-11-03")
    assert summary["files_new"] == 0
    assert summary["files_same_bytes"] == [
        {"path": "2026-11-02/purchases_resent.csv", "same_as": "2026-11-01/purchases.csv"}
    ]
    files = table(settings, "ingest_files").filter(pl.col("feed") == "purchases")
    assert files.height == 1

    write(
        settings,
        "2026-11-03/purchases.csv",
        "purchase_id,patient_id,product_code,boxes,purchase_date\nPU2,P0001,PR01,5,2026-10-20\n",
    )
    run_ingest(settings, "2026-11-04")
    purchases = table(settings, "purchases", order_by="purchase_id")
    assert purchases.select("purchase_id", "boxes").rows() == [("PU1", 3), ("PU2", 5)]
    assert purchases["amount"].to_list() == [264.0, None]  # the correction replaces the whole record


def test_purchase_waits_in_quarantine_until_its_patient_arrives(settings):
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    write(settings, "2026-11-01/purchases.csv", PURCHASES + "PU3,P0009,PR01,2,2026-11-01,store,176\n")
    day1 = run_ingest(settings, "2026-11-02")
    assert day1["rows_waiting"] == 1
    q = quarantine(settings)
    assert q.select("line", "column_name", "reason", "status").rows() == [
        (4, "patient_id", "unknown_patient", "waiting")
    ]
    assert table(settings, "purchases").height == 2

    write(settings, "2026-11-02/patients.csv", "patient_id,name,phone,office_code\nP0009,周杰,13700001111,OF001\n")
    day2 = run_ingest(settings, "2026-11-03")
    assert day2["rows_released"] == 1
    assert day2["rows_waiting"] == 0
    purchases = table(settings, "purchases", order_by="purchase_id")
    assert purchases["purchase_id"].to_list() == ["PU1", "PU2", "PU3"]
    assert purchases.filter(pl.col("purchase_id") == "PU3")["source_line"].to_list() == [4]
    q = quarantine(settings)
    assert q.select("status", "resolved_run_date").rows()[0][0] == "resolved"
    assert str(q["resolved_run_date"][0])[:10] == "2026-11-03"


def test_records_dated_on_or_after_the_run_date_wait_for_a_later_run(settings):
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    write(settings, "2026-11-01/purchases.csv", PURCHASES + "PU4,P0001,PR01,1,2026-11-05,store,88\n")
    run_ingest(settings, "2026-11-05")
    assert quarantine(settings).select("reason", "status").rows() == [("after_cutoff", "waiting")]
    run_ingest(settings, "2026-11-06")
    assert "PU4" in table(settings, "purchases")["purchase_id"].to_list()


@pytest.mark.usefixtures("prefect_server")
def test_a_crash_while_loading_leaves_no_file_half_done_and_the_rerun_loads_once(settings, monkeypatch):
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    write(settings, "2026-11-01/purchases.csv", PURCHASES + "PU3,P0009,PR01,2,2026-11-01,store,176\n")
    monkeypatch.setenv("KEQING_FAILPOINT", "load:patients:after_upsert")
    with pytest.raises(Exception, match="fault injected"):
        run_nightly("2026-11-02")
    files = table(settings, "ingest_files", order_by="id")
    assert dict(files.select("feed", "status").rows()) == {
        "offices": "done",
        "staff": "done",
        "products": "done",
        "patients": "pending",
        "purchases": "pending",
    }
    assert table(settings, "patients").height == 0
    runs = table(settings, "runs")
    assert runs["status"].to_list() == ["failed"]

    monkeypatch.setenv("KEQING_FAILPOINT", "load:purchases:committed")  # between purchases and visits
    with pytest.raises(Exception, match="fault injected"):
        run_nightly("2026-11-02")
    monkeypatch.delenv("KEQING_FAILPOINT")
    summary = run_nightly("2026-11-02")
    assert summary["ingest"]["files_new"] == 0  # everything was done by the second attempt
    files = table(settings, "ingest_files", order_by="id")
    assert set(files["status"]) == {"done"}
    assert files.select("rows_read", "rows_loaded", "rows_quarantined").sum().rows() == [(2 + 3 + 1 + 3 + 3, 11, 1)]
    assert table(settings, "patients").height == 3
    assert table(settings, "purchases").height == 2
    assert quarantine(settings).height == 1


def test_an_empty_file_and_values_too_big_for_the_schema_are_quarantined_not_fatal(settings):
    # Both failed the run: the empty file's line-1 entry broke its reconciliation (0 read, 1 quarantined),
    # and on PostgreSQL a 65-character id or an amount over NUMERIC(14, 2) failed the whole load.
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    write(settings, "2026-11-01/purchases_empty.csv", b"")
    write(
        settings,
        "2026-11-01/purchases.csv",
        PURCHASES + "P" * 65 + ",P0001,PR01,1,2026-10-01,store,88\nPU9,P0001,PR01,1,2026-10-01,store,1e15\n",
    )
    summary = run_ingest(settings, "2026-11-02")
    assert summary["feeds"]["purchases"] == {
        "files": 2,
        "rows_read": 4,
        "loaded": 2,
        "quarantined": 2,
        "duplicates": 0,
        "released": 0,
        "waiting": 0,
    }
    q = quarantine(settings)
    assert q.select("line", "column_name", "reason").rows() == [  # purchases.csv is read first
        (4, "purchase_id", "too_long"),
        (5, "amount", "out_of_range"),
        (1, None, "empty_file"),
    ]
    assert q["message"][2] == "2026-11-01/purchases_empty.csv: line 1: the file is empty: no header line"


def test_a_feed_in_many_chunks_loads_as_in_one_with_waiting_rows_retried_once(settings, monkeypatch):
    """One file per chunk, each read, validated, checked and loaded in turn."""
    import flows.ingest

    monkeypatch.setattr(flows.ingest, "CHUNK_BYTES", 1)
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    header = "purchase_id,patient_id,product_code,boxes,purchase_date\n"
    write(settings, "2026-11-01/purchases_1.csv", header + "PU1,P0001,PR01,3,2026-10-01\nPU2,P0001,PR01,1,2026-10-02\n")
    write(settings, "2026-11-01/purchases_2.csv", header + "PU3,P0002,PR01,2,2026-10-03\nPU4,P0404,PR01,2,2026-10-04\n")
    write(settings, "2026-11-01/purchases_3.csv", header + "PU2,P0001,PR01,7,2026-10-02\n")  # a correction
    write(
        settings,
        "2026-11-01/visits.csv",
        "visit_id,staff_id,target_type,target_id,visit_at,channel,outcome\n"
        "V1,S002,patient,P0404,2026-10-05 10:00,phone,completed\n",
    )
    day1 = run_ingest(settings, "2026-11-02")
    assert day1["feeds"]["purchases"] == {
        "files": 3,
        "rows_read": 5,
        "loaded": 4,
        "quarantined": 1,
        "duplicates": 0,
        "released": 0,
        "waiting": 1,
    }
    assert day1["rows_waiting"] == 2  # PU4 and the visit, both waiting for patient P0404
    purchases = table(settings, "purchases", order_by="purchase_id")
    assert purchases.select("purchase_id", "boxes").rows() == [("PU1", 3), ("PU2", 7), ("PU3", 2)]
    assert quarantine(settings).select("line", "reason", "status").rows() == [
        (3, "unknown_patient", "waiting"),
        (2, "unknown_target", "waiting"),
    ]

    write(settings, "2026-11-02/patients.csv", "patient_id,name,phone,office_code\nP0404,周杰,13700001111,OF001\n")
    write(settings, "2026-11-02/purchases_4.csv", header + "PU5,P0404,PR01,1,2026-11-01\n")
    write(settings, "2026-11-02/purchases_5.csv", header + "PU6,P0001,PR01,1,2026-11-01\n")
    day2 = run_ingest(settings, "2026-11-03")
    assert (day2["rows_released"], day2["rows_waiting"]) == (2, 0)
    assert day2["feeds"]["purchases"]["released"] == 1
    purchases = table(settings, "purchases", order_by="purchase_id")
    assert purchases["purchase_id"].to_list() == ["PU1", "PU2", "PU3", "PU4", "PU5", "PU6"]
    assert quarantine(settings)["status"].to_list() == ["resolved", "resolved"]


def _indexes_present(settings, table) -> list[str]:
    from edges.db import get_engine, index_names

    with get_engine(settings.database_url).connect() as conn:
        return sorted(index_names(conn) & {index.name for index in table.indexes})


def _purchases_in_three_files(settings) -> None:
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    header = "purchase_id,patient_id,product_code,boxes,purchase_date\n"
    for n in (1, 2, 3):
        write(settings, f"2026-11-01/purchases_{n}.csv", header + f"PU{n},P0001,PR01,{n},2026-10-0{n}\n")


def test_a_load_of_many_chunks_builds_the_tables_indexes_once_after_its_last_chunk(settings, monkeypatch):
    """A history (a feed over one chunk) loads its table without its secondary indexes, built once after."""
    import flows.ingest
    import tasks.ingest.load
    from models import FEED_MODELS

    patients, purchases = FEED_MODELS["patients"].__table__, FEED_MODELS["purchases"].__table__

    monkeypatch.setattr(flows.ingest, "CHUNK_BYTES", 1)  # a chunk per file: purchases has three
    present_at_upsert = []

    def upsert_frame(conn, table, df, key, **kwargs):
        present_at_upsert.append((table.name, _indexes_present(settings, table)))
        return real_upsert(conn, table, df, key, **kwargs)

    real_upsert = tasks.ingest.load.upsert_frame
    monkeypatch.setattr(tasks.ingest.load, "upsert_frame", upsert_frame)
    monkeypatch.setattr(tasks.ingest.load, "ANALYZE_AFTER_ROWS", 1)  # every chunk is "big"
    _purchases_in_three_files(settings)
    run_ingest(settings, "2026-11-02")
    patient_indexes = ["ix_patients_callback_staff_id", "ix_patients_office_code"]
    assert [(t, i) for t, i in present_at_upsert if t in ("patients", "purchases")] == [
        ("patients", patient_indexes),  # one file, one chunk: loaded as on any night
        ("purchases", []),
        ("purchases", []),
        ("purchases", []),
    ]
    assert _indexes_present(settings, purchases) == ["ix_purchases_event_id", "ix_purchases_patient_id"]
    assert _indexes_present(settings, patients) == patient_indexes
    assert table(settings, "purchases", order_by="purchase_id")["boxes"].to_list() == [1, 2, 3]
    if settings.database_url.startswith("postgresql"):  # vacuumed and analyzed once, after the last chunk
        stats = table(settings, "pg_stat_user_tables").filter(pl.col("relname") == "purchases")
        assert stats.select("vacuum_count", "analyze_count").rows() == [(1, 1)]


def test_indexes_dropped_for_a_bulk_load_come_back_after_a_crash(settings, monkeypatch):
    """A chunk that fails: the flow builds the indexes on its way out; a process that died before it
    could: the next run's migration step builds them."""
    import flows.ingest
    from models import FEED_MODELS
    from tasks.ingest import suspend_indexes
    from tasks.runs import migrate_database

    purchases = FEED_MODELS["purchases"].__table__
    monkeypatch.setattr(flows.ingest, "CHUNK_BYTES", 1)
    _purchases_in_three_files(settings)
    monkeypatch.setenv("KEQING_FAILPOINT", "load:purchases:after_upsert")
    with pytest.raises(Exception, match="fault injected"):
        run_ingest(settings, "2026-11-02")
    assert _indexes_present(settings, purchases) == ["ix_purchases_event_id", "ix_purchases_patient_id"]

    suspend_indexes.fn(settings, "purchases")  # and then the process dies
    assert _indexes_present(settings, purchases) == []
    migrate_database.fn(settings)
    assert _indexes_present(settings, purchases) == ["ix_purchases_event_id", "ix_purchases_patient_id"]


def test_the_migrated_schema_has_every_index_the_models_name(settings):
    """What the bulk load drops and builds again is the models' indexes: they must be the migrations'."""
    from edges.db import create_missing_indexes, get_engine
    from models import FEED_MODELS

    assert create_missing_indexes(get_engine(settings.database_url), [m.__table__ for m in FEED_MODELS.values()]) == []


def test_a_big_load_refreshes_the_planner_statistics_on_postgresql(settings, monkeypatch):
    import tasks.ingest.load

    if not settings.database_url.startswith("postgresql"):
        pytest.skip("planner statistics are PostgreSQL's")
    monkeypatch.setattr(tasks.ingest.load, "ANALYZE_AFTER_ROWS", 2)  # a "big" load of two rows or more
    write_master(settings)
    write(settings, "2026-11-01/patients.csv", PATIENTS_EN)
    write(settings, "2026-11-01/purchases.csv", PURCHASES)
    run_ingest(settings, "2026-11-02")
    stats = table(settings, "pg_stat_user_tables").filter(pl.col("relname").is_in(["patients", "purchases", "offices"]))
    analyzed = {
        name: (vacuums, analyses)
        for name, vacuums, analyses in stats.select("relname", "vacuum_count", "analyze_count").rows()
    }
    assert analyzed == {"patients": (1, 1), "purchases": (1, 1), "offices": (1, 1)}  # VACUUM (ANALYZE)
    monkeypatch.setattr(tasks.ingest.load, "ANALYZE_AFTER_ROWS", 3)  # the correction below is one row: no ANALYZE
    write(
        settings,
        "2026-11-02/purchases.csv",
        "purchase_id,patient_id,product_code,boxes,purchase_date\nPU2,P0001,PR01,5,2026-10-20\n",
    )
    run_ingest(settings, "2026-11-03")
    stats = table(settings, "pg_stat_user_tables").filter(pl.col("relname") == "purchases")
    assert stats["analyze_count"].to_list() == [1]
