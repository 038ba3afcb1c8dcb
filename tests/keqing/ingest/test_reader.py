"""Reading inbox bytes: encodings, quoting, field counts, headers, workbooks in disguise."""

from __future__ import annotations

import io

import polars as pl
import xlsxwriter

from keqing.ingest.reader import decode, read_file_bytes

HEADER = "purchase_id,patient_id,product_code,boxes,purchase_date\n"


def test_utf8_bom_and_gb18030_are_decoded_without_garbling():
    text = "患者编号,姓名\nP1,赵敏\n"
    assert decode(b"\xef\xbb\xbf" + text.encode()) == (text, "utf-8-sig", [])
    assert decode(text.encode("gb18030")) == (text, "gb18030", [])


def test_a_utf8_file_with_one_bad_line_keeps_utf8_and_reports_the_line():
    data = "a,b\n赵敏,1\n".encode() + "钱多,2\n".encode("gb18030") + "孙丽,3\n".encode()
    text, encoding, bad = decode(data)
    assert encoding == "utf-8-mixed"
    assert [number for number, _ in bad] == [3]
    assert text.split("\n")[1] == "赵敏,1" and text.split("\n")[3] == "孙丽,3"


def test_a_gb18030_file_with_invalid_bytes_keeps_gb18030_and_reports_the_line():
    data = "a,b\n赵敏,1\n钱多,2\n".encode("gb18030") + b"\xff\xfe,3\n"
    text, encoding, bad = decode(data)
    assert encoding == "gb18030-mixed"
    assert [number for number, _ in bad] == [4]
    assert "钱多,2" in text


def test_rows_carry_their_physical_line_numbers_and_blank_lines_are_skipped():
    raw = read_file_bytes(
        "purchases", "purchases.csv", (HEADER + "A,P1,PR,1,2026-11-01\n\nB,P2,PR,2,2026-11-02\n").encode()
    )
    assert raw.rows["_line"].to_list() == [2, 4]
    assert raw.rows_read == 2 and raw.problems == []


def test_wrong_field_counts_and_unbalanced_quotes_are_problems_with_line_numbers():
    body = (
        "A,P1,PR,1,2026-11-01\n"
        "B,P2,PR,2\n"  # a field short
        'C,"P3 ,PR,3,2026-11-03\n'  # a quote opened and never closed
        'D,"P4, with comma",PR,4,2026-11-04\n'
        'E,"P5\nsecond line",PR,5,2026-11-05\n'
        "F,P6,PR,6,2026-11-06,extra\n"
    )
    raw = read_file_bytes("purchases", "purchases.csv", (HEADER + body).encode())
    assert raw.rows["_line"].to_list() == [2, 5, 6]
    assert raw.rows["patient_id"].to_list() == ["P1", "P4, with comma", "P5\nsecond line"]
    assert sorted((p.line, p.reason) for p in raw.problems) == [
        (3, "wrong_field_count"),
        (4, "unbalanced_quote"),
        (8, "wrong_field_count"),
    ]
    assert raw.rows_read == 6  # 3 rows + 3 problems, every record accounted for


def test_chinese_headers_in_any_order_and_unknown_columns_are_reported():
    raw = read_file_bytes(
        "purchases", "p.csv", "盒数,购药单号,备注,患者编号,产品编码,购药日期\n3,A,hi,P1,PR,20261101\n".encode()
    )
    assert raw.rows.select("purchase_id", "boxes", "purchase_date").row(0) == ("A", "3", "20261101")
    assert raw.unknown_columns == ["备注"]
    assert raw.messages == ["unknown columns ignored: 备注"]


def test_a_missing_required_column_rejects_the_file_naming_the_column():
    raw = read_file_bytes("purchases", "p.csv", b"purchase_id,patient_id,boxes,purchase_date\nA,P1,1,2026-11-01\n")
    assert raw.rejected_reason == "missing_column"
    assert raw.rejected_column == "product_code"
    assert raw.messages[-1] == "required column product_code missing from the header"
    assert raw.rows_read == 1


def test_empty_and_header_only_files():
    empty = read_file_bytes("purchases", "p.csv", b"")
    assert empty.rejected_reason == "empty_file" and empty.rows_read == 0
    header_only = read_file_bytes("purchases", "p.csv", HEADER.encode())
    assert header_only.rejected_reason is None and header_only.rows.height == 0


def test_mixed_line_endings():
    data = (HEADER.replace("\n", "\r\n") + "A,P1,PR,1,2026-11-01\rB,P2,PR,2,2026-11-02\n").encode()
    raw = read_file_bytes("purchases", "p.csv", data)
    assert raw.rows["purchase_id"].to_list() == ["A", "B"]


def test_a_workbook_renamed_to_csv_is_read_as_a_workbook():
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    for r, row in enumerate(
        [["purchase_id", "patient_id", "product_code", "boxes", "purchase_date"], ["A", "P1", "PR", 3, "2026-11-01"]]
    ):
        ws.write_row(r, 0, row)
    wb.close()
    raw = read_file_bytes("purchases", "purchases.csv", buf.getvalue())
    assert raw.encoding == "xlsx"
    assert raw.rows.select("purchase_id", "boxes").row(0) == ("A", "3")
    assert "despite its .csv name" in raw.messages[0]
    assert raw.rows.schema["boxes"] == pl.String


def test_a_bad_line_in_a_file_with_cr_line_endings_is_numbered_like_the_others():
    # Found by the fuzz test: decode() split lines on \n only, so with \r endings the whole file was one
    # "line" and a single bad byte rejected the file (or two records were both called line 2).
    data = (HEADER.replace("\n", "\r") + "A,赵,PR,1,2026-11-01\r").encode() + b"B,\xff,PR,1,2026-11-01\r"
    raw = read_file_bytes("purchases", "p.csv", data + "C,钱,PR,1,2026-11-01\r".encode())
    assert raw.rejected_reason is None and raw.encoding == "utf-8-mixed"
    assert raw.rows["_line"].to_list() == [2, 4]
    assert [(p.line, p.reason) for p in raw.problems] == [(3, "bad_encoding")]


def test_a_utf8_file_cut_in_the_middle_of_a_character_stays_utf8():
    data = (HEADER + "A,P1,PR,1,2026-11-01\nB,赵").encode()[:-1]
    raw = read_file_bytes("purchases", "p.csv", data)
    assert raw.encoding == "utf-8-mixed"
    assert raw.rows["_line"].to_list() == [2]
    assert [(p.line, p.reason) for p in raw.problems] == [(3, "bad_encoding")]


def test_a_quoted_field_over_the_csv_module_limit_is_read_whole():
    big = "x" * 200_000
    raw = read_file_bytes("purchases", "p.csv", (HEADER + f'A,"{big}",PR,1,2026-11-01\n').encode())
    assert raw.problems == [] and raw.rows["patient_id"].to_list() == [big]


def test_a_rejected_file_names_the_physical_line_of_each_data_row():
    raw = read_file_bytes("purchases", "p.csv", b'purchase_id,"patient_id\nA,P1\n\n\nB,P2\n')
    assert raw.rejected_reason == "bad_header"
    assert raw.rejected_lines == [(2, "A,P1"), (5, "B,P2")] and raw.rows_read == 2
