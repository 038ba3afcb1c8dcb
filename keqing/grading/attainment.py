"""Visit standards per customer and month-to-date attainment per rep (处方医生覆盖率和拜访频率).

What counts as a visit (decisions where the contract is silent, see docs/grading.md):

- only ``completed`` visits to customers (target_type ``customer``), dated up to the cutoff;
- on doctors and non-prescribers, a call in one of ``visits.call_channels`` (face, meeting); on
  terminals, a contact in one of ``visits.contact_channels`` (face, phone, wechat, meeting);
- by the customer's owning rep only (``visits.count_visits_by: owner``; ``anyone`` counts every
  staff member's visits);
- at most one per customer per day (a second record of the same day is the same call).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from keqing.grading.grades import NONPRESCRIBER, TERMINAL, UNGRADED, VIP, nonprescriber_standard
from keqing.grading.periods import Periods
from keqing.rules import Rules

STANDARD_SCHEMA = {
    "customer_id": pl.String,
    "standard": pl.Int64,  # visits (terminals: contacts) a month
    "quarter_standard": pl.Int64,  # contacts a quarter (terminals), else null
    "std_monthly_coverage": pl.Float64,
    "std_quarterly_coverage": pl.Float64,
}


def customer_standards(customers: pl.DataFrame, grades: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Each customer's visit standard from its grade (contract section 4, Visit standards).

    A-D: the grade's table row; U (no rx data yet): the row of ``visits.ungraded_standard``; N: by
    title (``nonprescriber_visits``), with the non-prescriber coverage; V (VIP terminal):
    ``vip_contacts_per_month`` and full coverage; T: no monthly contact, but every terminal
    ``terminal_phone_contacts_per_quarter`` a quarter (quarterly coverage 100%).
    """
    v = rules.visits
    std = dict(v.standards)
    std[UNGRADED] = v.standards[v.ungraded_standard]
    grade = pl.col("grade")

    def by_grade(attr: str) -> pl.Expr:
        expr = pl.lit(None)
        for code, s in reversed(list(std.items())):
            expr = pl.when(grade == code).then(pl.lit(getattr(s, attr))).otherwise(expr)
        return expr

    quarterly_terminal = v.terminal_phone_contacts_per_quarter
    return (
        grades.select("customer_id", "grade", "is_kol")
        .join(customers.select("customer_id", "title"), on="customer_id", how="left")
        .with_columns(nonprescriber_standard(rules).alias("np_standard"))
        .select(
            "customer_id",
            pl.when(grade == NONPRESCRIBER)
            .then(pl.col("np_standard"))
            .when(grade == VIP)
            .then(pl.lit(v.vip_contacts_per_month))
            .when(grade == TERMINAL)
            .then(pl.lit(0))
            .otherwise(by_grade("visits_per_month"))
            .alias("standard"),
            pl.when(grade.is_in([VIP, TERMINAL])).then(pl.lit(quarterly_terminal)).alias("quarter_standard"),
            pl.when(grade == NONPRESCRIBER)
            .then(pl.lit(v.nonprescriber_monthly_coverage))
            .when(grade == VIP)
            .then(pl.lit(1.0))
            .when(grade == TERMINAL)
            .then(pl.lit(0.0))
            .otherwise(by_grade("monthly_coverage"))
            .alias("std_monthly_coverage"),
            pl.when(grade == NONPRESCRIBER)
            .then(pl.lit(v.nonprescriber_quarterly_coverage))
            .when(grade.is_in([VIP, TERMINAL]))
            .then(pl.lit(1.0))
            .otherwise(by_grade("quarterly_coverage"))
            .alias("std_quarterly_coverage"),
        )
        .cast(STANDARD_SCHEMA)
    )


@dataclass(frozen=True)
class VisitFacts:
    """What the stage needs from the visits, computed once per run (the visits are the big input).

    ``last``: per customer, ``last_visit_date`` (last counted visit) and ``next_visit_date`` (the
    commitment of its latest visit record carrying one, any outcome, by anyone). ``counted``: counted
    visits since the report quarter's start, one per customer and day. ``calls``: completed calls in
    ``call_channels`` by any staff member to any customer since the report month's start, one per
    staff member, customer and day.
    """

    last: pl.DataFrame
    counted: pl.DataFrame
    calls: pl.DataFrame


def visit_facts(visits: pl.DataFrame, customers: pl.DataFrame, periods: Periods, rules: Rules) -> VisitFacts:
    """Visits to customers in the ``lookback_months`` up to the cutoff, reduced to ``VisitFacts``.

    Rows are filtered before they are joined or grouped (the visits are by far the largest input).
    """
    v = rules.visits
    before_run = dt.datetime.combine(periods.run_date, dt.time())
    since = dt.datetime.combine(periods.visits_since(v.lookback_months), dt.time())
    completed = pl.col("outcome") == "completed"
    base = (
        visits.lazy()
        .filter(
            (pl.col("target_type") == "customer") & (pl.col("visit_at") < before_run) & (pl.col("visit_at") >= since)
        )
        .select(
            "staff_id",
            pl.col("target_id").alias("customer_id"),
            "visit_at",
            "channel",
            pl.col("outcome").fill_null("completed"),
            "next_visit_date",
        )
    )
    # The commitment of each customer's latest visit record that carries one (any outcome, by anyone).
    commitments = (
        base.filter(pl.col("next_visit_date").is_not_null())
        .group_by("customer_id")
        .agg(pl.col("next_visit_date").sort_by("visit_at").last())
    )
    # Counted visits: completed, in the customer kind's channels, by the owner (or anyone).
    is_terminal = pl.col("kind") == "terminal"
    channel_ok = (
        pl.when(is_terminal)
        .then(pl.col("channel").is_in(v.contact_channels))
        .otherwise(pl.col("channel").is_in(v.call_channels))
    )
    if v.count_visits_by == "owner":
        channel_ok = channel_ok & (pl.col("staff_id") == pl.col("owner_staff_id"))
    counted = (
        base.filter(completed & pl.col("channel").is_in(set(v.call_channels) | set(v.contact_channels)))
        .select("staff_id", "customer_id", "channel", pl.col("visit_at").dt.date().alias("day"))
        .join(customers.lazy().select("customer_id", "kind", "owner_staff_id"), on="customer_id", how="inner")
        .filter(channel_ok)
        .select("customer_id", "day")
    )
    last = counted.group_by("customer_id").agg(pl.col("day").max().alias("last_visit_date"))
    counted_days = counted.filter(pl.col("day") >= periods.report_quarter_start).unique()
    calls = (
        base.filter(
            completed
            & pl.col("channel").is_in(v.call_channels)
            & (pl.col("visit_at") >= dt.datetime.combine(periods.report_month_start, dt.time()))
        )
        .select("staff_id", "customer_id", pl.col("visit_at").dt.date().alias("day"))
        .unique()
    )
    last_df, commitments_df, counted_df, calls_df = pl.collect_all([last, commitments, counted_days, calls])
    facts_last = last_df.join(commitments_df, on="customer_id", how="full", coalesce=True)
    return VisitFacts(last=facts_last, counted=counted_df, calls=calls_df)


def visit_stats(facts: VisitFacts, month_start: dt.date, quarter_start: dt.date) -> pl.DataFrame:
    """Per customer: counted visits this month and quarter (from those starts on) and the last visit date."""
    counts = facts.counted.group_by("customer_id").agg(
        (pl.col("day") >= month_start).sum().cast(pl.Int64).alias("month_visits"),
        (pl.col("day") >= quarter_start).sum().cast(pl.Int64).alias("quarter_visits"),
    )
    return facts.last.select("customer_id", "last_visit_date").join(counts, on="customer_id", how="full", coalesce=True)


def rep_calls(facts: VisitFacts) -> pl.DataFrame:
    """Calls per staff member this (report) month: the numerator of calls per field working day."""
    return facts.calls.group_by("staff_id").agg(pl.len().cast(pl.Int64).alias("calls"))


def daily_plan(rules: Rules) -> pl.Expr:
    """A rep's visits a field working day from the ``team`` column: 12, or the team's (ONC 10)."""
    return pl.col("team").replace_strict(
        rules.visits.daily_plan_by_team, default=rules.visits.daily_plan, return_dtype=pl.Int64
    )


def active_owners(staff: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Active staff with their daily plan. Any active staff member who owns customers plans visits
    for them; inactive owners' customers are orphans."""
    return staff.filter(pl.col("active").fill_null(True)).select(
        "staff_id", "office_code", "team", "role", daily_plan(rules).alias("daily_plan")
    )


ATTAINMENT_SCHEMA = {
    "staff_id": pl.String,
    "grade": pl.String,
    "office_code": pl.String,
    "team": pl.String,
    "month": pl.Date,
    "customers": pl.Int64,
    "visits_required": pl.Int64,
    "visits_done": pl.Int64,
    "visits_credited": pl.Int64,
    "attainment": pl.Float64,
    "customers_visited_month": pl.Int64,
    "monthly_coverage": pl.Float64,
    "customers_visited_quarter": pl.Int64,
    "quarterly_coverage": pl.Float64,
    "standard_visits": pl.Int64,
    "standard_monthly_coverage": pl.Float64,
    "standard_quarterly_coverage": pl.Float64,
    "calls": pl.Int64,
    "field_days_so_far": pl.Int64,
    "field_days_in_month": pl.Int64,
    "avg_calls_per_day": pl.Float64,
    "daily_plan": pl.Int64,
}
ALL = "ALL"


def rep_attainment(
    customers: pl.DataFrame,
    grades: pl.DataFrame,
    staff: pl.DataFrame,
    visits: pl.DataFrame,
    periods: Periods,
    rules: Rules,
    facts: VisitFacts | None = None,
) -> pl.DataFrame:
    """Month-to-date attainment of every active owner, per grade and in total (grade ``ALL``).

    For the month of the cutoff: visits_credited = sum over the rep's customers of min(visits,
    standard), so a fifth visit to an A doctor does not make up for a missed B; coverage = customers
    visited at least once / customers of the grade (month and quarter to date); calls per field
    working day = calls this month / field working days from the 1st to the cutoff, against the
    rep's daily plan (12, ONC 10). ``facts`` is ``visit_facts(...)`` when the caller has it already.
    """
    facts = facts or visit_facts(visits, customers, periods, rules)
    stats = visit_stats(facts, periods.report_month_start, periods.report_quarter_start)
    standards = customer_standards(customers, grades, rules)
    owners = active_owners(staff, rules)
    book = (
        customers.select("customer_id", "owner_staff_id")
        .join(grades.select("customer_id", "grade"), on="customer_id")
        .join(standards, on="customer_id")
        .join(stats, on="customer_id", how="left")
        .with_columns(pl.col("month_visits", "quarter_visits").fill_null(0))
        .join(owners.select(pl.col("staff_id").alias("owner_staff_id")), on="owner_staff_id", how="semi")
        .with_columns(pl.min_horizontal("month_visits", "standard").alias("credited"))
    )

    def measures() -> list[pl.Expr]:
        return [
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("standard").sum().cast(pl.Int64).alias("visits_required"),
            pl.col("month_visits").sum().cast(pl.Int64).alias("visits_done"),
            pl.col("credited").sum().cast(pl.Int64).alias("visits_credited"),
            (pl.col("month_visits") > 0).sum().cast(pl.Int64).alias("customers_visited_month"),
            (pl.col("quarter_visits") > 0).sum().cast(pl.Int64).alias("customers_visited_quarter"),
        ]

    def uniform(name: str) -> pl.Expr:
        return pl.when(pl.col(name).n_unique() == 1).then(pl.col(name).first()).alias(name)

    per_grade = book.group_by("owner_staff_id", "grade").agg(
        *measures(),
        uniform("standard").alias("standard_visits"),
        uniform("std_monthly_coverage").alias("standard_monthly_coverage"),
        uniform("std_quarterly_coverage").alias("standard_quarterly_coverage"),
    )
    total = book.group_by("owner_staff_id").agg(*measures()).with_columns(pl.lit(ALL).alias("grade"))
    rows = pl.concat([per_grade, total], how="diagonal_relaxed").rename({"owner_staff_id": "staff_id"})
    # Every active rep gets a total row, also without customers.
    reps = owners.filter((pl.col("role") == "rep") | pl.col("staff_id").is_in(rows["staff_id"].implode()))
    empty_totals = reps.select("staff_id", pl.lit(ALL).alias("grade")).join(rows, on=["staff_id", "grade"], how="anti")
    rows = pl.concat([rows, empty_totals], how="diagonal_relaxed").with_columns(
        pl.col("customers", "visits_required", "visits_done", "visits_credited").fill_null(0),
        pl.col("customers_visited_month", "customers_visited_quarter").fill_null(0),
    )
    calls = rep_calls(facts)
    days = periods.report_days_so_far
    return (
        rows.join(reps.select("staff_id", "office_code", "team", "daily_plan"), on="staff_id", how="inner")
        .join(calls, on="staff_id", how="left")
        .with_columns(
            pl.lit(periods.report_month_start).alias("month"),
            pl.col("calls").fill_null(0),
            pl.lit(days).alias("field_days_so_far"),
            pl.lit(periods.report_days_in_month).alias("field_days_in_month"),
            _ratio(pl.col("visits_credited"), pl.col("visits_required")).alias("attainment"),
            _ratio(pl.col("customers_visited_month"), pl.col("customers")).alias("monthly_coverage"),
            _ratio(pl.col("customers_visited_quarter"), pl.col("customers")).alias("quarterly_coverage"),
        )
        .with_columns(_ratio(pl.col("calls"), pl.col("field_days_so_far")).alias("avg_calls_per_day"))
        .select(list(ATTAINMENT_SCHEMA))
        .cast(ATTAINMENT_SCHEMA)
        .sort("staff_id", "grade")
    )


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator > 0).then(numerator.cast(pl.Float64) / denominator)
