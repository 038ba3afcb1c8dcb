"""View models: grouping by institution and department, isolation, the frame helpers, derived numbers."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from reports.views import (
    CallbackCall,
    GradeChange,
    IsolationError,
    ManagerView,
    RankingEntry,
    VisitTarget,
    check_isolation,
    filter_to_recipient,
    rows_from_frame,
    split_by_recipient,
)
from tests.reports.factories import (
    MONDAY,
    RUN_DATE,
    call,
    callback_view,
    expiry,
    home_visit_view,
    recipient,
    rep_view,
    target,
    village,
)


def test_every_view_carries_run_date_data_as_of_and_recipient():
    view = rep_view([])
    assert view.run_date == dt.date(2026, 11, 24)
    assert view.data_as_of == dt.date(2026, 11, 23)
    assert (view.recipient.staff_id, view.recipient.name, view.recipient.email) == ("S001", "张伟", "s001@example.com")
    assert view.kind == "rep"


def test_targets_are_grouped_by_institution_then_department_in_first_appearance_order():
    view = rep_view(
        [
            target("C1", "赵医生", "市一医院", "心内科"),
            target("C2", "钱主任", "县医院", "药剂科"),
            target("C3", "孙医生", "市一医院", "内分泌科"),
            target("C4", "李医生", "市一医院", "心内科"),
            target("C5", "周老板", "康宁药店", None, grade="VIP", reason="vip_contact"),
        ]
    )
    grouped = [
        (g.institution, g.count, [(d.department, [t.customer_id for t in d.targets]) for d in g.departments])
        for g in view.groups()
    ]
    assert grouped == [
        ("市一医院", 3, [("心内科", ["C1", "C4"]), ("内分泌科", ["C3"])]),
        ("县医院", 1, [("药剂科", ["C2"])]),
        ("康宁药店", 1, [("", ["C5"])]),
    ]


def test_strategy_defaults_to_the_grades_and_an_explicit_one_wins():
    assert [target("C", "n", "i", None, grade=g).strategy_label for g in ("A", "B", "C", "D", "VIP")] == [
        "防御",
        "进攻",
        "维持",
        "观察",
        "重点维护",
    ]
    assert target("C", "n", "i", None, grade="B", strategy="会议邀请").strategy_label == "会议邀请"


def test_disease_is_dropped_unless_the_patient_is_informed():
    informed = call("P1", "赵敏", "13812345678", informed=True, disease="高血压")
    not_informed = call("P2", "钱多", "13912345678", informed=False, disease="肺癌", contact_name="钱小二")
    unknown = call("P3", "孙丽", "13712345678", informed=None, disease="肝癌")
    assert (informed.disease, not_informed.disease, unknown.disease) == ("高血压", None, None)
    assert (informed.call_contact, not_informed.call_contact, unknown.call_contact) == (False, True, False)


def test_expiry_list_repurchased_and_retention():
    view = callback_view(
        [],
        expiry_month=dt.date(2026, 11, 1),
        expiry_list=[
            expiry("P1", "a", 3, True),
            expiry("P2", "b", 9),
            expiry("P3", "c", 20, True),
            expiry("P4", "d", 28),
        ],
        must_keep=3,
        target=4,
    )
    assert (view.repurchased, view.retention) == (2, 0.5)
    assert callback_view([]).retention is None


def test_ranking_shows_on_mondays_only():
    row = RankingEntry(rank=1, staff_id="S001", staff_name="张伟", role="rep", completed=50, planned=60)
    assert row.attainment == pytest.approx(50 / 60)
    monday = ManagerView(
        run_date=MONDAY, recipient=recipient("S009"), team_staff_ids=frozenset({"S001"}), ranking=[row]
    )
    tuesday = ManagerView(
        run_date=RUN_DATE, recipient=recipient("S009"), team_staff_ids=frozenset({"S001"}), ranking=[row]
    )
    empty_monday = ManagerView(run_date=MONDAY, recipient=recipient("S009"))
    assert (monday.shows_ranking, tuesday.shows_ranking, empty_monday.shows_ranking) == (True, False, False)


def test_isolation_refuses_a_row_of_another_staff_member_in_every_kind():
    check_isolation(rep_view([target("C1", "a", "i", None, owner_staff_id="S001")]))
    with pytest.raises(IsolationError, match="S007"):
        check_isolation(rep_view([target("C1", "a", "i", None, owner_staff_id="S007")]))
    with pytest.raises(IsolationError, match="S001"):
        check_isolation(callback_view([call("P1", "a", "13812345678", assigned_staff_id="S001")]))
    with pytest.raises(IsolationError, match="S004"):
        check_isolation(callback_view([], expiry_list=[expiry("P1", "a", 3, staff_id="S004")]))
    with pytest.raises(IsolationError, match="S009"):
        check_isolation(home_visit_view([village("横畈村", [("P1", "a", "13812345678")], staff_id="S009")]))
    movement = GradeChange(
        customer_id="C1",
        customer_name="a",
        institution="i",
        owner_staff_id="S005",
        owner_name="x",
        from_grade="A",
        to_grade="B",
        changed_on=RUN_DATE,
    )
    manager = ManagerView(run_date=RUN_DATE, recipient=recipient("S009"), team_staff_ids=frozenset({"S001"}))
    check_isolation(manager)
    with pytest.raises(IsolationError, match="S005"):
        check_isolation(
            ManagerView(
                run_date=RUN_DATE, recipient=recipient("S009"), team_staff_ids=frozenset({"S001"}), movements=[movement]
            )
        )


CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3", "C4"],
        "customer_name": ["赵医生", "钱主任", "孙医生", "李医生"],
        "owner_staff_id": ["S001", "S002", "S001", None],
    }
)


def test_filter_to_recipient_keeps_only_their_rows():
    assert filter_to_recipient(CUSTOMERS, "S001", "owner_staff_id")["customer_id"].to_list() == ["C1", "C3"]
    assert filter_to_recipient(CUSTOMERS, "S003", "owner_staff_id").height == 0


def test_split_by_recipient_gives_each_owner_their_rows_and_drops_unowned_ones():
    parts = split_by_recipient(CUSTOMERS, "owner_staff_id")
    assert {k: v["customer_id"].to_list() for k, v in parts.items()} == {"S001": ["C1", "C3"], "S002": ["C2"]}
    assert split_by_recipient(CUSTOMERS.clear(), "owner_staff_id") == {}


def test_rows_from_frame_builds_dataclasses_from_same_named_columns():
    frame = pl.DataFrame(
        {
            "customer_id": ["C1"],
            "customer_name": ["赵医生"],
            "institution": ["市一医院"],
            "department": [None],
            "grade": ["B"],
            "reason": ["coverage"],
            "extra_column": [1],
        }
    )
    rows = rows_from_frame(frame, VisitTarget, owner_staff_id="S001")
    assert rows == [
        VisitTarget(
            customer_id="C1",
            customer_name="赵医生",
            institution="市一医院",
            department=None,
            grade="B",
            reason="coverage",
            owner_staff_id="S001",
        )
    ]
    calls = rows_from_frame(
        pl.DataFrame({"patient_id": ["P1"], "patient_name": ["赵敏"], "phone": ["13812345678"], "reason": ["lapsed"]}),
        CallbackCall,
        assigned_staff_id="S002",
        product_code=None,
        product_name=None,
        due_date=RUN_DATE,
    )
    assert [(c.patient_id, c.reason, c.assigned_staff_id) for c in calls] == [("P1", "lapsed", "S002")]


def test_the_view_kinds_are_the_email_kinds_of_the_outbox():
    from typing import get_args

    from keqing.kinds import EMAIL_KINDS
    from reports.views import (
        AlertFailedView,
        AlertLateView,
        CallbackView,
        EmailKind,
        HomeVisitView,
        ManagerView,
        OpsView,
        RepView,
    )

    assert get_args(EmailKind) == EMAIL_KINDS
    views = (RepView, CallbackView, HomeVisitView, ManagerView, OpsView, AlertFailedView, AlertLateView)
    assert tuple(v.kind for v in views) == EMAIL_KINDS


# --- what the reader is told: grades, strategies, the expiry list's today part -------------------


def test_every_grade_has_a_chinese_label_a_meaning_and_a_strategy_with_a_hint():
    from reports.views import GRADES, STRATEGIES, STRATEGY_HINTS, grade_label

    assert list(GRADES) == ["A", "B", "C", "D", "U", "N", "VIP", "T"]
    assert set(STRATEGIES) == set(STRATEGY_HINTS) == set(GRADES)
    assert all(label and meaning for label, meaning in GRADES.values())
    assert [grade_label(g) for g in ("A", "U", "N", "VIP", "T", "X")] == [
        "A 级",
        "未分级",
        "非处方",
        "VIP 终端",
        "普通终端",
        "X",
    ]


def test_an_ungraded_doctor_has_a_strategy_not_an_empty_cell():
    assert target("C1", "赵医生", "市一医院", None, grade="U").strategy_label == "摸底"
    assert target("C2", "钱医生", "市一医院", None, grade="U", strategy="进攻").strategy_label == "进攻"


def test_the_grade_legend_lists_the_grades_present_in_the_emails_order():
    from reports.views import grade_legend

    legend = grade_legend(["T", "A", "U", "A", "X"])
    assert [(code, label, strategy) for code, label, _, strategy, _ in legend] == [
        ("A", "A 级", "防御"),
        ("U", "未分级", "摸底"),
        ("T", "普通终端", "定期联系"),
    ]


def test_expiring_soon_is_not_repurchased_and_within_the_window_from_run_date_inclusive():
    # run_date 2026-11-24, window 7 days: 24th..1 Dec
    view = callback_view(
        [],
        expiry_month=dt.date(2026, 11, 1),
        expiry_list=[
            expiry("P1", "过期", 23),  # the day before run_date: no longer "soon"
            expiry("P2", "今天", 24),
            expiry("P3", "已买", 25, True),  # repurchased
            expiry("P5", "月底", 30),
            expiry("P4", "同日", 30),
        ],
    )
    assert [e.patient_id for e in view.expiring_soon()] == ["P2", "P4", "P5"]  # by date, then id
    narrow = callback_view([], expiry_list=view.expiry_list, expiring_within_days=1)
    assert [e.patient_id for e in narrow.expiring_soon()] == ["P2"]
    edge = [dataclasses.replace(expiry("P7", "第七天", 1), expiry_date=dt.date(2026, 12, 1))]
    edge.append(dataclasses.replace(expiry("P8", "第八天", 1), expiry_date=dt.date(2026, 12, 2)))
    assert [e.patient_id for e in callback_view([], expiry_list=edge).expiring_soon()] == ["P7"]


def test_every_quarantine_reason_code_has_a_chinese_label_for_the_ops_email():
    from keqing.ingest.batch import REASON_TEXT, REASON_TEXT_ZH
    from reports.views import quarantine_reason_label

    assert set(REASON_TEXT_ZH) == set(REASON_TEXT)
    assert quarantine_reason_label("bad_date") == f"{REASON_TEXT_ZH['bad_date']}（bad_date）"
    assert REASON_TEXT_ZH["bad_date"].startswith("不是日期")
    assert quarantine_reason_label("something_new") == "something_new"  # a new code still shows
