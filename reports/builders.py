"""View builders: the grading, supply and loyalty tables of a run_date turned into one view per recipient.

Each builder ``(settings, rules, run_date) -> list[View]`` reads each table it needs once, filtered by
run_date in SQL, joins names in Polars, splits the rows by owner (``split_by_recipient``) and builds
the dataclasses from each recipient's part only. Only active staff with the builder's role get a view,
and only when they have work. ``render_emails`` checks isolation again before rendering.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from edges.db import frame_schema, get_engine, is_postgres, read_frame
from keqing.calendar import workdays
from keqing.rules import Rules
from keqing.settings import Settings
from models.feeds import Consult, Customer, Patient, Product, Purchase, Staff, Visit
from models.grading import CustomerGrade, RepAttainment, VisitTarget
from models.loyalty import QuarterClose, QuarterReward, ReorderReminder
from models.supply import CallbackEntry, ExpiryEntry, ExpiryTarget, HomeVisitPatient, HomeVisitPlan
from reports import views as v
from reports.views import Row

# Grade codes of the grading stage -> the labels of the emails (V is a VIP terminal).
GRADE_LABELS = {"V": "VIP"}
GRADE_ORDER = ["A", "B", "C", "D", "U", "N", "V", "T"]
MAX_LEVELS = 10  # manager_id chain followed at most this deep (reports of reports of ...)


@contextmanager
def _reader(engine: Engine) -> Iterator[Engine | Connection]:
    """PostgreSQL: the engine (ADBC into Arrow). SQLite: one pysqlite connection (see tasks/supply.py)."""
    if is_postgres(engine):
        yield engine
        return
    with engine.connect() as conn:
        yield conn


def _read(bind: Engine | Connection, query: sa.Select) -> pl.DataFrame:
    """Rows of a one-table select, typed from the table's columns."""
    table = query.get_final_froms()[0]
    return read_frame(bind, query, frame_schema(table, [c.name for c in query.selected_columns]))


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _grade_label(col: str = "grade") -> pl.Expr:
    return pl.col(col).replace(GRADE_LABELS)


def _recipients(staff: pl.DataFrame, role: str) -> dict[str, v.Recipient]:
    """Active staff of ``role``, by staff_id (``active`` null counts as active, like the ops view)."""
    rows = staff.filter((pl.col("role") == role) & pl.col("active").fill_null(True))
    return {r["staff_id"]: v.Recipient(r["staff_id"], r["name"], r["email"]) for r in rows.iter_rows(named=True)}


def _read_staff(bind: Engine | Connection) -> pl.DataFrame:
    s = Staff.__table__
    return _read(bind, sa.select(s.c.staff_id, s.c.name, s.c.role, s.c.email, s.c.manager_id, s.c.team, s.c.active))


def _parts(frame: pl.DataFrame, owner: str, keep: dict[str, v.Recipient]) -> dict[str, pl.DataFrame]:
    """``frame`` split per owner, for the recipients in ``keep`` only."""
    return {k: part for k, part in v.split_by_recipient(frame, owner).items() if k in keep}


# --- reps ------------------------------------------------------------------------------------


def attainment_frame(frame: pl.DataFrame, owner: str) -> pl.DataFrame:
    """GradeAttainment columns of rep_attainment-shaped rows (the ``ALL`` rows dropped), by owner and grade order."""
    order = pl.col("grade").replace_strict(GRADE_ORDER, list(range(len(GRADE_ORDER))), default=len(GRADE_ORDER))
    return (
        frame.filter(pl.col("grade") != "ALL")
        .sort(owner, order, "grade")
        .select(
            owner,
            _grade_label().alias("grade"),
            "customers",
            pl.col("visits_required").alias("required_visits"),
            pl.col("visits_credited").alias("credited_visits"),
            pl.col("monthly_coverage").fill_null(0.0),
            pl.col("standard_monthly_coverage").fill_null(0.0).alias("monthly_standard"),
            pl.col("quarterly_coverage").fill_null(0.0),
            pl.col("standard_quarterly_coverage").fill_null(0.0).alias("quarterly_standard"),
        )
    )


def _rows(frame: pl.DataFrame, owner: str, row_type: type[Row], people: dict[str, v.Recipient]) -> dict[str, list[Row]]:
    """Each recipient's rows of ``frame`` (already in order) as ``row_type``, split by ``owner``.

    Only the dataclass's columns are kept, once for the whole frame, before the split; each part is
    then turned into dataclasses row by row.
    """
    names = [f.name for f in fields(row_type) if f.name in frame.columns]  # type: ignore[arg-type]
    parts = _parts(frame.select(list(dict.fromkeys([*names, owner]))), owner, people)
    return {k: [row_type(**{n: r[n] for n in names}) for r in part.iter_rows(named=True)] for k, part in parts.items()}


def assemble_rep_views(
    run_date: dt.date,
    staff: pl.DataFrame,
    customers: pl.DataFrame,
    targets: pl.DataFrame,
    attainment: pl.DataFrame,
    reorders: pl.DataFrame,
    rewards: pl.DataFrame,
) -> list[v.RepView]:
    """One RepView per active rep with targets, reorder reminders or rewards; rows of customers they own.

    A row whose customer's current owner is not the row's staff member is dropped (it can only be
    stale): a rep never sees a customer someone else owns.
    """
    people = _recipients(staff, "rep")
    names = customers.select(
        "customer_id",
        "customer_name",
        pl.col("institution").alias("customer_institution"),
        pl.col("owner_staff_id").alias("current_owner"),
    )

    def owned(frame: pl.DataFrame, owner: str) -> pl.DataFrame:
        joined = frame.join(names, on="customer_id", how="inner").filter(pl.col("current_owner") == pl.col(owner))
        if "institution" not in joined.columns:
            joined = joined.with_columns(institution=pl.col("customer_institution"))
        return joined.drop("customer_institution", "current_owner").with_columns(owner_staff_id=pl.col(owner))

    t = owned(targets, "staff_id").sort("staff_id", "rank")
    t = t.with_columns(_grade_label(), institution=pl.col("institution").fill_null(""))
    r = owned(reorders, "staff_id").sort("staff_id", "days_overdue", "customer_id", descending=[False, True, False])
    w = owned(rewards, "owner_staff_id").sort(
        "owner_staff_id", "points", "customer_id", descending=[False, True, False]
    )
    by_t = _rows(t, "owner_staff_id", v.VisitTarget, people)
    by_r = _rows(r, "owner_staff_id", v.ReorderReminder, people)
    by_w = _rows(w, "owner_staff_id", v.RewardToDeliver, people)
    by_a = _rows(attainment_frame(attainment, "staff_id"), "staff_id", v.GradeAttainment, people)
    totals = _parts(
        attainment.filter(pl.col("grade") == "ALL").select(
            "staff_id",
            pl.col("avg_calls_per_day").alias("calls_per_field_day"),
            "daily_plan",
            pl.col("field_days_so_far").alias("field_days_elapsed"),
        ),
        "staff_id",
        people,
    )
    return [
        v.RepView(
            run_date=run_date,
            recipient=people[sid],
            targets=by_t.get(sid, []),
            attainment=by_a.get(sid, []),
            reorders=by_r.get(sid, []),
            rewards=by_w.get(sid, []),
            **({k: x for k, x in totals[sid].row(0, named=True).items() if k != "staff_id"} if sid in totals else {}),
        )
        for sid in sorted(set(by_t) | set(by_r) | set(by_w))
    ]


def rep_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[v.View]:
    """Reps: today's targets, month-to-date attainment, reorder reminders, rewards of quarters closed today."""
    vt, ra, rr = VisitTarget.__table__, RepAttainment.__table__, ReorderReminder.__table__
    qr, qc, c = QuarterReward.__table__, QuarterClose.__table__, Customer.__table__
    with _reader(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        customers = _read(bind, sa.select(c.c.customer_id, c.c.name, c.c.institution, c.c.owner_staff_id))
        targets = _read(
            bind,
            sa.select(
                vt.c.staff_id,
                vt.c.customer_id,
                vt.c.rank,
                vt.c.reason,
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
        attainment = _read(bind, sa.select(ra).where(ra.c.run_date == run_date))
        reorders = _read(
            bind,
            sa.select(rr.c.staff_id, rr.c.customer_id, rr.c.last_order_date, rr.c.due_date, rr.c.days_overdue).where(
                rr.c.run_date == run_date
            ),
        )
        rewards = _read(
            bind,
            sa.select(qr.c.quarter, qr.c.customer_id, qr.c.owner_staff_id, qr.c.points, qr.c.tier).where(
                qr.c.quarter.in_(sa.select(qc.c.quarter).where(qc.c.run_date == run_date))
            ),
        )
    customers = customers.rename({"name": "customer_name"})
    return list(assemble_rep_views(run_date, staff, customers, targets, attainment, reorders, rewards))


# --- callback staff --------------------------------------------------------------------------


def assemble_callback_views(
    run_date: dt.date,
    staff: pl.DataFrame,
    calls: pl.DataFrame,
    patients: pl.DataFrame,
    consults: pl.DataFrame,
    products: pl.DataFrame,
    expiry: pl.DataFrame,
    targets: pl.DataFrame,
) -> list[v.CallbackView]:
    """One CallbackView per active callback nurse with calls today or entries on the month's expiry list.

    A consult follow-up has no patient: its consult_id stands in the patient_id column, with the
    caller's name and phone; the consult's disease is never shown (informed is not known).
    """
    people = _recipients(staff, "callback")
    month = _month_start(run_date)
    pat = patients.select(
        "patient_id",
        pl.col("name").alias("patient_name"),
        "phone",
        "disease",
        "informed",
        "contact_name",
        "contact_relation",
    )
    prod = products.select("product_code", pl.col("name").alias("product_name"))
    base = calls.filter(pl.col("staff_id").is_not_null()).join(prod, on="product_code", how="left")
    of_patients = base.filter(pl.col("patient_id").is_not_null()).join(pat, on="patient_id", how="inner")
    of_consults = (
        base.filter(pl.col("consult_id").is_not_null())
        .join(
            consults.select("consult_id", pl.col("name").alias("patient_name"), "phone"),
            on="consult_id",
            how="inner",
        )
        .with_columns(
            patient_id=pl.col("consult_id"),
            disease=pl.lit(None, pl.String),
            informed=pl.lit(None, pl.Boolean),
            contact_name=pl.lit(None, pl.String),
            contact_relation=pl.lit(None, pl.String),
        )
        .select(of_patients.columns)
    )
    c = (
        pl.concat([of_patients, of_consults])
        .with_columns(
            assigned_staff_id=pl.col("staff_id"),
            days_overdue=pl.max_horizontal(pl.lit(0), (pl.lit(run_date) - pl.col("due_date")).dt.total_days()),
            low_adherence=pl.col("low_adherence").fill_null(False),
        )
        .sort("staff_id", "position")
    )
    e = (
        expiry.filter(pl.col("month") == month)
        .join(pat.select("patient_id", "patient_name"), on="patient_id", how="inner")
        .join(prod, on="product_code", how="left")
        .rename({"callback_staff_id": "assigned_staff_id"})
        .sort("assigned_staff_id", "expiry_date", "patient_id", "product_code")
    )
    tg = (
        targets.filter((pl.col("month") == month) & (pl.col("scope") == "staff"))
        .group_by("staff_id")
        .agg(pl.col("must_keep", "target").sum())
    )
    by_c = _rows(c, "staff_id", v.CallbackCall, people)
    by_e = _rows(e, "assigned_staff_id", v.ExpiryEntry, people)
    by_t = _parts(tg, "staff_id", people)
    return [
        v.CallbackView(
            run_date=run_date,
            recipient=people[sid],
            calls=by_c.get(sid, []),
            expiry_month=month if sid in by_e else None,
            expiry_list=by_e.get(sid, []),
            must_keep=by_t[sid]["must_keep"][0] if sid in by_t else 0,
            target=by_t[sid]["target"][0] if sid in by_t else 0,
        )
        for sid in sorted(set(by_c) | set(by_e))
    ]


def callback_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[v.View]:
    """Callback staff: today's calls (phones in full) and the month's expiry list with must-keep and target."""
    cl, el, et = CallbackEntry.__table__, ExpiryEntry.__table__, ExpiryTarget.__table__
    p, cs, pr = Patient.__table__, Consult.__table__, Product.__table__
    month = _month_start(run_date)
    with _reader(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        calls = _read(
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
        expiry = _read(
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
        targets = _read(
            bind,
            sa.select(et.c.month, et.c.scope, et.c.staff_id, et.c.must_keep, et.c.target).where(
                et.c.run_date == run_date, et.c.month == month
            ),
        )
        wanted = sa.union(
            sa.select(cl.c.patient_id).where(cl.c.run_date == run_date),
            sa.select(el.c.patient_id).where(el.c.month == month),
        )
        patients = _read(
            bind,
            sa.select(
                p.c.patient_id, p.c.name, p.c.phone, p.c.disease, p.c.informed, p.c.contact_name, p.c.contact_relation
            ).where(p.c.patient_id.in_(wanted)),
        )
        consults = _read(
            bind,
            sa.select(cs.c.consult_id, cs.c.name, cs.c.phone).where(
                cs.c.consult_id.in_(sa.select(cl.c.consult_id).where(cl.c.run_date == run_date))
            ),
        )
        products = _read(bind, sa.select(pr.c.product_code, pr.c.name))
    return list(assemble_callback_views(run_date, staff, calls, patients, consults, products, expiry, targets))


# --- home-visit staff ------------------------------------------------------------------------


def assemble_home_visit_views(
    run_date: dt.date,
    staff: pl.DataFrame,
    plans: pl.DataFrame,
    plan_patients: pl.DataFrame,
    patients: pl.DataFrame,
    bought: pl.DataFrame,
) -> list[v.HomeVisitView]:
    """One HomeVisitView per active home-visit worker with village visits on run_date.

    ``bought``: boxes a patient bought at an event (event_id, patient_id, boxes).
    """
    people = _recipients(staff, "home_visit")
    plans = plans.filter((pl.col("visit_date") == run_date) & pl.col("staff_id").is_not_null()).sort(
        "staff_id", "plan_no"
    )
    pp = (
        plan_patients.join(plans.select("plan_no", "event_id"), on="plan_no", how="inner")
        .join(
            patients.select("patient_id", pl.col("name").alias("patient_name"), "phone"), on="patient_id", how="inner"
        )
        .join(bought, on=["event_id", "patient_id"], how="left")
        .sort("plan_no", "patient_id")
    )
    patients_by_plan = {k[0]: part for k, part in pp.partition_by("plan_no", as_dict=True).items()}
    out = []
    for sid, part in _parts(plans, "staff_id", people).items():
        visits = [
            v.VillageVisit(
                village=row["village"] or "",
                township=row["township"],
                event_id=row["event_id"],
                visit_date=row["visit_date"],
                assigned_staff_id=sid,
                modal_boxes=row["boxes"],
                patients=v.rows_from_frame(patients_by_plan.get(row["plan_no"], pp.clear()), v.HomeVisitPatient),
            )
            for row in part.iter_rows(named=True)
        ]
        out.append(v.HomeVisitView(run_date=run_date, recipient=people[sid], visits=visits))
    return sorted(out, key=lambda view: view.recipient.staff_id)


def home_visit_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[v.View]:
    """Home-visit staff: today's village visits with their patients (phones masked by the renderer)."""
    hp, hpp, p, pu = HomeVisitPlan.__table__, HomeVisitPatient.__table__, Patient.__table__, Purchase.__table__
    today = sa.select(hp.c.plan_no).where(hp.c.run_date == run_date, hp.c.visit_date == run_date)
    with _reader(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        plans = _read(
            bind,
            sa.select(
                hp.c.plan_no, hp.c.staff_id, hp.c.event_id, hp.c.township, hp.c.village, hp.c.boxes, hp.c.visit_date
            ).where(hp.c.run_date == run_date, hp.c.visit_date == run_date),
        )
        plan_patients = _read(
            bind, sa.select(hpp.c.plan_no, hpp.c.patient_id).where(hpp.c.run_date == run_date, hpp.c.plan_no.in_(today))
        )
        patients_q = sa.select(hpp.c.patient_id).where(hpp.c.run_date == run_date, hpp.c.plan_no.in_(today))
        patients = _read(bind, sa.select(p.c.patient_id, p.c.name, p.c.phone).where(p.c.patient_id.in_(patients_q)))
        events = sa.select(hp.c.event_id).where(hp.c.run_date == run_date, hp.c.visit_date == run_date)
        bought = read_frame(
            bind,
            sa.select(pu.c.event_id, pu.c.patient_id, sa.func.sum(pu.c.boxes).label("boxes"))
            .where(pu.c.event_id.in_(events), pu.c.purchase_date < run_date)
            .group_by(pu.c.event_id, pu.c.patient_id),
            {"event_id": pl.String, "patient_id": pl.String, "boxes": pl.Int64},
        )
    return list(assemble_home_visit_views(run_date, staff, plans, plan_patients, patients, bought))


# --- managers --------------------------------------------------------------------------------


def team_pairs(staff: pl.DataFrame) -> pl.DataFrame:
    """(manager_id, staff_id) for every direct and indirect report, following manager_id up to MAX_LEVELS."""
    edges = staff.filter(pl.col("manager_id").is_not_null() & (pl.col("manager_id") != pl.col("staff_id")))
    direct = edges.select("manager_id", "staff_id")
    pairs, frontier = direct, direct
    for _ in range(MAX_LEVELS - 1):
        frontier = (
            frontier.join(direct.rename({"staff_id": "report", "manager_id": "staff_id"}), on="staff_id")
            .select("manager_id", pl.col("report").alias("staff_id"))
            .filter(pl.col("manager_id") != pl.col("staff_id"))
            .join(pairs, on=["manager_id", "staff_id"], how="anti")
            .unique()
        )
        if frontier.height == 0:
            break
        pairs = pl.concat([pairs, frontier])
    return pairs


def team_attainment(attainment: pl.DataFrame, team: pl.DataFrame) -> pl.DataFrame:
    """rep_attainment summed over each manager's team per grade: coverage = visited / customers."""
    return (
        attainment.filter(pl.col("grade") != "ALL")
        .join(team, on="staff_id")
        .group_by("manager_id", "grade")
        .agg(
            pl.col("customers", "visits_required", "visits_credited").sum(),
            pl.col("customers_visited_month", "customers_visited_quarter").sum(),
            pl.col("standard_monthly_coverage", "standard_quarterly_coverage").max(),
        )
        .with_columns(
            monthly_coverage=pl.when(pl.col("customers") > 0).then(
                pl.col("customers_visited_month") / pl.col("customers")
            ),
            quarterly_coverage=pl.when(pl.col("customers") > 0).then(
                pl.col("customers_visited_quarter") / pl.col("customers")
            ),
        )
    )


def grade_movements(history: pl.DataFrame, run_date: dt.date) -> pl.DataFrame:
    """customer_id, from_grade (the previous row's grade; null = newly graded), to_grade, changed_on.

    A row of ``customer_grades`` starting in run_date's month (up to run_date) whose grade differs from
    the previous row's; rows that only change the nine-box cell or the KOL flag are not movements.
    The database's very first grading is not a movement either (it would list every customer on the
    first night); a customer graded for the first time later (a new doctor) is "newly graded".
    """
    known = history.filter(pl.col("valid_from") <= run_date)
    first_grading = known["valid_from"].min()
    return (
        known.sort("customer_id", "valid_from")
        .with_columns(from_grade=pl.col("grade").shift(1).over("customer_id"))
        .filter(
            (pl.col("valid_from") >= _month_start(run_date))
            & (
                (pl.col("from_grade").is_null() & (pl.col("valid_from") > first_grading))
                | (pl.col("from_grade") != pl.col("grade"))
            )
        )
        .select(
            "customer_id",
            _grade_label("from_grade").alias("from_grade"),
            _grade_label("grade").alias("to_grade"),
            pl.col("valid_from").alias("changed_on"),
        )
    )


def ranking_week(run_date: dt.date) -> tuple[dt.date, dt.date]:
    """The Monday..Sunday before run_date's week."""
    monday = run_date - dt.timedelta(days=run_date.weekday() + 7)
    return monday, monday + dt.timedelta(days=6)


def weekly_ranking(
    staff: pl.DataFrame, team: pl.DataFrame, done: pl.DataFrame, rules: Rules, days: int
) -> pl.DataFrame:
    """Each manager's active reps and callback staff ranked by completed / planned last week.

    planned: reps the daily plan (by team) x working days; callback staff max_calls_per_day x working
    days. Ties: more completed first, then staff_id.
    """
    members = (
        staff.filter(pl.col("role").is_in(["rep", "callback"]) & pl.col("active").fill_null(True))
        .drop("manager_id")
        .join(team, on="staff_id")
        .join(done, on="staff_id", how="left")
        .with_columns(
            completed=pl.col("completed").fill_null(0),
            planned=pl.when(pl.col("role") == "rep")
            .then(
                pl.col("team").replace_strict(
                    rules.visits.daily_plan_by_team, default=rules.visits.daily_plan, return_dtype=pl.Int64
                )
            )
            .otherwise(pl.lit(rules.callbacks.max_calls_per_day, pl.Int64))
            * days,
        )
        .with_columns(score=pl.when(pl.col("planned") > 0).then(pl.col("completed") / pl.col("planned")).otherwise(0.0))
        .sort("manager_id", "score", "completed", "staff_id", descending=[False, True, True, False])
    )
    return members.with_columns(rank=pl.int_range(1, pl.len() + 1).over("manager_id")).select(
        "manager_id", "rank", "staff_id", pl.col("name").alias("staff_name"), "role", "completed", "planned"
    )


def assemble_manager_views(
    run_date: dt.date,
    rules: Rules,
    staff: pl.DataFrame,
    customers: pl.DataFrame,
    attainment: pl.DataFrame,
    history: pl.DataFrame,
    done: pl.DataFrame | None,
) -> list[v.ManagerView]:
    """One ManagerView per active manager with at least one active report (``done``: None except on Mondays)."""
    people = _recipients(staff, "manager")
    active = staff.filter(pl.col("active").fill_null(True)).select("staff_id")
    team = team_pairs(staff).join(active, on="staff_id").filter(pl.col("manager_id").is_in(list(people)))
    teams = {k: frozenset(part["staff_id"].to_list()) for k, part in _parts(team, "manager_id", people).items()}
    att = _rows(
        attainment_frame(team_attainment(attainment, team), "manager_id"), "manager_id", v.GradeAttainment, people
    )
    names = staff.select("staff_id", pl.col("name").alias("owner_name"))
    moves = (
        grade_movements(history, run_date)
        .join(customers, on="customer_id")
        .join(names, left_on="owner_staff_id", right_on="staff_id")
        .join(team.rename({"staff_id": "owner_staff_id"}), on="owner_staff_id")
        .sort("manager_id", "changed_on", "institution", "customer_id")
    )
    by_move = _rows(moves, "manager_id", v.GradeMovement, people)
    by_rank: dict[str, list[v.RankingEntry]] = {}
    week = None
    if done is not None:
        week = ranking_week(run_date)
        ranking = weekly_ranking(staff, team, done, rules, len(workdays(*week)))
        by_rank = _rows(ranking, "manager_id", v.RankingEntry, people)
    return [
        v.ManagerView(
            run_date=run_date,
            recipient=people[sid],
            team_staff_ids=teams[sid],
            team_attainment=att.get(sid, []),
            movements=by_move.get(sid, []),
            ranking=by_rank.get(sid, []),
            ranking_week=week,
        )
        for sid in sorted(teams)
    ]


def manager_views(settings: Settings, rules: Rules, run_date: dt.date) -> list[v.View]:
    """Managers: their team's attainment, grade movements this month and, on Mondays, last week's ranking."""
    ra, cg, c, vi = RepAttainment.__table__, CustomerGrade.__table__, Customer.__table__, Visit.__table__
    month = _month_start(run_date)
    with _reader(get_engine(settings.database_url)) as bind:
        staff = _read_staff(bind)
        customers = _read(bind, sa.select(c.c.customer_id, c.c.name, c.c.institution, c.c.owner_staff_id))
        attainment = _read(bind, sa.select(ra).where(ra.c.run_date == run_date))
        moved = sa.select(cg.c.customer_id).where(cg.c.valid_from >= month, cg.c.valid_from <= run_date)
        history = _read(
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
    customers = customers.rename({"name": "customer_name"})
    return list(assemble_manager_views(run_date, rules, staff, customers, attainment, history, done))


BUILDERS = (rep_views, callback_views, home_visit_views, manager_views)
