"""Small hand-built views for the email tests (every value visible at the call site)."""

from __future__ import annotations

import datetime as dt

from reports.views import (
    CallbackCall,
    CallbackView,
    ExpiryEntry,
    GradeAttainment,
    HomeVisitPatient,
    HomeVisitView,
    Recipient,
    RepView,
    VillageVisit,
    VisitTarget,
)

RUN_DATE = dt.date(2026, 11, 24)  # a Tuesday; data as of 2026-11-23
MONDAY = dt.date(2026, 11, 23)


def recipient(staff_id: str = "S001", name: str = "张伟", email: str | None = None) -> Recipient:
    return Recipient(staff_id, name, email or f"{staff_id.lower()}@example.com")


def target(customer_id: str, name: str, institution: str, department: str | None, **kw) -> VisitTarget:
    values = {"grade": "A", "reason": "frequency", "owner_staff_id": "S001"} | kw
    return VisitTarget(
        customer_id=customer_id, customer_name=name, institution=institution, department=department, **values
    )


def rep_view(targets: list[VisitTarget], staff_id: str = "S001", run_date: dt.date = RUN_DATE, **kw) -> RepView:
    return RepView(run_date=run_date, recipient=recipient(staff_id), targets=targets, **kw)


def call(patient_id: str, name: str, phone: str, **kw) -> CallbackCall:
    values = {
        "assigned_staff_id": "S002",
        "product_code": "PR01",
        "product_name": "心脉通胶囊",
        "reason": "cadence",
        "due_date": RUN_DATE,
        "expiry_date": dt.date(2026, 12, 10),
    } | kw
    return CallbackCall(patient_id=patient_id, patient_name=name, phone=phone, **values)


def callback_view(calls: list[CallbackCall], staff_id: str = "S002", **kw) -> CallbackView:
    return CallbackView(run_date=RUN_DATE, recipient=recipient(staff_id, "李娜"), calls=calls, **kw)


def expiry(patient_id: str, name: str, day: int, repurchased: bool = False, staff_id: str = "S002") -> ExpiryEntry:
    return ExpiryEntry(
        patient_id=patient_id,
        patient_name=name,
        assigned_staff_id=staff_id,
        product_code="PR01",
        product_name="心脉通胶囊",
        expiry_date=dt.date(2026, 11, day),
        repurchased=repurchased,
    )


def village(name: str, patients: list[tuple[str, str, str]], staff_id: str = "S003", **kw) -> VillageVisit:
    values = {"township": "於潜镇", "event_id": "E01", "visit_date": RUN_DATE, "modal_boxes": 7} | kw
    return VillageVisit(
        village=name,
        assigned_staff_id=staff_id,
        patients=[HomeVisitPatient(patient_id=p, patient_name=n, phone=ph, boxes=7) for p, n, ph in patients],
        **values,
    )


def home_visit_view(visits: list[VillageVisit], staff_id: str = "S003") -> HomeVisitView:
    return HomeVisitView(run_date=RUN_DATE, recipient=recipient(staff_id, "王芳"), visits=visits)


def attainment(grade: str, monthly: float, standard: float) -> GradeAttainment:
    return GradeAttainment(
        grade=grade,
        customers=10,
        required_visits=40,
        credited_visits=30,
        monthly_coverage=monthly,
        monthly_standard=standard,
        quarterly_coverage=monthly,
        quarterly_standard=1.0,
    )
