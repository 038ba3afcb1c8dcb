"""The emails' views assembled from the night's tables (as frames): one view per recipient, pure.

Each ``assemble_*_views`` takes the frames ``tasks/views.py`` read for a run_date, joins names in
Polars, splits the rows by owner (``split_by_recipient``) and builds each recipient's dataclasses
from their own part only. Only active staff with the view's role get one, and only when they have
work. ``render_emails`` checks isolation again before rendering.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import fields, replace

import polars as pl

from keqing.completeness import notices_for
from keqing.dates import month_start
from keqing.grading.history import grade_movements
from keqing.org import team_pairs
from keqing.ranking import ranking_week, weekly_ranking
from keqing.rules import Rules
from keqing.supply.load import staffing_needed
from reports import views as v
from reports.views import Row

# Grade codes of the grading stage -> the labels of the emails (V is a VIP terminal).
GRADE_LABELS = {"V": "VIP"}
GRADE_ORDER = ["A", "B", "C", "D", "U", "N", "V", "T"]


def _grade_label(col: str = "grade") -> pl.Expr:
    return pl.col(col).replace(GRADE_LABELS)


def _recipients(staff: pl.DataFrame, role: str) -> dict[str, v.Recipient]:
    """Active staff of ``role``, by staff_id (``active`` null counts as active, like the ops view)."""
    rows = staff.filter((pl.col("role") == role) & pl.col("active").fill_null(True))
    return {r["staff_id"]: v.Recipient(r["staff_id"], r["name"], r["email"]) for r in rows.iter_rows(named=True)}


def _parts(frame: pl.DataFrame, owner: str, keep: dict[str, v.Recipient]) -> dict[str, pl.DataFrame]:
    """``frame`` split per owner, for the recipients in ``keep`` only."""
    return {k: part for k, part in v.split_by_recipient(frame, owner).items() if k in keep}


def _rows(frame: pl.DataFrame, owner: str, row_type: type[Row], people: dict[str, v.Recipient]) -> dict[str, list[Row]]:
    """Each recipient's rows of ``frame`` (already in order) as ``row_type``, split by ``owner``.

    Only the dataclass's columns are kept, once for the whole frame, before the split; each part's
    columns are then turned into Python values at once and zipped into dataclasses (a callback
    nurse's month can list thousands of entries: per-row dicts cost 1.4 s at `large`).
    """
    names = [f.name for f in fields(row_type) if f.name in frame.columns]  # type: ignore[arg-type]
    parts = _parts(frame.select(list(dict.fromkeys([*names, owner]))), owner, people)
    return {
        k: [row_type(**dict(zip(names, r, strict=True))) for r in zip(*(part[n].to_list() for n in names), strict=True)]
        for k, part in parts.items()
    }


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
    expiring_within_days: int = 7,
    load: pl.DataFrame | None = None,
) -> list[v.CallbackView]:
    """One CallbackView per active callback nurse with calls today or entries on the month's expiry list.

    ``load``: callback_load rows (staff_id, due, capacity, waiting, waiting_since) of run_date.

    A consult follow-up has no patient: its consult_id stands in the patient_id column, with the
    caller's name and phone; the consult's disease is never shown (informed is not known).
    """
    people = _recipients(staff, "callback")
    month = month_start(run_date)
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
    load_columns = ["staff_id", pl.col("due").alias("due_calls"), "capacity", "waiting", "waiting_since"]
    by_l = _parts(load.select(load_columns), "staff_id", people) if load is not None else {}
    return [
        v.CallbackView(
            run_date=run_date,
            recipient=people[sid],
            calls=by_c.get(sid, []),
            expiry_month=month if sid in by_e else None,
            expiry_list=by_e.get(sid, []),
            must_keep=by_t[sid]["must_keep"][0] if sid in by_t else 0,
            target=by_t[sid]["target"][0] if sid in by_t else 0,
            expiring_within_days=expiring_within_days,
            **({k: x for k, x in by_l[sid].row(0, named=True).items() if k != "staff_id"} if sid in by_l else {}),
        )
        for sid in sorted(set(by_c) | set(by_e))
    ]


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


# --- managers --------------------------------------------------------------------------------


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


def assemble_manager_views(
    run_date: dt.date,
    rules: Rules,
    staff: pl.DataFrame,
    customers: pl.DataFrame,
    attainment: pl.DataFrame,
    history: pl.DataFrame,
    done: pl.DataFrame | None,
    load: pl.DataFrame | None = None,
) -> list[v.ManagerView]:
    """One ManagerView per active manager with at least one active report (``done``: None except on Mondays).

    ``load``: callback_load rows of run_date; each manager sees the team's nurses against the capacity
    and, per office of those nurses, the callback staff its calls due today need.
    """
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
        .with_columns(_grade_label("from_grade"), _grade_label("to_grade"))
        .join(customers, on="customer_id")
        .join(names, left_on="owner_staff_id", right_on="staff_id")
        .join(team.rename({"staff_id": "owner_staff_id"}), on="owner_staff_id")
        .sort("manager_id", "changed_on", "institution", "customer_id")
    )
    by_move = _rows(moves, "manager_id", v.GradeChange, people)
    by_rank: dict[str, list[v.RankingEntry]] = {}
    week = None
    if done is not None:
        week = ranking_week(run_date)
        ranking = weekly_ranking(staff, team, done, rules, len(rules.work_calendar.workdays(*week)))
        by_rank = _rows(ranking, "manager_id", v.RankingEntry, people)
    by_load: dict[str, list[v.NurseLoad]] = {}
    by_office: dict[str, list[v.OfficeStaffing]] = {}
    if load is not None:
        nurses = load.filter(pl.col("staff_id").is_not_null()).join(team, on="staff_id").join(names, on="staff_id")
        nurses = nurses.rename({"owner_name": "staff_name"}).sort(
            "manager_id", "waiting", "staff_id", descending=[False, True, False]
        )
        by_load = _rows(nurses, "manager_id", v.NurseLoad, people)
        offices = nurses.select("manager_id", "office_code").unique()
        staffing = offices.join(staffing_needed(load), on="office_code").sort("manager_id", "office_code")
        by_office = _rows(staffing, "manager_id", v.OfficeStaffing, people)
    return [
        v.ManagerView(
            run_date=run_date,
            recipient=people[sid],
            team_staff_ids=teams[sid],
            team_attainment=att.get(sid, []),
            movements=by_move.get(sid, []),
            ranking=by_rank.get(sid, []),
            ranking_week=week,
            callback_load=by_load.get(sid, []),
            staffing=by_office.get(sid, []),
        )
        for sid in sorted(teams)
    ]


def with_missing_feed_notices(views: Sequence[v.View], missing: Sequence[str], cutoff: dt.date) -> list[v.View]:
    """Each view with a 数据未到 line for every missing daily feed its list depends on."""
    if not missing:
        return list(views)
    return [replace(view, notices=view.notices + notices_for(view.kind, missing, cutoff)) for view in views]
