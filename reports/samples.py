"""Realistic sample views (made-up people), for the screenshot script and the benchmark.

Deterministic for a seed. Tests build their own small views by hand; these are for looking at and
for volume.
"""

from __future__ import annotations

import datetime as dt
import math
import random

from reports.views import (
    CallbackCall,
    CallbackView,
    ExpiryEntry,
    GradeAttainment,
    GradeChange,
    HomeVisitPatient,
    HomeVisitView,
    ManagerView,
    OpsView,
    RankingEntry,
    Recipient,
    ReorderReminder,
    RepView,
    RewardToDeliver,
    VillageVisit,
    VisitTarget,
)

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红建国志强淑珍海燕文辉"
HOSPITALS = ("杭州市第一人民医院", "浙江省人民医院", "余杭区中医院", "临安区人民医院", "萧山区第二人民医院")
DEPARTMENTS = ("心内科", "内分泌科", "神经内科", "老年病科", "药剂科", None)
TERMINALS = ("於潜镇卫生院", "天目山村卫生室", "昌化镇康宁药店", "太湖源镇卫生院")
PRODUCTS = (("PR01", "心脉通胶囊"), ("PR02", "降糖宁片"), ("PR03", "脑络通颗粒"))
VILLAGES = (("横畈村", "於潜镇"), ("民主村", "昌化镇"), ("白沙村", "太湖源镇"), ("九都村", "天目山镇"))
RELATIONS = ("儿子", "女儿", "配偶", "儿媳")
DISEASES = ("高血压", "2型糖尿病", "冠心病", "脑梗后遗症")
# Nine-box cells consistent with each grade (potential A/B/C high to low, support 1/2/3 high to low).
NINE_BOX = {"A": ("A1",), "B": ("A2", "A3"), "C": ("B1", "C1"), "D": ("B3", "C2", "C3")}
STANDARDS = {"A": (4, 0.9, 1.0), "B": (4, 0.9, 1.0), "C": (1, 0.6, 0.8), "D": (0, 0.2, 0.6)}


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _attainment(rng: random.Random, scale: int = 1) -> list[GradeAttainment]:
    rows = []
    for grade, (visits, monthly, quarterly) in STANDARDS.items():
        customers = rng.randint(3, 12) * scale
        required = customers * visits
        credited = min(required, int(required * rng.uniform(0.4, 1.1))) if required else rng.randint(0, customers)
        rows.append(
            GradeAttainment(
                grade=grade,
                customers=customers,
                required_visits=required,
                credited_visits=credited,
                monthly_coverage=round(min(1.0, rng.uniform(monthly - 0.25, monthly + 0.1)), 3),
                monthly_standard=monthly,
                quarterly_coverage=round(min(1.0, rng.uniform(quarterly - 0.2, quarterly + 0.05)), 3),
                quarterly_standard=quarterly,
            )
        )
    return rows


def rep_view(run_date: dt.date, staff_id: str = "S001", seed: int = 1, targets: int = 12) -> RepView:
    rng = random.Random(seed)
    reasons = ("frequency", "coverage", "appointment", "frequency", "frequency", "coverage")
    rows = []
    for i in range(targets):
        grade = rng.choice("AABBCCD")
        terminal = rng.random() < 0.15
        rows.append(
            VisitTarget(
                customer_id=f"C{seed:03d}{i:03d}",
                customer_name=_name(rng) + ("" if terminal else rng.choice(("主任", "医生", "药师"))),
                institution=rng.choice(TERMINALS if terminal else HOSPITALS),
                department=None if terminal else rng.choice(DEPARTMENTS),
                grade="VIP" if terminal else grade,
                nine_box=None if terminal else rng.choice(NINE_BOX[grade]),
                reason="vip_contact" if terminal else rng.choice(reasons),
                owner_staff_id=staff_id,
                visits_this_month=rng.randint(0, 4),
                standard=None if terminal else STANDARDS[grade][0] or None,
                last_visit_date=run_date - dt.timedelta(days=rng.randint(2, 40)),
            )
        )
    reorders = [
        ReorderReminder(
            customer_id=f"T{seed:03d}{i}",
            customer_name=_name(rng),
            institution=rng.choice(TERMINALS),
            owner_staff_id=staff_id,
            last_order_date=run_date - dt.timedelta(days=40 + i),
            due_date=run_date - dt.timedelta(days=3 + i),
            days_overdue=3 + i,
        )
        for i in range(2)
    ]
    rewards = [
        RewardToDeliver(
            customer_id=f"T{seed:03d}9",
            customer_name=_name(rng),
            institution=rng.choice(TERMINALS),
            owner_staff_id=staff_id,
            quarter=f"{run_date.year}Q{(run_date.month - 1) // 3 or 4}",
            points=2350,
            tier="silver",
        )
    ]
    return RepView(
        run_date=run_date,
        recipient=Recipient(staff_id, _name(rng), f"{staff_id.lower()}@example.com"),
        targets=rows,
        attainment=_attainment(rng),
        calls_per_field_day=round(rng.uniform(8, 13), 1),
        daily_plan=12,
        field_days_elapsed=14,
        reorders=reorders,
        rewards=rewards,
    )


def callback_view(run_date: dt.date, staff_id: str = "S101", seed: int = 2, calls: int = 40) -> CallbackView:
    rng = random.Random(seed)
    reasons = ("overdue", "expiring", "consult", "lapsed", "cadence", "cadence", "cadence")
    rows = []
    for i in range(calls):
        code, product = rng.choice(PRODUCTS)
        informed = rng.random() > 0.25
        reason = rng.choice(reasons)
        rows.append(
            CallbackCall(
                patient_id=f"P{seed:03d}{i:04d}",
                patient_name=_name(rng),
                phone=_phone(rng),
                assigned_staff_id=staff_id,
                product_code=code,
                product_name=product,
                reason=reason,
                due_date=run_date - dt.timedelta(days=rng.randint(1, 4) if reason == "overdue" else 0),
                expiry_date=run_date + dt.timedelta(days=rng.randint(-10, 25)),
                days_overdue=rng.randint(1, 4) if reason == "overdue" else 0,
                low_adherence=rng.random() < 0.15,
                informed=informed,
                contact_name=None if informed else _name(rng),
                contact_relation=None if informed else rng.choice(RELATIONS),
                disease=rng.choice(DISEASES),
            )
        )
    month = run_date.replace(day=1)
    expiry = [
        ExpiryEntry(
            patient_id=f"P{seed:03d}{i:04d}",
            patient_name=_name(rng),
            assigned_staff_id=staff_id,
            product_code=PRODUCTS[i % 3][0],
            product_name=PRODUCTS[i % 3][1],
            expiry_date=month + dt.timedelta(days=rng.randint(0, 27)),
            repurchased=rng.random() < 0.55,
        )
        for i in range(25)
    ]
    return CallbackView(
        run_date=run_date,
        recipient=Recipient(staff_id, _name(rng), f"{staff_id.lower()}@example.com"),
        calls=rows,
        expiry_month=month,
        expiry_list=expiry,
        must_keep=math.ceil(0.6 * len(expiry)),
        target=math.ceil(0.8 * len(expiry)),
    )


def home_visit_view(run_date: dt.date, staff_id: str = "S201", seed: int = 3) -> HomeVisitView:
    rng = random.Random(seed)
    visits = []
    for i, (village, township) in enumerate(VILLAGES[:3]):
        patients = [
            HomeVisitPatient(
                patient_id=f"P{seed:03d}{i}{j:02d}",
                patient_name=_name(rng),
                phone=_phone(rng),
                boxes=rng.choice((5, 7, 7)),
            )
            for j in range(rng.randint(3, 7))
        ]
        visits.append(
            VillageVisit(
                village=village,
                township=township,
                event_id=f"E2026{i + 10:03d}",
                visit_date=run_date,
                assigned_staff_id=staff_id,
                patients=patients,
                modal_boxes=7,
            )
        )
    return HomeVisitView(
        run_date=run_date, recipient=Recipient(staff_id, _name(rng), f"{staff_id.lower()}@example.com"), visits=visits
    )


def manager_view(run_date: dt.date, staff_id: str = "S009", seed: int = 4) -> ManagerView:
    rng = random.Random(seed)
    team = [f"S{seed:02d}{i}" for i in range(6)]
    names = {s: _name(rng) for s in team}
    movements = [
        GradeChange(
            customer_id=f"C9{i:03d}",
            customer_name=_name(rng) + "主任",
            institution=rng.choice(HOSPITALS),
            owner_staff_id=team[i % len(team)],
            owner_name=names[team[i % len(team)]],
            from_grade="ABCD"[i % 4],
            to_grade="BCAD"[i % 4] if i % 4 != 3 else "C",
            changed_on=run_date - dt.timedelta(days=1),
        )
        for i in range(4)
    ]
    ranking = sorted(
        (
            RankingEntry(
                rank=0,
                staff_id=s,
                staff_name=names[s],
                role="rep",
                completed=rng.randint(35, 62),
                planned=60,
                coverage=round(rng.uniform(0.6, 1.0), 2),
            )
            for s in team
        ),
        key=lambda r: -r.completed,
    )
    ranking = [RankingEntry(**{**_fields(r), "rank": i + 1}) for i, r in enumerate(ranking)]
    monday = run_date - dt.timedelta(days=run_date.weekday())
    return ManagerView(
        run_date=run_date,
        recipient=Recipient(staff_id, _name(rng), f"{staff_id.lower()}@example.com"),
        team_staff_ids=frozenset(team),
        team_attainment=_attainment(rng, scale=6),
        movements=movements,
        ranking=ranking,
        ranking_week=(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
    )


def _fields(row: RankingEntry) -> dict:
    return {name: getattr(row, name) for name in row.__dataclass_fields__}


def ops_summary(run_date: dt.date) -> dict:
    """A run summary shaped like ``flows/nightly.py``'s, with one rejected file and a few problems."""
    return {
        "run_date": run_date.isoformat(),
        "ingest": {
            "files_new": 14,
            "files_already_ingested": 230,
            "files_same_bytes": [{"path": "2026-11-22/visits copy.csv", "same_as": "2026-11-22/visits.csv"}],
            "files_ignored": ["readme.txt"],
            "rows_read": 125_300,
            "rows_loaded": 124_436,
            "rows_quarantined": 856,
            "rows_duplicate": 8,
            "rows_released": 40,
            "rows_waiting": 120,
            "quarantined_by_reason": {"unknown_patient": 520, "bad_phone": 224, "bad_date": 112},
            "feeds": {
                "purchases": {
                    "files": 3,
                    "rows_read": 8_300,
                    "loaded": 8_210,
                    "quarantined": 90,
                    "duplicates": 0,
                    "released": 40,
                    "waiting": 120,
                },
                "visits": {
                    "files": 6,
                    "rows_read": 12_000,
                    "loaded": 11_234,
                    "quarantined": 766,
                    "duplicates": 8,
                    "released": 0,
                    "waiting": 0,
                },
                "orders": {
                    "files": 5,
                    "rows_read": 105_000,
                    "loaded": 104_992,
                    "quarantined": 0,
                    "duplicates": 0,
                    "released": 0,
                    "waiting": 0,
                },
            },
            "files": [
                {
                    "path": "2026-11-22/patients_bad.csv",
                    "feed": "patients",
                    "status": "rejected",
                    "messages": ["missing required column phone (电话)"],
                },
            ],
        },
        "render": {"emails": 1999},
        "deliver": {"sent": 1996, "written": 0, "failed": 1, "unknown": 1, "deferred": 1},
    }


def ops_view(run_date: dt.date, staff_id: str = "S900") -> OpsView:
    from keqing.rules import Rules
    from reports.ops import ops_views

    problems = [
        {"staff_id": "S0412", "kind": "rep", "status": "failed", "last_error": "550 5.1.1 mailbox unavailable"},
        {
            "staff_id": "S1033",
            "kind": "callback",
            "status": "unknown",
            "last_error": "no answer after the message data: SMTPServerDisconnected: timed out",
        },
        {"staff_id": "S1207", "kind": "rep", "status": "pending", "last_error": "451 4.3.0 mailbox busy"},
    ]
    names = {"S0412": "陈磊", "S1033": "刘芳", "S1207": "杨洋"}
    recipient = Recipient(staff_id, "运营值班", "ops@example.com")
    return ops_views(ops_summary(run_date), Rules(), run_date, [recipient], problems, names)[0]
