"""Rural home-visit plans (家访) per village and free-clinic event.

A free clinic (义诊) sells to many villagers on one day; the home-visit worker goes back to each
village when the medicine runs out. Transport is hard, so the whole village is planned for one
date: the expiry date (last covered day) of the most common purchase quantity among the event's
buyers in that village, ties going to the larger quantity (seed 000: of 10 buyers, 2 bought 5 boxes
and 7 bought 7, so the visit is when 7 boxes are used up). A buyer's quantity is all the boxes they
bought at the event; the days per box are those of the product the village bought most of there.

A visit day is a field working day (the next one when the run-out date is a day off), and a worker
makes at most ``max_visits_per_day`` household visits a day: buyers beyond that move to the next
working day, in order of planned date, event, village and patient. With release day r_i (a
working-day number) and capacity c, the i-th visit of a worker takes slot
s_i = max(c * r_i, s_{i-1} + 1) = i + max_{k <= i}(c * r_k - k), so day = s_i // c.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.calendar import WorkCalendar
from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.supply.assignment import assign_staff
from keqing.supply.frames import as_date, day_number, injective_seed, key, position_in_runs
from keqing.supply.supply import days_of_supply

EVENT_PURCHASES_SCHEMA = {
    "patient_id": pl.String,
    "product_code": pl.String,
    "boxes": pl.Int64,
    "purchase_date": pl.Date,
    "event_id": pl.String,
}
VILLAGE = ["event_id", "township", "village"]
_SHIFT = 1 << 24  # packs (count, value) pairs with values below 16.7 million (boxes, product ranks)
PLAN_COLUMNS = {
    "plan_no": pl.Int32,
    "staff_id": pl.String,
    "office_code": pl.String,
    "event_id": pl.String,
    "township": pl.String,
    "village": pl.String,
    "event_date": pl.Date,
    "product_code": pl.String,
    "boxes": pl.Int64,
    "planned_date": pl.Date,
    "visit_date": pl.Date,
    "patients": pl.Int32,
}


def _event_sales(
    event_purchases: pl.DataFrame, patients: pl.DataFrame, cutoff: dt.date, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Event sales with the buyer's office, village and worker, and the table of (event, village).

    Returns (sales with ``_v``, the village number; villages: _v, event_id, township, village).
    """
    people = patients.select(
        key("patient_id", seed).alias("_pk"),
        "office_code",
        "township",
        "village",
        pl.col("home_visit_staff_id").alias("requested_staff_id"),
    )
    sales = (
        event_purchases.filter(pl.col("event_id").is_not_null() & (pl.col("purchase_date") <= cutoff))
        .with_columns(key("patient_id", seed).alias("_pk"))
        .join(people, on="_pk", how="inner")
    )
    villages = sales.select(VILLAGE).unique().sort(VILLAGE, nulls_last=True).with_row_index("_v")
    return sales.join(villages, on=VILLAGE, how="inner", nulls_equal=True), villages


def village_runs_out(
    event_purchases: pl.DataFrame,
    products: pl.DataFrame,
    patients: pl.DataFrame,
    cutoff: dt.date,
    seed: int | None = None,
) -> pl.DataFrame:
    """Per event and village: the buyers' most common quantity and the day it runs out.

    Columns: event_id, township, village, event_date (the event's first sale), product_code, boxes
    (the most common quantity), buyers, run_out_date (event_date + its days of supply - 1).
    """
    seed = injective_seed(patients["patient_id"]) if seed is None else seed
    sales, villages = _event_sales(event_purchases, patients, cutoff, seed)
    return _runs_out(sales, villages, products).drop("_v")


def _runs_out(sales: pl.DataFrame, villages: pl.DataFrame, products: pl.DataFrame) -> pl.DataFrame:
    first_sale = sales.group_by("_v").agg(pl.col("purchase_date").min().alias("_first"))
    event_date = villages.join(first_sale, on="_v").group_by("event_id").agg(pl.col("_first").min().alias("event_date"))
    # "Largest count, then ..." picks as the maximum of a packed integer per village (no sort of the groups).
    codes = sorted(products["product_code"].to_list())
    rank = pl.col("product_code").replace_strict(
        {c: i for i, c in enumerate(codes)}, default=None, return_dtype=pl.Int64
    )
    product = (
        sales.group_by("_v", "product_code")
        .agg(pl.col("boxes").sum().alias("_sold"))
        .group_by("_v")
        .agg((pl.col("_sold") * _SHIFT + (_SHIFT - 1 - rank)).max().alias("_best"))  # most boxes, then first code
        .select("_v", (_SHIFT - 1 - pl.col("_best") % _SHIFT).alias("_rank"))
        .with_columns(
            pl.col("_rank").replace_strict(dict(enumerate(codes)), return_dtype=pl.String).alias("product_code")
        )
        .drop("_rank")
    )
    quantities = sales.group_by("_v", "_pk").agg(pl.col("boxes").sum())
    per_village = (
        quantities.group_by("_v", "boxes")
        .agg(pl.len().cast(pl.Int64).alias("_buyers"))
        .group_by("_v")
        .agg(
            (pl.col("_buyers") * _SHIFT + pl.col("boxes"))
            .max()
            .alias("_mode"),  # most buyers, then the larger quantity
            pl.col("_buyers").sum().cast(pl.Int32).alias("buyers"),
        )
        .select("_v", (pl.col("_mode") % _SHIFT).alias("boxes"), "buyers")
    )
    groups = (
        villages.join(per_village, on="_v")
        .join(product, on="_v")
        .join(event_date, on="event_id", how="inner", nulls_equal=True)
    )
    return (
        days_of_supply(groups, products)
        .select(
            "_v",
            *VILLAGE,
            "event_date",
            "product_code",
            "boxes",
            "buyers",
            as_date(day_number(pl.col("event_date")) + pl.col("days") - 1).alias("run_out_date"),
        )
        .sort("_v")
    )


def _workdays(
    calendar: WorkCalendar, start: dt.date, *, through: dt.date | None = None, count: int = 0
) -> list[dt.date]:
    """Working days from ``start`` on, up to the first one on or after ``through`` and at least ``count``.

    A loop over days (a few hundred), not over rows.
    """
    days: list[dt.date] = []
    day = start
    while len(days) < count or (through is not None and (not days or days[-1] < through)):
        if calendar.is_workday(day):
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def home_visit_plan(
    event_purchases: pl.DataFrame,
    products: pl.DataFrame,
    patients: pl.DataFrame,
    staff: pl.DataFrame,
    run_date: dt.date,
    rules: Rules,
    seed: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Plans whose visit falls in [run_date, run_date + plan_days): (plans, their patients).

    ``plans``: one row per worker, event, village and visit date (PLAN_COLUMNS); ``members``:
    plan_no, patient_id. Buyers whose worker is unusable go to their office's home-visit staff;
    an office without any keeps a staff-less plan on the planned date.
    """
    cap = rules.home_visits.max_visits_per_day
    seed = injective_seed(patients["patient_id"]) if seed is None else seed
    sales, villages = _event_sales(event_purchases, patients, cutoff_for(run_date), seed)
    runs_out = _runs_out(sales, villages, products)
    if runs_out.height == 0:
        return pl.DataFrame(schema=PLAN_COLUMNS), pl.DataFrame(schema={"plan_no": pl.Int32, "patient_id": pl.String})
    calendar = _workdays(rules.work_calendar, runs_out["run_out_date"].min(), through=runs_out["run_out_date"].max())
    index = pl.DataFrame(
        {"planned_date": calendar, "_r": range(len(calendar))}, schema={"planned_date": pl.Date, "_r": pl.Int64}
    )
    # The planned date: the run-out date, or the next working day (an as-of join forward); then
    # villages are numbered in the order their visits are planned.
    runs_out = (
        runs_out.sort("run_out_date")
        .join_asof(index, left_on="run_out_date", right_on="planned_date", strategy="forward")
        .sort("planned_date", *VILLAGE, nulls_last=True)
        .with_row_index("_vr")
    )
    buyers = (
        sales.group_by("_v", "_pk")
        .agg(pl.col("patient_id", "office_code", "requested_staff_id").first())
        .join(runs_out.select("_v", "_vr", "_r"), on="_v")
    )
    assigned = assign_staff(buyers, staff, "home_visit", rules, order_by=["_vr", "patient_id"])
    workers = sorted(assigned["staff_id"].drop_nulls().unique().to_list())
    worker_number = pl.col("staff_id").replace_strict(
        {w: i for i, w in enumerate(workers)}, default=None, return_dtype=pl.Int64
    )
    ranked = (
        assigned.with_columns(worker_number.fill_null(len(workers)).alias("_list"))
        .sort("_list", "_vr", "patient_id")
        .with_columns(position_in_runs("_list").alias("_i"), (position_in_runs("_list") == 0).cum_sum().alias("_w"))
    )
    # slot = i + running max of (cap * r - i) per worker; workers offset by a stride so one cum_max serves all.
    v = pl.col("_r") * cap - pl.col("_i")
    bound = ranked.select(v.abs().max()).item() or 0
    stride = 1 << (2 * bound + 2).bit_length()
    w = pl.col("_w").cast(pl.Int64)
    slot = pl.col("_i") + (v + w * stride).cum_max() - w * stride
    ranked = ranked.with_columns(
        pl.when(pl.col("staff_id").is_null()).then(pl.col("_r")).otherwise(slot // cap).alias("_day")
    )
    needed = int(ranked["_day"].max()) + 1
    if needed > len(calendar):
        calendar = _workdays(rules.work_calendar, calendar[0], count=needed)
    visit_day = pl.Series("visit_date", calendar, dtype=pl.Date)
    horizon = run_date + dt.timedelta(days=rules.home_visits.plan_days)
    members = ranked.with_columns(visit_day.gather(ranked["_day"]).alias("visit_date")).filter(
        (pl.col("visit_date") >= run_date) & (pl.col("visit_date") < horizon)
    )
    plans = (
        members.group_by("visit_date", "_list", "staff_id", "office_code", "_vr")
        .agg(pl.len().cast(pl.Int32).alias("patients"))
        .join(runs_out.drop("_r", "_v", "buyers", "run_out_date"), on="_vr")
        .sort("visit_date", "_list", "office_code", "_vr")
        .with_row_index("plan_no", offset=1)
        .with_columns(pl.col("plan_no").cast(pl.Int32))
    )
    member_rows = (
        members.join(
            plans.select("plan_no", "visit_date", "_list", "office_code", "_vr"),
            on=["visit_date", "_list", "office_code", "_vr"],
        )
        .select("plan_no", "patient_id")
        .sort("plan_no", "patient_id")
    )
    return plans.select(list(PLAN_COLUMNS)), member_rows
