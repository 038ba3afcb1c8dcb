"""Rendering: autoescape for every HTML template, safe headers, the Chinese content of each email kind."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import re
from email import policy
from email.message import EmailMessage

import polars as pl
import pytest

from reports.attachments import parse_csv
from reports.ops import ops_views
from reports.render import environment, one_line, render_email, render_many, subject_for
from reports.views import (
    GradeChange,
    IsolationError,
    ManagerView,
    NurseLoad,
    OfficeStaffing,
    RankingEntry,
    VisitTarget,
    rows_from_frame,
    split_by_recipient,
)
from tests.reports.factories import (
    MONDAY,
    RUN_DATE,
    attainment,
    call,
    callback_view,
    expiry,
    home_visit_view,
    recipient,
    rep_view,
    target,
    village,
)


def parse(message: bytes) -> tuple[EmailMessage, str, str, dict[str, bytes]]:
    """The message, its HTML and text bodies, and its attachments by file name."""
    msg = email.message_from_bytes(message, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    html = msg.get_body(preferencelist=("html",)).get_content()
    text = msg.get_body(preferencelist=("plain",)).get_content()
    files = {part.get_filename(): part.get_payload(decode=True) for part in msg.iter_attachments()}
    return msg, html, text, files


# --- autoescape ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["card.html", "card.html.j2", "card.tmpl", "card", "card.htm", "card.jinja"])
def test_every_html_template_escapes_whatever_its_file_name(tmp_path, name):
    (tmp_path / name).write_text("<p>{{ value }}</p>", encoding="utf-8")
    env = environment(str(tmp_path))
    assert env.get_template(name).render(value="<script>alert(1)</script>") == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )


def test_templates_from_strings_escape_and_only_plain_text_alternatives_do_not(tmp_path):
    (tmp_path / "card.txt").write_text("{{ value }}", encoding="utf-8")
    (tmp_path / "card.txt.j2").write_text("{{ value }}", encoding="utf-8")
    env = environment(str(tmp_path))
    assert env.from_string("{{ value }}").render(value="<b>") == "&lt;b&gt;"
    assert env.get_template("card.txt").render(value="<b>") == "<b>"
    assert env.get_template("card.txt.j2").render(value="<b>") == "<b>"


def test_a_customer_named_script_renders_escaped():
    view = rep_view([target("C1", "<script>alert(1)</script>", "市一医院<img src=x onerror=alert(2)>", "心内科")])
    _, html, text, _ = parse(render_email(view).message)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html
    assert "<script" not in html and "<img" not in html
    assert "<script>alert(1)</script>" in text  # plain text shows it as text, harmlessly


# --- headers -------------------------------------------------------------------------------------


def test_a_newline_in_a_name_cannot_inject_a_header():
    view = rep_view([], staff_id="S001")
    view = type(view)(
        run_date=view.run_date,
        recipient=recipient("S001", "张伟\r\nBcc: thief@example.com\nX-Evil: 1"),
        targets=[],
    )
    rendered = render_email(view, mail_from="客情\r\nCc: thief@example.com <keqing@corp.example>")
    msg, _, _, _ = parse(rendered.message)
    assert msg.get_all("Bcc") is None and msg.get_all("Cc") is None and msg.get_all("X-Evil") is None
    assert len(msg.get_all("To")) == 1 and len(msg.get_all("From")) == 1
    assert msg["To"].addresses[0].addr_spec == "s001@example.com"
    assert msg["To"].addresses[0].display_name == "张伟 Bcc: thief@example.com X-Evil: 1"
    assert not re.search(rb"^(Bcc|Cc|X-Evil):", rendered.message, re.MULTILINE | re.IGNORECASE)


def test_an_address_with_a_newline_is_refused_not_sent():
    view = rep_view([])
    bad = type(view)(run_date=view.run_date, recipient=recipient("S001", "张伟", "a@example.com\r\nBcc: b@x.com"))
    with pytest.raises(ValueError):
        render_email(bad)


def _sent_to(name: str) -> tuple[EmailMessage, bytes]:
    view = rep_view([], staff_id="S001")
    view = type(view)(run_date=view.run_date, recipient=recipient("S001", name), targets=[])
    rendered = render_email(view, mail_from="客情 <keqing@corp.example>")
    return email.message_from_bytes(rendered.message, policy=policy.default), rendered.message.split(b"\r\n\r\n")[0]


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Zhang Wei", b"To: Zhang Wei <s001@example.com>"),
        ('Wei, "Boss" <x@y>', b'To: "Wei, \\"Boss\\" <x@y>" <s001@example.com>'),
        ("张伟, 经理", b"To: =?utf-8?b?5byg5LyfLCDnu4/nkIY=?= <s001@example.com>"),
        ("=?utf-8?q?a?=", b"To: =?utf-8?b?PT91dGYtOD9xP2E/PQ==?= <s001@example.com>"),  # shown as typed
    ],
)
def test_names_in_headers_are_plain_quoted_or_encoded_words_and_read_back_exactly(name, written):
    msg, head = _sent_to(name)
    assert written in head.split(b"\r\n")
    assert (msg["To"].addresses[0].display_name, msg["To"].addresses[0].addr_spec) == (name, "s001@example.com")
    assert msg["From"].addresses[0].display_name == "客情"
    assert msg["Subject"] == "[客情] 2026-11-24 今日拜访 0 位客户"


def test_a_long_name_is_split_into_encoded_words_between_characters_on_short_lines():
    from email.header import decode_header, make_header

    name = "欧阳娜娜" * 12 + "😀"  # 148 bytes of UTF-8, the last character four of them
    _, head = _sent_to(name)
    ours = head.split(b"\r\nDate: ")[0].split(b"\r\n")  # Subject, From and To come first
    assert max(len(line) for line in ours) <= 78
    to = head.split(b"\r\nTo: ")[1].split(b" <s001@example.com>")[0].decode("ascii")
    assert len(to.split("\r\n ")) == 4  # 39 bytes a word at most: 13 characters of three bytes
    assert str(make_header(decode_header(to))) == name  # RFC 2047: no space between adjacent words


def test_one_line_turns_every_control_character_into_one_space():
    assert one_line(" 张\r\n伟\t\x00王\u2028李 ") == "张 伟 王 李"


def test_message_is_seven_bit_crlf_mime_with_text_then_html_and_the_attachment():
    rendered = render_email(rep_view([target("C1", "赵医生", "市一医院", "心内科")]))
    assert rendered.message.isascii()
    assert b"\r\n" in rendered.message and b"\n" not in rendered.message.replace(b"\r\n", b"")
    msg = email.message_from_bytes(rendered.message, policy=policy.default)
    assert [p.get_content_type() for p in msg.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/csv",
    ]
    assert msg["Subject"] == rendered.subject == "[客情] 2026-11-24 今日拜访 1 位客户"
    assert msg["Message-ID"] == rendered.message_id
    assert (msg["X-Keqing-Run-Date"], msg["X-Keqing-Kind"], msg["Auto-Submitted"]) == (
        "2026-11-24",
        "rep",
        "auto-generated",
    )
    assert "style=" in msg.get_body(preferencelist=("html",)).get_content()  # CSS inlined
    assert "<style" not in msg.get_body(preferencelist=("html",)).get_content()


# --- content per kind ----------------------------------------------------------------------------


def test_rep_email_groups_targets_and_shows_grade_strategy_reason_and_attainment():
    view = rep_view(
        [
            target("C1", "赵医生", "市一医院", "心内科", grade="B", nine_box="A3", reason="appointment"),
            target("C2", "钱主任", "县医院", "药剂科", grade="N", reason="frequency", visits_this_month=1, standard=2),
            target("C3", "孙医生", "市一医院", "内分泌科", grade="A", reason="coverage"),
        ],
        attainment=[attainment("A", 0.95, 0.9), attainment("C", 0.5, 0.6)],
        calls_per_field_day=10.5,
        daily_plan=12,
        field_days_elapsed=15,
    )
    rendered = render_email(view)
    _, html, text, files = parse(rendered.message)
    assert rendered.subject == "[客情] 2026-11-24 今日拜访 3 位客户"
    for body in (html, text):
        assert "数据截至 2026-11-23" in body
        assert body.index("市一医院") < body.index("心内科") < body.index("赵医生") < body.index("内分泌科")
        assert body.index("内分泌科") < body.index("孙医生") < body.index("县医院") < body.index("钱主任")
        assert "预约拜访" in body and "拜访频率" in body and "覆盖率" in body
        assert "进攻" in body and "防御" in body and "关系维护" in body
        assert "日均拜访" in body and "10.5" in body and "已过 15 个工作日" in body
    assert "A3" in html and "95%" in html and "90%" in html and "50%" in html and "60%" in html
    assert list(files) == ["visits_2026-11-24.csv"]


def test_callback_email_full_phone_contact_instead_of_diagnosis_and_the_evening_line():
    view = callback_view(
        [
            call("P1", "赵敏", "13812345678", informed=True, disease="高血压", reason="overdue", days_overdue=2),
            call(
                "P2",
                "钱多多",
                "13912345678",
                informed=False,
                disease="肺癌",
                contact_name="钱小二",
                contact_relation="儿子",
                reason="expiring",
            ),
        ],
        expiry_month=dt.date(2026, 11, 1),
        expiry_list=[
            expiry("P1", "赵敏", 28, True),
            expiry("P3", "孙丽", 5),
            expiry("P4", "周强", 12),
            expiry("P5", "吴刚", 30),
            expiry("P6", "郑洁", 24),
        ],
        must_keep=3,
        target=4,
    )
    rendered = render_email(view)
    _, html, text, files = parse(rendered.message)
    assert rendered.subject == "[客情] 2026-11-24 今日回访 2 个电话"
    assert 'href="tel:13812345678"' in html and 'href="tel:13912345678"' in html
    for body in (html, text):
        assert "数据截至 2026-11-23" in body
        assert "建议晚上" in body and "18:00" in body
        assert "13812345678" in body and "13912345678" in body  # her own patients: in full
        assert "请联系 钱小二（儿子）" in body and "患者不知情" in body
        assert "肺癌" not in body
        assert "病种：高血压" in body
        assert "逾期未回访" in body and "逾期 2 天" in body and "即将到期" in body
        assert "2026年11月到期名单" in body
        # the body lists who runs out within 7 days (24th..1st) and has not bought again, by date;
        # already expired (孙丽, 周强) and repurchased (赵敏's entry) are only in the CSV
        assert "7 天内到期、还未复购" in body
        assert body.index("郑洁") < body.index("吴刚")
        assert "孙丽" not in body and "周强" not in body
        assert "完整的到期名单（5 人）在附件 expiry_2026-11.csv 中" in body
    assert "必保量" in html and "目标量" in html and "留存率" in html and "20%" in html
    assert "到期 5 人 · 必保量 3 · 目标量 4 · 已复购 1 · 留存率 20%" in text
    assert sorted(files) == ["callbacks_2026-11-24.csv", "expiry_2026-11.csv"]
    assert "肺癌".encode() not in b"".join(files.values())


def test_home_visit_email_lists_villages_and_patients_with_masked_phones():
    view = home_visit_view(
        [
            village("横畈村", [("P1", "孙丽", "13712345678"), ("P2", "周强", "13612349999")]),
            village("民主村", [("P3", "吴芳", "13512340000")], township="昌化镇", event_id="E02"),
        ]
    )
    rendered = render_email(view)
    _, html, text, _ = parse(rendered.message)
    assert rendered.subject == "[客情] 2026-11-24 今日家访 2 个村 3 位患者"
    for body in (html, text):
        assert "横畈村" in body and "民主村" in body and "昌化镇" in body and "E02" in body
        assert "137****5678" in body and "136****9999" in body and "135****0000" in body
        assert "13712345678" not in body
        assert "多数患者购买 7 盒" in body


def _manager(run_date: dt.date) -> ManagerView:
    return ManagerView(
        run_date=run_date,
        recipient=recipient("S009", "王强"),
        team_staff_ids=frozenset({"S001", "S002"}),
        team_attainment=[attainment("A", 0.95, 0.9), attainment("B", 0.7, 0.9)],
        movements=[
            GradeChange(
                customer_id="C1",
                customer_name="赵医生",
                institution="市一医院",
                owner_staff_id="S001",
                owner_name="张伟",
                from_grade="C",
                to_grade="A",
                changed_on=dt.date(2026, 11, 20),
            )
        ],
        ranking=[
            RankingEntry(rank=1, staff_id="S002", staff_name="李娜", role="callback", completed=190, planned=200),
            RankingEntry(rank=2, staff_id="S001", staff_name="张伟", role="rep", completed=48, planned=60),
        ],
        ranking_week=(dt.date(2026, 11, 16), dt.date(2026, 11, 22)),
    )


def test_manager_email_has_attainment_movements_an_html_chart_and_the_monday_ranking():
    rendered = render_email(_manager(MONDAY))
    msg, html, text, files = parse(rendered.message)
    assert rendered.subject == "[客情] 2026-11-23 团队日报与每周排行榜"
    assert [p.get_content_type() for p in msg.walk()][:4] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert "各级别覆盖率与标准" in html and "<img" not in html  # the chart is HTML, no image part
    assert "A 级" in html and "C 级" in html  # grades by their Chinese label, movements too
    for body in (html, text):
        assert "团队本月达成" in body and "级别变动" in body and "赵医生" in body and "张伟" in body
        assert "每周排行榜" in body and "2026-11-16 至 2026-11-22" in body
        assert body.index("李娜") < body.index("张伟", body.rindex("每周排行榜"))
        assert "95%" in body
    assert sorted(files) == ["gradechanges_2026-11.csv", "ranking_2026-11-23.csv"]
    ranking = parse_csv(files["ranking_2026-11-23.csv"])
    assert ranking.select("rank", "staff_id", "completed", "planned").rows() == [
        ("1", "S002", "190", "200"),
        ("2", "S001", "48", "60"),
    ]
    changes = parse_csv(files["gradechanges_2026-11.csv"])
    assert changes.select("customer_id", "from_grade", "to_grade", "from_grade_zh", "to_grade_zh").rows() == [
        ("C1", "C", "A", "C 级", "A 级")
    ]


def test_a_large_teams_ranking_shows_the_top_10_and_last_5_and_the_rest_is_in_the_csv():
    people = [f"S{i:03d}" for i in range(1, 31)]
    view = dataclasses.replace(
        _manager(MONDAY),
        team_staff_ids=frozenset(people),
        movements=[],
        ranking=[
            RankingEntry(rank=i, staff_id=s, staff_name=f"员工{i:02d}", role="rep", completed=60 - i, planned=60)
            for i, s in enumerate(people, start=1)
        ],
    )
    first, left_out, last = view.ranking_in_body()
    assert ([r.rank for r in first], left_out, [r.rank for r in last]) == (list(range(1, 11)), 15, [26, 27, 28, 29, 30])
    _, html, text, files = parse(render_email(view).message)
    for body in (html, text):
        assert "员工10" in body and "员工11" not in body and "员工25" not in body and "员工26" in body
        assert "中间 15 人见附件 ranking_2026-11-23.csv" in body
    assert parse_csv(files["ranking_2026-11-23.csv"]).height == 30
    assert sorted(files) == ["ranking_2026-11-23.csv"]  # no movements, no movements file


def test_more_than_50_grade_movements_show_the_first_50_and_the_count_of_the_rest():
    base = _manager(RUN_DATE)
    moves = [
        dataclasses.replace(base.movements[0], customer_id=f"C{i:03d}", customer_name=f"医生{i:03d}") for i in range(53)
    ]
    view = dataclasses.replace(base, movements=moves)
    _, html, text, files = parse(render_email(view).message)
    for body in (html, text):
        assert "医生049" in body and "医生050" not in body
        assert "另有 3 条级别变动未列出，全部 53 条见附件 gradechanges_2026-11.csv" in body
    assert parse_csv(files["gradechanges_2026-11.csv"]).height == 53


def test_manager_email_on_a_tuesday_has_no_ranking():
    rendered = render_email(_manager(RUN_DATE))
    _, html, text, _ = parse(rendered.message)
    assert rendered.subject == "[客情] 2026-11-24 团队日报"
    assert "每周排行榜" not in html and "每周排行榜" not in text


def test_ops_email_shows_files_rows_quarantine_reasons_and_emails():
    from keqing.rules import Rules

    summary = {
        "ingest": {
            "files_new": 3,
            "files_already_ingested": 10,
            "files_same_bytes": [],
            "files_ignored": ["notes.docx"],
            "rows_read": 1000,
            "rows_loaded": 930,
            "rows_quarantined": 70,
            "rows_duplicate": 0,
            "quarantined_by_reason": {"bad_phone": 50, "unknown_reference": 20},
            "feeds": {
                "visits": {
                    "files": 2,
                    "rows_read": 1000,
                    "loaded": 930,
                    "quarantined": 70,
                    "duplicates": 0,
                    "waiting": 20,
                }
            },
            "files": [],
        },
        "render": {"emails": 12},
        "deliver": {"sent": 10, "failed": 1, "unknown": 1},
    }
    problems = [{"staff_id": "S005", "kind": "rep", "status": "failed", "last_error": "550 5.1.1 no such user"}]
    (view,) = ops_views(summary, Rules(), RUN_DATE, [recipient("S900", "运营")], problems, {"S005": "陈磊"})
    rendered = render_email(view)
    _, html, text, _ = parse(rendered.message)
    assert rendered.subject == "[客情] 2026-11-24 夜间运行成功，3 条告警"
    for body in (html, text):
        assert "数据截至 2026-11-23" in body
        assert (
            "不是有效的手机号（1[3-9] 开头共 11 位）或固定电话（0AA(A)-NNNNNNN(N)）（bad_phone）" in body
            and "unknown_reference" in body
            and "notes.docx" in body
        )
        assert "visits" in body and "7.0% 的数据行被隔离" in body
        assert "1 封邮件被服务器拒收" in body and "1 封邮件状态不明" in body
        assert "S005" in body and "陈磊" in body and "550 5.1.1 no such user" in body
    assert ">930<" in html and ">12<" in html


def test_subject_always_starts_with_the_tag_and_the_run_date():
    views = [rep_view([]), callback_view([]), home_visit_view([]), _manager(RUN_DATE)]
    assert all(subject_for(v).startswith("[客情] 2026-11-24 ") for v in views)


# --- isolation -----------------------------------------------------------------------------------


def test_no_other_staff_members_customer_or_patient_can_appear():
    customers = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "customer_name": ["赵一医生", "钱二主任", "孙三药师"],
            "institution": ["市一医院", "县医院", "市一医院"],
            "department": ["心内科", "药剂科", "药剂科"],
            "grade": ["A", "B", "C"],
            "reason": ["frequency", "coverage", "appointment"],
            "owner_staff_id": ["S001", "S002", "S001"],
        }
    )
    patients = pl.DataFrame(
        {
            "patient_id": ["P1", "P2"],
            "patient_name": ["周四", "吴五"],
            "phone": ["13811110001", "13822220002"],
            "assigned_staff_id": ["S011", "S012"],
            "reason": ["cadence", "lapsed"],
        }
    )
    by_rep = split_by_recipient(customers, "owner_staff_id")
    rep_views = [rep_view(rows_from_frame(part, VisitTarget), staff_id=staff) for staff, part in by_rep.items()]
    by_nurse = split_by_recipient(patients, "assigned_staff_id")
    nurse_views = [
        callback_view(
            [
                call(
                    r["patient_id"],
                    r["patient_name"],
                    r["phone"],
                    **{"assigned_staff_id": staff, "reason": r["reason"]},
                )
                for r in part.iter_rows(named=True)
            ],
            staff_id=staff,
        )
        for staff, part in by_nurse.items()
    ]
    # What identifies each staff member's customers and patients (ids, names, phones, masked phones).
    owned = {
        "S001": {"C1", "赵一医生", "C3", "孙三药师"},
        "S002": {"C2", "钱二主任"},
        "S011": {"P1", "周四", "13811110001"},
        "S012": {"P2", "吴五", "13822220002"},
    }
    masked = {"S011": "138****0001", "S012": "138****0002"}
    emails = render_many(rep_views + nurse_views, processes=1)
    assert sorted(r.staff_id for r in emails) == ["S001", "S002", "S011", "S012"]
    for rendered in emails:
        _, html, text, files = parse(rendered.message)
        content = html + text + "".join(f.decode("utf-8-sig") for f in files.values())
        assert all(m in content for m in owned[rendered.staff_id]), rendered.staff_id
        for other in owned:
            if other != rendered.staff_id:
                leaked = {m for m in owned[other] | {masked.get(other, "")} if m and m in content}
                assert not leaked, (rendered.staff_id, other, leaked)


def test_a_view_holding_another_staff_members_row_is_not_rendered():
    view = rep_view([target("C1", "赵医生", "市一医院", None, owner_staff_id="S002")], staff_id="S001")
    with pytest.raises(IsolationError):
        render_email(view)


@pytest.mark.slow
def test_render_many_in_worker_processes_keeps_the_order_and_the_content(monkeypatch):
    import reports.render

    monkeypatch.setattr(reports.render, "PARALLEL_MIN_VIEWS", 2)
    views = [
        rep_view([target(f"C{i}", f"客户{i}", "市一医院", None, owner_staff_id=f"S{i:03d}")], staff_id=f"S{i:03d}")
        for i in range(1, 8)
    ]
    rendered = render_many(views, processes=2)
    assert [r.staff_id for r in rendered] == ["S001", "S002", "S003", "S004", "S005", "S006", "S007"]
    for i, r in enumerate(rendered, start=1):
        _, html, _, files = parse(r.message)
        assert f"客户{i}" in html and f"C{i}".encode() in files["visits_2026-11-24.csv"]


def test_phones_on_the_nurses_list_are_tel_links_with_digits_only():
    from reports.render import tel_uri

    assert tel_uri("138-1234 5678") == "13812345678"
    assert tel_uri("+86 138 1234 5678") == "+8613812345678"
    assert tel_uri("0571-8888+1234") == "057188881234"
    _, html, _, _ = parse(render_email(callback_view([call("P1", "赵敏", "138 1234 5678")])).message)
    assert 'href="tel:13812345678"' in html


def test_the_callback_body_lists_at_most_20_of_the_soon_expiring_and_points_to_the_csv():
    soon = [expiry(f"P{i:02d}", f"患者{i:02d}", 24 + i % 7) for i in range(25)]
    view = callback_view([], expiry_month=dt.date(2026, 11, 1), expiry_list=soon, must_keep=15, target=20)
    _, html, text, files = parse(render_email(view).message)
    for body in (html, text):
        assert "25 人" in body and "最早的 20 人" in body
        assert sum(body.count(f"患者{i:02d}") for i in range(25)) == 20
    assert files["expiry_2026-11.csv"].decode("utf-8-sig").count("患者") == 25  # the whole list


def test_a_night_where_every_email_failed_still_gives_a_short_ops_email():
    from keqing.rules import Rules
    from reports import samples

    summary = samples.ops_summary(RUN_DATE)
    summary["ingest"]["files_ignored"] = [f"notes_{i}.docx" for i in range(300)]
    problems = [
        {"staff_id": f"S{i:04d}", "kind": "rep", "status": "failed", "last_error": "550 5.1.1 mailbox unavailable"}
        for i in range(2000)
    ]
    (view,) = ops_views(summary, Rules(), RUN_DATE, [recipient("S900", "运营")], problems, {})
    _, html, text, _ = parse(render_email(view).message)
    for body in (html, text):
        assert "S0019" in body and "S0020" not in body  # the first 20 problems
        assert "另有 1980 封未列出" in body
        assert "notes_19.docx" in body and "notes_20.docx" not in body and "等 300 个" in body
    assert len(html.encode()) < 30_000


# --- loyalty reasons on the visit plan, the nurse's load --------------------------------------------


def test_rep_email_and_csv_show_the_reason_and_the_other_reasons_in_chinese():
    view = rep_view(
        [
            target("T1", "康宁药店", "康宁药店", None, grade="VIP", reason="reorder", other_reasons="vip_contact"),
            target("T2", "村卫生室", "村卫生室", None, grade="T", reason="reward", other_reasons="coverage"),
            target("C1", "赵医生", "市一医院", "心内科", reason="frequency"),
        ]
    )
    _, html, text, files = parse(render_email(view).message)
    assert html.index("康宁药店") < html.index("订货提醒") < html.index("另：VIP 联系") < html.index("村卫生室")
    assert html.index("积分奖励") < html.index("另：覆盖率")
    assert "订货提醒（另：VIP 联系）" in text and "积分奖励（另：覆盖率）" in text
    assert "拜访频率 ·" in text and "拜访频率（另" not in text
    csv = pl.read_csv(files["visits_2026-11-24.csv"], infer_schema=False)
    assert csv.columns[:6] == ["customer_id", "customer_name", "grade", "institution", "department", "reason"]
    assert csv.select("customer_id", "reason", "reason_zh", "other_reasons", "other_reasons_zh").rows() == [
        ("T1", "reorder", "订货提醒", "vip_contact", "VIP 联系"),
        ("T2", "reward", "积分奖励", "coverage", "覆盖率"),
        ("C1", "frequency", "拜访频率", None, None),
    ]


def test_a_nurse_over_capacity_reads_how_many_wait_and_since_when():
    calls = [call(f"P{i}", "赵敏", "13812345678", reason="overdue") for i in range(1, 3)]
    over = callback_view(calls, due_calls=60, capacity=40, waiting=20, waiting_since=dt.date(2026, 11, 10))
    _, html, text, _ = parse(render_email(over).message)
    line = "今日应回访 60 个，超出每人每天 40 个的能力：20 个顺延，最早的自 2026-11-10 起等待。"
    assert line in text
    assert line.replace("60", "<b>60</b>").replace("20 个", "<b>20</b> 个") in html
    within = callback_view(calls, due_calls=2, capacity=40)
    _, html, text, _ = parse(render_email(within).message)
    assert "顺延" not in html and "顺延" not in text


def test_manager_email_shows_each_nurse_against_forty_and_the_staff_each_office_needs():
    view = ManagerView(
        run_date=RUN_DATE,
        recipient=recipient("S009", "王强"),
        team_staff_ids=frozenset({"S002", "S003"}),
        callback_load=[
            NurseLoad(
                staff_id="S002",
                staff_name="李娜",
                due=60,
                capacity=40,
                waiting=20,
                waiting_since=dt.date(2026, 11, 10),
                backlog_days=1,
            ),
            NurseLoad(
                staff_id="S003", staff_name="周芳", due=25, capacity=40, waiting=0, waiting_since=None, backlog_days=0
            ),
        ],
        staffing=[OfficeStaffing(office_code="OF1", due=85, nurses=2, needed=3)],
    )
    _, html, text, _ = parse(render_email(view).message)
    for body in (html, text):
        assert "回访负荷" in body and "每人每天 40 个" in body
        assert "20 个顺延，积压 1 天（最早自 2026-11-10）" in body
        assert "周芳：今日应回访 " in body
        assert "OF1：按当前负荷需回访员 " in body and "现有 2 人（今日应回访 85 个）" in body
    assert "李娜：今日应回访 60 个，20 个顺延" in text
    assert "OF1：按当前负荷需回访员 3 人" in text


def test_views_are_rendered_in_this_process_below_four_cpus_and_by_one_worker_per_cpu_from_four():
    from reports.render import default_processes

    assert [default_processes(n) for n in (None, 1, 2, 3, 4, 6, 16)] == [1, 1, 1, 1, 4, 6, 8]
