"""Readers of the night's tables for the emails: one builder per role, ``(settings, rules, run_date) ->
views``, each reading the tables it needs once, filtered by run_date in SQL, and handing the frames to
its pure assembly in ``reports/assemble.py``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from edges.db import get_engine, read_frame, read_table, reading
from keqing.dates import month_start
from keqing.ranking import ranking_week
from keqing.rules import Rules
from keqing.settings import Settings
from models.feeds import Consult, Customer, Patient, Product, Purchase, Staff, Visit
from models.grading import CustomerGrade, RepAttainment, VisitTarget
from models.loyalty import QuarterClose, QuarterReward, ReorderReminder
from models.supply import CallbackEntry, CallbackLoad, ExpiryEntry, ExpiryTarget, HomeVisitPatient, HomeVisitPlan
from reports.assemble import (
    assemble_callback_views,
    assemble_home_visit_views,
    assemble_manager_views,
    assemble_rep_views,
)
from reports.views import View


def _read_staff(bind: Engine | Connection) -> pl.DataFrame:
    s = Staff.__table__
    return read_table(
        bind, sa.select(s.c.staff_id, s.c.name, s.c.role, s.c.email, s.c.manager_id, s.c.team, s.c.active)
    )


def rep_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[View]:
    """Reps: today's targets, month-to-date attainment, reorder reminders, rewards of quarters closed today."""
    vt, ra, rr = VisitTarget.__table__, RepAttainment.__table__, ReorderReminder.__table__
    qr, qc, c = QuarterReward.__table__, QuarterClose.__table__, Customer.__table__
    with reading(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        customers = read_table(bind, sa.select(c.c.customer_id, c.c.name, c.c.institution, c.c.owner_staff_id))
        targets = read_table(
            bind,
            sa.select(
                vt.c.staff_id,
                vt.c.customer_id,
                vt.c.rank,
                vt.c.reason,
                vt.c.other_reasons,
                vt.c.grade,
                vt.c.nine_box,
                vt.c.strategy,
                vt.c.visits_this_month,
                vt.c.standard,
                vt.c.last_visit_date,
                vt.c.institution,
                vt.c.department,
            ).where(vt.c.run_date == run_date),
        )
        attainment = read_table(bind, sa.select(ra).where(ra.c.run_date == run_date))
        reorders = read_table(
            bind,
            sa.select(rr.c.staff_id, rr.c.customer_id, rr.c.last_order_date, rr.c.due_date, rr.c.days_overdue).where(
                rr.c.run_date == run_date
            ),
        )
        rewards = read_table(
            bind,
            sa.select(qr.c.quarter, qr.c.customer_id, qr.c.owner_staff_id, qr.c.points, qr.c.tier).where(
                qr.c.quarter.in_(sa.select(qc.c.quarter).where(qc.c.run_date == run_date))
            ),
        )
    customers = customers.rename({"name": "customer_name"})
    return list(assemble_rep_views(run_date, staff, customers, targets, attainment, reorders, rewards))


def callback_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[View]:
    """Callback staff: today's calls (phones in full) and the month's expiry list with must-keep and target."""
    cl, el, et = CallbackEntry.__table__, ExpiryEntry.__table__, ExpiryTarget.__table__
    p, cs, pr = Patient.__table__, Consult.__table__, Product.__table__
    month = month_start(run_date)
    with reading(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        calls = read_table(
            bind,
            sa.select(
                cl.c.staff_id,
                cl.c.patient_id,
                cl.c.consult_id,
                cl.c.product_code,
                cl.c.reason,
                cl.c.position,
                cl.c.due_date,
                cl.c.expiry_date,
                cl.c.low_adherence,
            ).where(cl.c.run_date == run_date),
        )
        expiry = read_table(
            bind,
            sa.select(
                el.c.month,
                el.c.patient_id,
                el.c.product_code,
                el.c.expiry_date,
                el.c.callback_staff_id,
                el.c.repurchased,
            ).where(el.c.month == month),
        )
        targets = read_table(
            bind,
            sa.select(et.c.month, et.c.scope, et.c.staff_id, et.c.must_keep, et.c.target).where(
                et.c.run_date == run_date, et.c.month == month
            ),
        )
        wanted = sa.union(
            sa.select(cl.c.patient_id).where(cl.c.run_date == run_date),
            sa.select(el.c.patient_id).where(el.c.month == month),
        )
        patients = read_table(
            bind,
            sa.select(
                p.c.patient_id, p.c.name, p.c.phone, p.c.disease, p.c.informed, p.c.contact_name, p.c.contact_relation
            ).where(p.c.patient_id.in_(wanted)),
        )
        consults = read_table(
            bind,
            sa.select(cs.c.consult_id, cs.c.name, cs.c.phone).where(
                cs.c.consult_id.in_(sa.select(cl.c.consult_id).where(cl.c.run_date == run_date))
            ),
        )
        products = read_table(bind, sa.select(pr.c.product_code, pr.c.name))
        load = _read_load(bind, run_date)
    return list(
        assemble_callback_views(
            run_date,
            staff,
            calls,
            patients,
            consults,
            products,
            expiry,
            targets,
            expiring_within_days=rules.supply.expiring_within_days,
            load=load,
        )
    )


def _read_load(bind: Engine | Connection, run_date: dt.date) -> pl.DataFrame:
    """run_date's callback load per nurse (and per staff-less office list)."""
    lo = CallbackLoad.__table__
    return read_table(
        bind,
        sa.select(
            lo.c.office_code,
            lo.c.staff_id,
            lo.c.due,
            lo.c.capacity,
            lo.c.waiting,
            lo.c.waiting_since,
            lo.c.backlog_days,
        ).where(lo.c.run_date == run_date),
    )


def home_visit_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[View]:
    """Home-visit staff: today's village visits with their patients (phones masked by the renderer)."""
    hp, hpp, p, pu = HomeVisitPlan.__table__, HomeVisitPatient.__table__, Patient.__table__, Purchase.__table__
    today = sa.select(hp.c.plan_no).where(hp.c.run_date == run_date, hp.c.visit_date == run_date)
    with reading(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        plans = read_table(
            bind,
            sa.select(
                hp.c.plan_no, hp.c.staff_id, hp.c.event_id, hp.c.township, hp.c.village, hp.c.boxes, hp.c.visit_date
            ).where(hp.c.run_date == run_date, hp.c.visit_date == run_date),
        )
        plan_patients = read_table(
            bind, sa.select(hpp.c.plan_no, hpp.c.patient_id).where(hpp.c.run_date == run_date, hpp.c.plan_no.in_(today))
        )
        patients_q = sa.select(hpp.c.patient_id).where(hpp.c.run_date == run_date, hpp.c.plan_no.in_(today))
        patients = read_table(
            bind, sa.select(p.c.patient_id, p.c.name, p.c.phone).where(p.c.patient_id.in_(patients_q))
        )
        events = sa.select(hp.c.event_id).where(hp.c.run_date == run_date, hp.c.visit_date == run_date)
        bought = read_frame(
            bind,
            sa.select(pu.c.event_id, pu.c.patient_id, sa.func.sum(pu.c.boxes).label("boxes"))
            .where(pu.c.event_id.in_(events), pu.c.purchase_date < run_date)
            .group_by(pu.c.event_id, pu.c.patient_id),
            {"event_id": pl.String, "patient_id": pl.String, "boxes": pl.Int64},
        )
    return list(assemble_home_visit_views(run_date, staff, plans, plan_patients, patients, bought))


def manager_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[View]:
    """Managers: their team's attainment, grade movements this month, the callback nurses' load and, on
    Mondays, last week's ranking."""
    ra, cg, c, vi = RepAttainment.__table__, CustomerGrade.__table__, Customer.__table__, Visit.__table__
    month = month_start(run_date)
    with reading(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        customers = read_table(bind, sa.select(c.c.customer_id, c.c.name, c.c.institution, c.c.owner_staff_id))
        attainment = read_table(bind, sa.select(ra).where(ra.c.run_date == run_date))
        moved = sa.select(cg.c.customer_id).where(cg.c.valid_from >= month, cg.c.valid_from <= run_date)
        history = read_table(
            bind,
            sa.select(cg.c.customer_id, cg.c.valid_from, cg.c.grade).where(
                cg.c.customer_id.in_(moved), cg.c.valid_from <= run_date
            ),
        )
        done = None
        if run_date.weekday() == 0:
            start, end = ranking_week(run_date)
            done = read_frame(
                bind,
                sa.select(vi.c.staff_id, sa.func.count().label("completed"))
                .where(
                    vi.c.outcome == "completed",
                    vi.c.visit_at >= dt.datetime.combine(start, dt.time()),
                    vi.c.visit_at < dt.datetime.combine(end + dt.timedelta(days=1), dt.time()),
                )
                .group_by(vi.c.staff_id),
                {"staff_id": pl.String, "completed": pl.Int64},
            )
        load = _read_load(bind, run_date)
    customers = customers.rename({"name": "customer_name"})
    return list(assemble_manager_views(run_date, rules, staff, customers, attainment, history, done, load))


# The staff views of a night, one builder per role (the ops view is built from the run summary).
ViewBuilder = Callable[[Settings, Rules, dt.date], list[View]]
VIEW_BUILDERS: list[ViewBuilder] = [rep_views, callback_views, home_visit_views, manager_views]
