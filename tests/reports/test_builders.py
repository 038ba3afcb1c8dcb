"""View builders (tasks/views.py, reports/assemble.py): a hand-seeded database -> one isolated view per recipient."""

from __future__ import annotations

import csv
import datetime as dt
import email
import io
from email import policy

import pytest
import sqlalchemy as sa

import tasks.render
import tasks.views
from edges.db import get_engine, read_frame
from keqing.generate import generate
from keqing.rules import Rules
from models.feeds import Consult, Customer, Patient, Product, Purchase, Staff, Visit
from models.grading import CustomerGrade, RepAttainment, VisitTarget
from models.loyalty import QuarterClose, QuarterReward, ReorderReminder
from models.supply import CallbackEntry, CallbackLoad, ExpiryEntry, ExpiryTarget, HomeVisitPatient, HomeVisitPlan
from reports import views as rv
from reports.render import render_bodies
from reports.views import CallbackCall, GradeAttainment, GradeChange, RankingEntry, RewardToDeliver, check_isolation
from tasks.views import callback_views, home_visit_views, manager_views, rep_views

D = dt.date(2026, 11, 23)  # a Monday: the ranking week is 16..22 November (5 working days)
DAY = dt.timedelta(days=1)
RULES = Rules()
LINEAGE = {"source_file_id": 1, "source_line": 1}


def staff(staff_id, name, role, manager_id=None, team=None, active=True):
    return dict(
        staff_id=staff_id,
        name=name,
        role=role,
        email=f"{staff_id.lower()}@example.com",
        office_code="OF001",
        manager_id=manager_id,
        team=team,
        active=active,
    )


STAFF = [
    staff("M1", "王经理", "manager"),
    staff("M2", "李主管", "manager", "M1"),
    staff("M3", "空经理", "manager"),  # no team: no email
    staff("R1", "张伟", "rep", "M2", "GEN"),
    staff("R2", "刘洋", "rep", "M2", "ONC"),
    staff("R3", "陈静", "rep", "M2", "GEN", active=False),  # inactive: no email, not in a team
    staff("R4", "周杰", "rep", "M1", "GEN"),  # no work today: no rep email
    staff("R9", "吴独", "rep"),  # nobody's report
    staff("N1", "李娜", "callback", "M1"),
    staff("N2", "王芳", "callback", "M1"),
    staff("H1", "孙丽", "home_visit", "M1"),
    staff("H2", "赵敏", "home_visit", "M1"),  # no village visit today
    staff("O1", "钱运营", "ops"),
]


def customer(cid, name, kind, inst, dept, owner):
    return dict(
        customer_id=cid,
        name=name,
        kind=kind,
        institution=inst,
        department=dept,
        owner_staff_id=owner,
        office_code="OF001",
    )


CUSTOMERS = [
    customer("C1", "赵一医生", "doctor", "市一医院", "心内科", "R1"),
    customer("C2", "钱二主任", "doctor", "市一医院", "内分泌科", "R1"),
    customer("C3", "孙三医生", "doctor", "县医院", "心内科", "R2"),
    customer("C4", "百姓药房", "terminal", "百姓大药房", None, "R1"),
    customer("C5", "仁心药店", "terminal", "仁心药店", None, "R2"),
    customer("C6", "李六医生", "doctor", "县医院", "骨科", "R3"),
    customer("C7", "周七医生", "doctor", "市二医院", "心内科", "R4"),
    customer("C8", "吴八医生", "doctor", "市二医院", "儿科", "R9"),
]


def patient(pid, name, phone, staff_id=None, disease=None, informed=True, contact=(None, None), home=None):
    return dict(
        patient_id=pid,
        name=name,
        phone=phone,
        disease=disease,
        office_code="OF001",
        callback_staff_id=staff_id,
        home_visit_staff_id=home,
        informed=informed,
        contact_name=contact[0],
        contact_relation=contact[1],
    )


PATIENTS = [
    patient("P1", "王阿姨", "13812345678", "N1", "高血压", True),
    patient("P2", "李大爷", "13900001111", "N1", "肺癌", False, ("李小明", "儿子")),
    patient("P3", "张奶奶", "13700002222", "N2", "糖尿病", None),
    patient("P4", "刘叔", "13600003333", "N2", "高血脂", True),
    patient("P5", "赵大妈", "13711112222", home="H1"),
    patient("P6", "钱大伯", "13722223333", home="H1"),
]


def target(staff_id, cid, rank, reason, grade, inst, dept, run_date=D, **kw):
    row = dict(
        run_date=run_date,
        staff_id=staff_id,
        customer_id=cid,
        rank=rank,
        priority=rank,
        reason=reason,
        channel="face",
        grade=grade,
        nine_box=kw.get("nine_box"),
        is_kol=False,
        strategy=kw.get("strategy"),
        visits_this_month=kw.get("visits", 0),
        standard=kw.get("standard", 1),
        last_visit_date=kw.get("last"),
        institution=inst,
        department=dept,
        office_code="OF001",
    )
    return row


def attainment(staff_id, grade, customers, required, credited, vm, vq, std_m, std_q, **kw):
    return dict(
        run_date=kw.get("run_date", D),
        staff_id=staff_id,
        grade=grade,
        office_code="OF001",
        team=None,
        month=dt.date(2026, 11, 1),
        customers=customers,
        visits_required=required,
        visits_done=credited,
        visits_credited=credited,
        attainment=credited / required if required else None,
        customers_visited_month=vm,
        monthly_coverage=vm / customers if customers else None,
        customers_visited_quarter=vq,
        quarterly_coverage=vq / customers if customers else None,
        standard_visits=None,
        standard_monthly_coverage=std_m,
        standard_quarterly_coverage=std_q,
        calls=kw.get("calls", 0),
        field_days_so_far=kw.get("field_days", 15),
        field_days_in_month=21,
        avg_calls_per_day=kw.get("avg"),
        daily_plan=kw.get("plan", 12),
    )


def grade_row(cid, valid_from, grade, valid_to=None, nine_box=None):
    return dict(
        customer_id=cid,
        valid_from=valid_from,
        valid_to=valid_to,
        grade=grade,
        nine_box=nine_box,
        is_kol=False,
        potential=None,
        support=None,
        rx_months=None,
    )


def visit(vid, staff_id, at, outcome="completed"):
    return dict(
        visit_id=vid,
        staff_id=staff_id,
        target_type="customer" if staff_id.startswith("R") else "patient",
        target_id="X",
        visit_at=at,
        channel="face",
        outcome=outcome,
        **LINEAGE,
    )


def calls(staff_id, pid, position, reason, due, run_date=D, **kw):
    return dict(
        run_date=run_date,
        staff_id=staff_id,
        office_code="OF001",
        patient_id=pid,
        consult_id=kw.get("consult_id"),
        product_code=kw.get("product", "PR01"),
        reason=reason,
        priority=1,
        position=position,
        due_date=due,
        expiry_date=kw.get("expiry"),
        low_adherence=kw.get("low"),
        not_informed=kw.get("not_informed"),
    )


def at(day: int, hour: int = 10, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second)


def seed(database_url: str) -> None:
    with get_engine(database_url).begin() as conn:

        def put(model, rows):
            conn.execute(sa.insert(model.__table__), rows)

        put(Staff, [s | LINEAGE for s in STAFF])
        put(Customer, [c | LINEAGE for c in CUSTOMERS])
        put(Patient, [p | LINEAGE for p in PATIENTS])
        put(
            Product,
            [dict(product_code="PR01", name="心脉通胶囊", units_per_box=30, daily_units=1, price_per_box=88) | LINEAGE],
        )
        put(
            Consult,
            [
                dict(
                    consult_id="K1",
                    received_at=at(20),
                    name="陈女士",
                    phone="13500004444",
                    disease="关节炎",
                    office_code="OF001",
                    staff_id="N1",
                )
                | LINEAGE
            ],
        )
        put(
            VisitTarget,
            [
                target("R1", "C1", 2, "frequency", "A", "市一医院", "心内科", strategy="防御", visits=2, standard=4),
                target(
                    "R1", "C2", 1, "appointment", "B", "市一医院", "内分泌科", nine_box="B2", last=dt.date(2026, 11, 9)
                ),
                target("R1", "C4", 3, "vip_contact", "V", "百姓大药房", None),
                target("R1", "C5", 4, "coverage", "T", "仁心药店", None),  # C5 is R2's now: dropped
                target("R2", "C3", 1, "coverage", "C", "县医院", "心内科", strategy="维持"),
                target("R3", "C6", 1, "frequency", "A", "县医院", "骨科"),  # inactive rep
                target("R1", "C3", 1, "frequency", "C", "县医院", "心内科", run_date=D - DAY),  # another date
            ],
        )
        put(
            RepAttainment,
            [
                attainment("R1", "B", 1, 4, 0, 0, 1, 0.9, 1.0),
                attainment("R1", "A", 1, 4, 2, 1, 1, 0.9, 1.0),
                attainment("R1", "ALL", 3, 8, 2, 1, 2, None, None, calls=30, avg=2.0),
                attainment("R2", "C", 1, 1, 1, 1, 1, 0.6, 0.8),
                attainment("R2", "ALL", 2, 1, 1, 1, 1, None, None, avg=1.5, plan=10),
                attainment("R4", "B", 3, 12, 6, 2, 3, 0.9, 1.0),
                attainment("R4", "D", 2, 0, 0, 1, 2, 0.2, 0.6),
                attainment("R4", "ALL", 5, 12, 6, 3, 5, None, None),
                attainment("R1", "C", 9, 9, 9, 9, 9, 0.6, 0.8, run_date=D - DAY),  # another date
            ],
        )
        put(
            ReorderReminder,
            [
                dict(
                    run_date=D,
                    customer_id="C5",
                    staff_id="R2",
                    usual_interval_days=31,
                    orders_counted=4,
                    last_order_date=dt.date(2026, 10, 1),
                    due_date=dt.date(2026, 11, 1),
                    days_overdue=22,
                ),
                dict(
                    run_date=D - DAY,
                    customer_id="C4",
                    staff_id="R1",
                    usual_interval_days=20,
                    orders_counted=3,
                    last_order_date=dt.date(2026, 10, 20),
                    due_date=dt.date(2026, 11, 9),
                    days_overdue=13,
                ),
            ],
        )
        put(
            QuarterClose,
            [
                dict(
                    quarter=q,
                    quarter_start=start,
                    quarter_end=end,
                    run_date=run,
                    terminals=2,
                    points=1,
                    rewards=1,
                )
                for q, start, end, run in [
                    ("2026Q2", dt.date(2026, 4, 1), dt.date(2026, 6, 30), dt.date(2026, 7, 1)),
                    ("2026Q3", dt.date(2026, 7, 1), dt.date(2026, 9, 30), D),
                ]
            ],
        )
        put(
            QuarterReward,
            [
                dict(
                    quarter="2026Q3",
                    customer_id="C4",
                    owner_staff_id="R1",
                    office_code="OF001",
                    points=620,
                    tier="bronze",
                ),
                dict(
                    quarter="2026Q3",
                    customer_id="C5",
                    owner_staff_id="R2",
                    office_code="OF001",
                    points=2100,
                    tier="silver",
                ),
                dict(
                    quarter="2026Q2",
                    customer_id="C4",
                    owner_staff_id="R1",
                    office_code="OF001",
                    points=900,
                    tier="bronze",
                ),
            ],
        )
        put(
            CallbackEntry,
            [
                calls("N1", "P2", 1, "overdue", D - 2 * DAY, expiry=D - 5 * DAY, low=True, not_informed=True),
                calls("N1", "P1", 2, "cadence", D, low=False),
                calls("N1", None, 3, "consult", D, consult_id="K1", product=None),
                calls("N2", "P3", 1, "expiring", D, expiry=D + 3 * DAY),
                calls(None, "P4", 1, "cadence", D),  # an office without callback staff
                calls("N1", "P4", 1, "cadence", D - DAY, run_date=D - DAY),  # another date
            ],
        )
        nov, dec = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
        put(
            ExpiryEntry,
            [
                dict(
                    month=nov,
                    patient_id=pid,
                    product_code="PR01",
                    run_date=D,
                    expiry_date=exp,
                    office_code="OF001",
                    callback_staff_id=sid,
                    repurchased=rep,
                )
                for pid, exp, sid, rep, m in [
                    ("P1", dt.date(2026, 11, 20), "N1", True, nov),
                    ("P2", dt.date(2026, 11, 18), "N1", False, nov),
                    ("P3", dt.date(2026, 11, 26), "N2", False, nov),
                ]
            ]
            + [
                dict(
                    month=dec,
                    patient_id="P4",
                    product_code="PR01",
                    run_date=D,
                    expiry_date=dt.date(2026, 12, 5),
                    office_code="OF001",
                    callback_staff_id="N2",
                    repurchased=False,
                )
            ],
        )
        put(
            ExpiryTarget,
            [
                dict(
                    run_date=D,
                    month=nov,
                    office_code="OF001",
                    scope=scope,
                    staff_id=sid,
                    size=size,
                    must_keep=mk,
                    target=tg,
                    repurchased=rp,
                    retention=rp / size,
                    must_keep_met=False,
                    target_met=False,
                )
                for scope, sid, size, mk, tg, rp in [
                    ("office", None, 3, 2, 3, 1),
                    ("staff", "N1", 2, 2, 2, 1),
                    ("staff", "N2", 1, 1, 1, 0),
                ]
            ],
        )
        put(
            HomeVisitPlan,
            [
                dict(
                    run_date=D,
                    plan_no=n,
                    staff_id=sid,
                    office_code="OF001",
                    event_id=ev,
                    township="青山镇",
                    village=vil,
                    event_date=dt.date(2026, 10, 20),
                    product_code="PR01",
                    boxes=3,
                    planned_date=day,
                    visit_date=day,
                    patients=k,
                )
                for n, sid, ev, vil, day, k in [
                    (1, "H1", "E1", "王家村", D, 2),
                    (2, "H2", "E2", "李家村", D + 2 * DAY, 1),
                    (3, "H1", "E3", "张家村", D + DAY, 1),
                ]
            ],
        )
        put(
            HomeVisitPatient,
            [dict(run_date=D, plan_no=n, patient_id=pid) for n, pid in [(1, "P6"), (1, "P5"), (2, "P4"), (3, "P3")]],
        )
        put(
            Purchase,
            [
                dict(
                    purchase_id=pid,
                    patient_id=pat,
                    product_code="PR01",
                    boxes=boxes,
                    purchase_date=day,
                    channel="event",
                    event_id="E1",
                    staff_id="H1",
                )
                | LINEAGE
                for pid, pat, boxes, day in [
                    ("U1", "P5", 3, dt.date(2026, 10, 20)),
                    ("U2", "P6", 2, dt.date(2026, 10, 20)),
                    ("U3", "P6", 1, dt.date(2026, 10, 21)),
                    ("U4", "P6", 5, D),  # on run_date: after the cutoff
                ]
            ],
        )
        put(
            CustomerGrade,
            [
                grade_row("C1", dt.date(2026, 10, 2), "B", dt.date(2026, 11, 5)),
                grade_row("C1", dt.date(2026, 11, 5), "A"),
                grade_row("C2", dt.date(2026, 11, 3), "B"),
                grade_row("C3", dt.date(2026, 10, 2), "C", dt.date(2026, 11, 10), nine_box="C1"),
                grade_row("C3", dt.date(2026, 11, 10), "C", nine_box="C2"),  # nine-box only: no movement
                grade_row("C4", dt.date(2026, 10, 2), "T", dt.date(2026, 11, 16)),
                grade_row("C4", dt.date(2026, 11, 16), "V"),
                grade_row("C5", dt.date(2026, 9, 1), "T", dt.date(2026, 10, 20)),
                grade_row("C5", dt.date(2026, 10, 20), "V"),  # last month
                grade_row("C6", dt.date(2026, 11, 4), "D"),  # inactive owner
                grade_row("C7", dt.date(2026, 10, 2), "B", dt.date(2026, 11, 2)),
                grade_row("C7", dt.date(2026, 11, 2), "C", dt.date(2026, 11, 24)),
                grade_row("C7", dt.date(2026, 11, 24), "A"),  # after run_date
                grade_row("C8", dt.date(2026, 11, 6), "A"),  # nobody's team
            ],
        )
        put(
            Visit,
            [visit(f"VR1{i}", "R1", t) for i, t in enumerate([at(16, 9), at(18), at(22, 23, 59, 59)])]
            + [
                visit("VR1x", "R1", at(19), outcome="not_met"),
                visit("VR1y", "R1", at(23, 8)),  # run_date
                visit("VR1z", "R1", at(15, 20)),  # the week before
            ]
            + [visit(f"VR2{i}", "R2", at(17)) for i in range(5)]
            + [visit(f"VN1{i:02d}", "N1", at(16 + i % 5, 19)) for i in range(20)],
        )


@pytest.fixture
def seeded(settings):
    seed(settings.database_url)
    return settings


def by_recipient(views):
    return {view.recipient.staff_id: view for view in views}


def test_rep_views(seeded):
    views = rep_views(seeded, RULES, D)
    assert sorted(by_recipient(views)) == ["R1", "R2"]  # R3 inactive, R4 no work, R9 no work
    r1, r2 = by_recipient(views)["R1"], by_recipient(views)["R2"]
    assert r1.targets == [
        rv.VisitTarget(
            customer_id="C2",
            customer_name="钱二主任",
            institution="市一医院",
            department="内分泌科",
            grade="B",
            reason="appointment",
            owner_staff_id="R1",
            nine_box="B2",
            visits_this_month=0,
            standard=1,
            last_visit_date=dt.date(2026, 11, 9),
        ),
        rv.VisitTarget(
            customer_id="C1",
            customer_name="赵一医生",
            institution="市一医院",
            department="心内科",
            grade="A",
            reason="frequency",
            owner_staff_id="R1",
            strategy="防御",
            visits_this_month=2,
            standard=4,
        ),
        rv.VisitTarget(
            customer_id="C4",
            customer_name="百姓药房",
            institution="百姓大药房",
            department=None,
            grade="VIP",
            reason="vip_contact",
            owner_staff_id="R1",
            standard=1,
        ),
    ]
    assert [
        (g.institution, [(d.department, [t.customer_id for t in d.targets]) for d in g.departments])
        for g in r1.groups()
    ] == [("市一医院", [("内分泌科", ["C2"]), ("心内科", ["C1"])]), ("百姓大药房", [("", ["C4"])])]
    assert r1.attainment == [
        GradeAttainment(
            grade="A",
            customers=1,
            required_visits=4,
            credited_visits=2,
            monthly_coverage=1.0,
            monthly_standard=0.9,
            quarterly_coverage=1.0,
            quarterly_standard=1.0,
        ),
        GradeAttainment(
            grade="B",
            customers=1,
            required_visits=4,
            credited_visits=0,
            monthly_coverage=0.0,
            monthly_standard=0.9,
            quarterly_coverage=1.0,
            quarterly_standard=1.0,
        ),
    ]
    assert (r1.calls_per_field_day, r1.daily_plan, r1.field_days_elapsed) == (2.0, 12, 15)
    assert r1.reorders == [] and r1.rewards == [
        RewardToDeliver(
            customer_id="C4",
            customer_name="百姓药房",
            institution="百姓大药房",
            owner_staff_id="R1",
            quarter="2026Q3",
            points=620,
            tier="bronze",
        )
    ]
    assert [t.customer_id for t in r2.targets] == ["C3"] and (r2.calls_per_field_day, r2.daily_plan) == (1.5, 10)
    assert r2.reorders == [
        rv.ReorderReminder(
            customer_id="C5",
            customer_name="仁心药店",
            institution="仁心药店",
            owner_staff_id="R2",
            last_order_date=dt.date(2026, 10, 1),
            due_date=dt.date(2026, 11, 1),
            days_overdue=22,
        )
    ]
    assert [(w.customer_id, w.points, w.tier_label) for w in r2.rewards] == [("C5", 2100, "银牌")]
    # Isolation: nobody else's customer (C5 was on R1's stale target row; C3 on another date's).
    for view in views:
        check_isolation(view)
    owners = {c["customer_id"]: c["owner_staff_id"] for c in CUSTOMERS}
    for view in views:
        assert {owners[cid] for _, cid in view.owned()} == {view.recipient.staff_id}
    html, text = render_bodies(r1)
    assert "钱二主任" in html and "仁心药店" not in html and "孙三医生" not in text


def test_callback_views(seeded):
    views = by_recipient(callback_views(seeded, RULES, D))
    assert sorted(views) == ["N1", "N2"]
    n1, n2 = views["N1"], views["N2"]
    assert n1.calls == [
        CallbackCall(
            patient_id="P2",
            patient_name="李大爷",
            phone="13900001111",
            assigned_staff_id="N1",
            product_code="PR01",
            product_name="心脉通胶囊",
            reason="overdue",
            due_date=D - 2 * DAY,
            expiry_date=D - 5 * DAY,
            days_overdue=2,
            low_adherence=True,
            informed=False,
            contact_name="李小明",
            contact_relation="儿子",
            disease=None,
        ),
        CallbackCall(
            patient_id="P1",
            patient_name="王阿姨",
            phone="13812345678",
            assigned_staff_id="N1",
            product_code="PR01",
            product_name="心脉通胶囊",
            reason="cadence",
            due_date=D,
            informed=True,
            disease="高血压",
        ),
        CallbackCall(
            patient_id="K1",
            patient_name="陈女士",
            phone="13500004444",
            assigned_staff_id="N1",
            product_code=None,
            product_name=None,
            reason="consult",
            due_date=D,
            informed=None,
        ),
    ]
    assert n1.calls[0].call_contact and not n1.calls[1].call_contact
    assert n1.expiry_month == dt.date(2026, 11, 1) and (n1.must_keep, n1.target) == (2, 2)
    assert n1.expiry_list == [
        rv.ExpiryEntry(
            patient_id="P2",
            patient_name="李大爷",
            assigned_staff_id="N1",
            product_code="PR01",
            product_name="心脉通胶囊",
            expiry_date=dt.date(2026, 11, 18),
            repurchased=False,
        ),
        rv.ExpiryEntry(
            patient_id="P1",
            patient_name="王阿姨",
            assigned_staff_id="N1",
            product_code="PR01",
            product_name="心脉通胶囊",
            expiry_date=dt.date(2026, 11, 20),
            repurchased=True,
        ),
    ]
    assert n1.retention == 0.5
    assert [(c.patient_id, c.informed, c.disease) for c in n2.calls] == [("P3", None, None)]
    assert [e.patient_id for e in n2.expiry_list] == ["P3"] and (n2.must_keep, n2.target) == (1, 1)
    for view in views.values():
        check_isolation(view)
    # The nurse's own list shows phones in full; the uninformed patient's disease never, the contact instead.
    html, text = render_bodies(n1)
    assert "13900001111" in html and "13812345678" in text and "李小明" in html
    assert "肺癌" not in html and "肺癌" not in text and "高血压" in html
    assert "张奶奶" not in html and "13700002222" not in text  # N2's patient


def test_home_visit_views(seeded):
    views = home_visit_views(seeded, RULES, D)
    assert [v.recipient.staff_id for v in views] == ["H1"]  # H2's visit is in two days
    (visit,) = views[0].visits
    assert (visit.village, visit.township, visit.event_id, visit.visit_date, visit.modal_boxes) == (
        "王家村",
        "青山镇",
        "E1",
        D,
        3,
    )
    assert visit.patients == [
        rv.HomeVisitPatient(patient_id="P5", patient_name="赵大妈", phone="13711112222", boxes=3),
        rv.HomeVisitPatient(
            patient_id="P6", patient_name="钱大伯", phone="13722223333", boxes=3
        ),  # 2 + 1, not the 5 of D
    ]
    check_isolation(views[0])
    html, _ = render_bodies(views[0])
    assert "赵大妈" in html and "13711112222" not in html and "137****2222" in html  # masked off the callback list


def test_manager_views_on_a_monday(seeded):
    views = by_recipient(manager_views(seeded, RULES, D))
    assert sorted(views) == ["M1", "M2"]  # M3 has no team
    m1, m2 = views["M1"], views["M2"]
    assert m2.team_staff_ids == {"R1", "R2"}  # R3 is inactive
    assert m1.team_staff_ids == {"M2", "R1", "R2", "R4", "N1", "N2", "H1", "H2"}
    assert m2.team_attainment == [
        GradeAttainment(
            grade="A",
            customers=1,
            required_visits=4,
            credited_visits=2,
            monthly_coverage=1.0,
            monthly_standard=0.9,
            quarterly_coverage=1.0,
            quarterly_standard=1.0,
        ),
        GradeAttainment(
            grade="B",
            customers=1,
            required_visits=4,
            credited_visits=0,
            monthly_coverage=0.0,
            monthly_standard=0.9,
            quarterly_coverage=1.0,
            quarterly_standard=1.0,
        ),
        GradeAttainment(
            grade="C",
            customers=1,
            required_visits=1,
            credited_visits=1,
            monthly_coverage=1.0,
            monthly_standard=0.6,
            quarterly_coverage=1.0,
            quarterly_standard=0.8,
        ),
    ]
    assert [
        (g.grade, g.customers, g.required_visits, g.credited_visits, g.monthly_coverage, g.quarterly_coverage)
        for g in m1.team_attainment
    ] == [
        ("A", 1, 4, 2, 1.0, 1.0),
        ("B", 4, 16, 6, 0.5, 1.0),  # R1 1 customer + R4 3: visited 0 + 2 this month, 1 + 3 this quarter
        ("C", 1, 1, 1, 1.0, 1.0),
        ("D", 2, 0, 0, 0.5, 1.0),
    ]
    assert m2.movements == [
        GradeChange(
            customer_id="C2",
            customer_name="钱二主任",
            institution="市一医院",
            owner_staff_id="R1",
            owner_name="张伟",
            from_grade=None,
            to_grade="B",
            changed_on=dt.date(2026, 11, 3),
        ),
        GradeChange(
            customer_id="C1",
            customer_name="赵一医生",
            institution="市一医院",
            owner_staff_id="R1",
            owner_name="张伟",
            from_grade="B",
            to_grade="A",
            changed_on=dt.date(2026, 11, 5),
        ),
        GradeChange(
            customer_id="C4",
            customer_name="百姓药房",
            institution="百姓大药房",
            owner_staff_id="R1",
            owner_name="张伟",
            from_grade="T",
            to_grade="VIP",
            changed_on=dt.date(2026, 11, 16),
        ),
    ]
    assert [(m.customer_id, m.from_grade, m.to_grade) for m in m1.movements] == [
        ("C7", "B", "C"),
        ("C2", None, "B"),
        ("C1", "B", "A"),
        ("C4", "T", "VIP"),
    ]
    assert m2.ranking_week == (dt.date(2026, 11, 16), dt.date(2026, 11, 22)) and m2.shows_ranking
    assert m2.ranking == [
        RankingEntry(rank=1, staff_id="R2", staff_name="刘洋", role="rep", completed=5, planned=50),  # ONC 10 x 5
        RankingEntry(rank=2, staff_id="R1", staff_name="张伟", role="rep", completed=3, planned=60),
    ]
    # N1 20/200 ties R2 5/50 at 10%: more completed first; N2 and R4 0%: by staff_id.
    assert [(r.rank, r.staff_id, r.completed, r.planned) for r in m1.ranking] == [
        (1, "N1", 20, 200),
        (2, "R2", 5, 50),
        (3, "R1", 3, 60),
        (4, "N2", 0, 200),
        (5, "R4", 0, 60),
    ]
    for view in views.values():
        check_isolation(view)
    html, _ = render_bodies(m2)
    assert "每周排行榜" in html and "吴八医生" not in html and "周七医生" not in html


def test_manager_views_on_other_days_have_no_ranking(seeded):
    views = by_recipient(manager_views(seeded, RULES, D + DAY))
    assert sorted(views) == ["M1", "M2"]
    assert all(v.ranking == [] and v.ranking_week is None and not v.shows_ranking for v in views.values())
    assert all(v.team_attainment == [] for v in views.values())  # no rep_attainment rows for that date
    # C7's move to A on 24 November is now this month's.
    assert next((m.customer_id, m.to_grade) for m in views["M1"].movements) == ("C7", "C")
    assert ("C7", "A") in [(m.customer_id, m.to_grade) for m in views["M1"].movements]


def test_builders_are_registered_and_nobody_without_work_gets_a_view(seeded):
    registered = tasks.views.VIEW_BUILDERS
    assert registered == [rep_views, callback_views, home_visit_views, manager_views]
    views = tasks.render.build_staff_views.fn(seeded, RULES, D)
    assert sorted((v.kind, v.recipient.staff_id) for v in views) == [
        ("callback", "N1"),
        ("callback", "N2"),
        ("home_visit", "H1"),
        ("manager", "M1"),
        ("manager", "M2"),
        ("rep", "R1"),
        ("rep", "R2"),
    ]
    assert all(v.run_date == D for v in views)


def test_nothing_for_a_date_without_lists(seeded):
    day = D + 7 * DAY  # a Monday with no stage rows: managers keep their team, nobody else has work
    views = tasks.render.build_staff_views.fn(seeded, RULES, day)
    assert sorted((v.kind, v.recipient.staff_id) for v in views) == [
        ("callback", "N1"),
        ("callback", "N2"),
        ("manager", "M1"),
        ("manager", "M2"),
    ]
    # The month's expiry list still stands (the calls do not).
    assert all(v.calls == [] for v in views if v.kind == "callback")


def _attachment(message: email.message.EmailMessage, prefix: str) -> list[dict]:
    """Rows of the CSV attachment whose file name starts with ``prefix`` (UTF-8 with BOM)."""
    for part in message.iter_attachments():
        if (part.get_filename() or "").startswith(prefix):
            text = part.get_payload(decode=True).decode("utf-8-sig")
            return list(csv.DictReader(io.StringIO(text)))
    return []


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_server")
def test_nightly_on_a_generated_inbox_emails_reps_and_callback_staff_their_own_rows(settings):
    from flows.nightly import nightly

    generate("tiny", settings.inbox, start=dt.date(2026, 10, 1), days=31, dirty=0)
    run_date = dt.date(2026, 11, 2)
    summary = nightly(run_date=run_date)
    assert summary["render"]["by_kind"].get("rep", 0) > 0 and summary["render"]["by_kind"].get("callback", 0) > 0
    engine = get_engine(settings.database_url)
    owners = dict(read_frame(engine, "SELECT customer_id, owner_staff_id FROM customers").rows())
    listed = read_frame(
        engine, f"SELECT staff_id, patient_id, consult_id FROM callback_list WHERE run_date = '{run_date}'"
    )
    nurse_of = {(p or c): s for s, p, c in listed.rows()}
    folder = settings.outbox / run_date.isoformat()
    reps = sorted(folder.glob("rep-*.eml"))
    nurses = sorted(folder.glob("callback-*.eml"))
    assert reps and nurses
    customers_seen = patients_seen = 0
    for path in reps:
        staff_id = path.stem.removeprefix("rep-")
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        rows = _attachment(message, "visits_")
        assert {owners[r["customer_id"]] for r in rows} <= {staff_id}
        customers_seen += len(rows)
    for path in nurses:
        staff_id = path.stem.removeprefix("callback-")
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        rows = _attachment(message, "callbacks_")
        assert {nurse_of[r["patient_id"]] for r in rows} <= {staff_id}
        patients_seen += len(rows)
    assert customers_seen > 0 and patients_seen > 0


def test_the_nurses_load_reaches_her_email_and_her_managers(seeded):
    with get_engine(seeded.database_url).begin() as conn:
        conn.execute(
            sa.insert(CallbackLoad.__table__),
            [
                dict(
                    run_date=D,
                    office_code="OF001",
                    staff_id="N1",
                    due=60,
                    capacity=40,
                    waiting=20,
                    waiting_since=D - 9 * DAY,
                    backlog_days=1,
                ),
                dict(
                    run_date=D,
                    office_code="OF001",
                    staff_id="N2",
                    due=25,
                    capacity=40,
                    waiting=0,
                    waiting_since=None,
                    backlog_days=0,
                ),
                dict(
                    run_date=D - DAY,
                    office_code="OF001",
                    staff_id="N2",
                    due=99,
                    capacity=40,
                    waiting=59,
                    waiting_since=D - 9 * DAY,
                    backlog_days=2,
                ),  # another night's
            ],
        )
    nurses = by_recipient(callback_views(seeded, RULES, D))
    n1 = nurses["N1"]
    assert (n1.due_calls, n1.capacity, n1.waiting, n1.waiting_since) == (60, 40, 20, D - 9 * DAY)
    assert (nurses["N2"].due_calls, nurses["N2"].waiting, nurses["N2"].waiting_since) == (25, 0, None)
    m1 = by_recipient(manager_views(seeded, RULES, D))["M1"]
    # Most waiting first; OF001: 85 calls due need ceil(85 / 40) = 3 nurses, it has 2.
    assert m1.callback_load == [
        rv.NurseLoad(
            staff_id="N1", staff_name="李娜", due=60, capacity=40, waiting=20, waiting_since=D - 9 * DAY, backlog_days=1
        ),
        rv.NurseLoad(
            staff_id="N2", staff_name="王芳", due=25, capacity=40, waiting=0, waiting_since=None, backlog_days=0
        ),
    ]
    assert m1.staffing == [rv.OfficeStaffing(office_code="OF001", due=85, nurses=2, needed=3)]
    assert by_recipient(manager_views(seeded, RULES, D))["M2"].callback_load == []  # no nurse in M2's team
