"""Today's visit targets per rep (拜访计划), and the customers of inactive staff for their managers.

A customer's reasons for today, in the contract's priority order (section 5); the first that applies
is its ``reason``, the others that also apply are its ``other_reasons`` (``;``-separated):

1. ``appointment``: the customer's latest visit record carrying a ``next_visit_date`` set it to run_date
   (made by anyone: the commitment is the customer's, so it follows the customer to its owner);
2. ``reorder``: a terminal past its usual reorder interval (the loyalty stage's reorder reminders of
   run_date);
3. ``frequency``: the visits still missing this month (standard - visits so far) no longer fit into the
   month's remaining field working days at ``spacing_workdays`` apart unless the first is today;
4. ``coverage``: not visited this month (quarter) while the rep's coverage of that grade this month
   (quarter) is below the standard; only as many as the rep needs to reach it, longest unseen first;
5. ``reward``: a terminal holding a quarter reward not handed over: no counted visit to it dated after
   the quarter's last day (the quarter closes the night after it ends);
6. ``vip_contact``: a VIP terminal without its contact this month; then, also as ``coverage`` but with
   channel ``phone``, a terminal without its phone contact this quarter.

Each rep gets at most the daily plan (12, ONC 10) in that order; within a reason the most urgent come
first (least slack; grade A, B, C, U, N, D, V, T; not seen this quarter; longest since the last visit). The
chosen customers are then laid out as a route: institutions, and departments within them, in the
order of their most urgent customer, so an appointment's institution opens the day. On a day that is
not a field working day only appointments are listed.
"""

from __future__ import annotations

import polars as pl

from keqing.grading.attainment import VisitFacts, active_owners, customer_standards, visit_facts, visit_stats
from keqing.grading.grades import STRATEGY, TERMINAL, VIP
from keqing.grading.periods import Periods
from keqing.org import managers_of
from keqing.rules import Rules

# By priority code 0..6; code 6 is a terminal's quarterly phone contact (channel ``phone``).
REASONS = ("appointment", "reorder", "frequency", "coverage", "reward", "vip_contact", "coverage")
PHONE_CONTACT = 6
GRADE_ORDER = ("A", "B", "C", "U", "N", "D", VIP, TERMINAL)

TARGETS_SCHEMA = {
    "staff_id": pl.String,
    "rank": pl.Int64,  # position on today's route
    "priority": pl.Int64,  # position by urgency (1 = most urgent)
    "customer_id": pl.String,
    "reason": pl.String,
    "other_reasons": pl.String,  # the other reasons that also apply today, ;-separated, in priority order
    "channel": pl.String,  # face, or phone for a terminal's quarterly phone contact
    "grade": pl.String,
    "nine_box": pl.String,
    "is_kol": pl.Boolean,
    "strategy": pl.String,
    "visits_this_month": pl.Int64,
    "standard": pl.Int64,
    "last_visit_date": pl.Date,
    "institution": pl.String,
    "department": pl.String,
    "office_code": pl.String,
}
ORPHANS_SCHEMA = {
    "customer_id": pl.String,
    "former_staff_id": pl.String,
    "manager_id": pl.String,
    "office_code": pl.String,
    "grade": pl.String,
    "nine_box": pl.String,
    "is_kol": pl.Boolean,
    "reason": pl.String,  # what today would have held for the customer, or null
    "visits_this_month": pl.Int64,
    "standard": pl.Int64,
    "last_visit_date": pl.Date,
    "institution": pl.String,
    "department": pl.String,
}


def due_today(
    customers: pl.DataFrame,
    grades: pl.DataFrame,
    visits: pl.DataFrame,
    periods: Periods,
    rules: Rules,
    facts: VisitFacts | None = None,
    reorders: pl.DataFrame | None = None,
    rewards: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Every customer with its figures for today and its reasons (null when nothing is due).

    ``reorders``: customer_id of the terminals overdue for their reorder today. ``rewards``:
    customer_id, quarter_end of the rewards of closed quarters (handed over or not).
    Columns: customer_id, owner_staff_id, office_code, institution, department, grade, nine_box,
    is_kol, standard, visits_this_month, quarter_visits, last_visit_date, reason, other_reasons,
    channel, priority_code, slack and grade_rank (the sort keys).
    """
    facts = facts or visit_facts(visits, customers, periods, rules)
    stats = visit_stats(facts, periods.plan_month_start, periods.plan_quarter_start)
    standards = customer_standards(customers, grades, rules)
    # An appointment: the latest visit record carrying a next_visit_date commits to run_date.
    appointed = facts.last.select(
        "customer_id", (pl.col("next_visit_date") == periods.run_date).fill_null(False).alias("appointed")
    )
    base = (
        customers.select("customer_id", "kind", "owner_staff_id", "office_code", "institution", "department")
        .join(grades.select("customer_id", "grade", "nine_box", "is_kol"), on="customer_id")
        .join(standards, on="customer_id")
        .join(stats, on="customer_id", how="left")
        .join(appointed, on="customer_id", how="left")
        .join(_reorder_flags(reorders), on="customer_id", how="left")
        .join(_reward_flags(rewards, facts.last), on="customer_id", how="left")
        .with_columns(
            pl.col("month_visits", "quarter_visits").fill_null(0),
            pl.col("appointed", "reorder", "reward").fill_null(False),
        )
    )
    remaining = (pl.col("standard") - pl.col("month_visits")).clip(lower_bound=0)
    days_needed = (remaining - 1) * rules.visits.spacing_workdays + 1
    # Slack: working days the first visit can still wait (negative: behind already).
    slack = pl.lit(periods.workdays_left - 1) - days_needed
    is_terminal = pl.col("kind") == "terminal"
    frequency = ~is_terminal & (remaining > 0) & (slack < 0)
    # Coverage gaps: as many unvisited customers of a grade as the rep still needs to reach the grade's
    # coverage standard this month (quarter), longest unseen first.
    base = base.sort("owner_staff_id", "grade", "quarter_visits", "last_visit_date", "customer_id", nulls_last=False)
    coverage = ~is_terminal & (
        _gap(pl.col("month_visits") == 0, pl.col("std_monthly_coverage"))
        | _gap(pl.col("quarter_visits") == 0, pl.col("std_quarterly_coverage"))
    )
    vip = (pl.col("grade") == VIP) & (pl.col("month_visits") < pl.col("standard"))
    quarterly = is_terminal & (pl.col("quarter_visits") < pl.col("quarter_standard"))
    reorder = is_terminal & pl.col("reorder")
    reward = is_terminal & pl.col("reward")
    # One condition per priority code (REASONS); off a field working day only appointments count.
    off = pl.lit(False)
    workday = periods.is_workday
    applies = [pl.col("appointed")] + [
        cond if workday else off for cond in (reorder, frequency, coverage, reward, vip, quarterly)
    ]
    code = pl.lit(None, pl.Int64)
    for i in reversed(range(len(applies))):
        code = pl.when(applies[i]).then(pl.lit(i)).otherwise(code)
    code = code.cast(pl.Int64)
    others = pl.concat_str(
        [
            pl.when(cond & (code != i)).then(pl.lit(REASONS[i]))  # codes 3 and 6 never both apply
            for i, cond in enumerate(applies)
        ],
        separator=";",
        ignore_nulls=True,
    )
    grade_rank = pl.col("grade").replace_strict(
        {g: i for i, g in enumerate(GRADE_ORDER)}, default=len(GRADE_ORDER), return_dtype=pl.Int64
    )
    return base.with_columns(
        code.alias("priority_code"),
        pl.when(code.is_not_null() & (others != "")).then(others).alias("other_reasons"),
        pl.when(frequency).then(slack).otherwise(0).cast(pl.Int64).alias("slack"),
        grade_rank.alias("grade_rank"),
    ).select(
        "customer_id",
        "owner_staff_id",
        "office_code",
        "institution",
        "department",
        "grade",
        "nine_box",
        "is_kol",
        "standard",
        pl.col("month_visits").alias("visits_this_month"),
        "quarter_visits",
        "last_visit_date",
        pl.col("priority_code").replace_strict(dict(enumerate(REASONS)), default=None).alias("reason"),
        "other_reasons",
        pl.when(pl.col("priority_code") == PHONE_CONTACT)
        .then(pl.lit("phone"))
        .otherwise(pl.lit("face"))
        .alias("channel"),
        "priority_code",
        "slack",
        "grade_rank",
    )


def _reorder_flags(reorders: pl.DataFrame | None) -> pl.DataFrame:
    """customer_id, reorder (true) of the terminals overdue for their reorder."""
    if reorders is None:
        return pl.DataFrame(schema={"customer_id": pl.String, "reorder": pl.Boolean})
    return reorders.select("customer_id").unique().with_columns(pl.lit(True).alias("reorder"))


def _reward_flags(rewards: pl.DataFrame | None, last: pl.DataFrame) -> pl.DataFrame:
    """customer_id, reward (true) of the terminals holding a reward not handed over yet: no counted
    visit dated after the quarter's last day (``last``: customer_id, last_visit_date)."""
    if rewards is None:
        return pl.DataFrame(schema={"customer_id": pl.String, "reward": pl.Boolean})
    return (
        rewards.select("customer_id", "quarter_end")
        .join(last.select("customer_id", "last_visit_date"), on="customer_id", how="left")
        .filter(pl.col("last_visit_date").is_null() | (pl.col("last_visit_date") <= pl.col("quarter_end")))
        .select("customer_id")
        .unique()
        .with_columns(pl.lit(True).alias("reward"))
    )


def _gap(unvisited: pl.Expr, standard: pl.Expr) -> pl.Expr:
    """Within each (owner, grade), in the frame's order: the first unvisited customers, as many as are
    needed to bring coverage up to ``standard`` (ceil(standard x customers) - visited)."""
    group = ["owner_staff_id", "grade"]
    required = (standard * pl.len().over(group)).round(9).ceil()
    visited = (~unvisited).sum().over(group)
    order = unvisited.cast(pl.Int64).cum_sum().over(group)
    return unvisited & (order <= required - visited)


_URGENCY = ["priority_code", "slack", "grade_rank", "quarter_visits", "last_visit_date", "customer_id"]


def visit_targets(
    customers: pl.DataFrame,
    grades: pl.DataFrame,
    staff: pl.DataFrame,
    visits: pl.DataFrame,
    periods: Periods,
    rules: Rules,
    due: pl.DataFrame | None = None,
    reorders: pl.DataFrame | None = None,
    rewards: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Today's list per active owner: at most the daily plan, by urgency, laid out as a route.

    ``due`` is ``due_today(...)`` when the caller has it already (else ``reorders`` and ``rewards``
    go to it).
    """
    if due is None:
        due = due_today(customers, grades, visits, periods, rules, reorders=reorders, rewards=rewards)
    owners = active_owners(staff, rules).select(pl.col("staff_id").alias("owner_staff_id"), "daily_plan")
    chosen = (
        due.filter(pl.col("priority_code").is_not_null())
        .join(owners, on="owner_staff_id", how="inner")
        .sort(_URGENCY, nulls_last=[False] * len(_URGENCY))
        .with_columns((pl.int_range(pl.len()).over("owner_staff_id") + 1).cast(pl.Int64).alias("priority"))
        .filter(pl.col("priority") <= pl.col("daily_plan"))
    )
    inst_key = pl.col("priority").min().over("owner_staff_id", "institution")
    dept_key = pl.col("priority").min().over("owner_staff_id", "institution", "department")
    routed = chosen.with_columns(inst_key.alias("_inst"), dept_key.alias("_dept")).sort(
        "owner_staff_id", "_inst", "_dept", "priority"
    )
    return (
        routed.with_columns(
            (pl.int_range(pl.len()).over("owner_staff_id") + 1).cast(pl.Int64).alias("rank"),
            pl.col("grade").replace_strict(STRATEGY, default=None).alias("strategy"),
        )
        .rename({"owner_staff_id": "staff_id"})
        .select(list(TARGETS_SCHEMA))
        .cast(TARGETS_SCHEMA)
    )


def orphan_customers(due: pl.DataFrame, staff: pl.DataFrame) -> pl.DataFrame:
    """Customers whose owner is inactive (or unknown), for the owner's nearest active manager, with what
    today would have held for them (``reason``), so none is lost while they wait for a new owner."""
    active = staff.filter(pl.col("active").fill_null(True)).select(pl.col("staff_id").alias("owner_staff_id"))
    orphans = due.join(active, on="owner_staff_id", how="anti")
    managers = managers_of(staff, orphans.select(pl.col("owner_staff_id").alias("staff_id")))
    return (
        orphans.join(managers.rename({"staff_id": "owner_staff_id"}), on="owner_staff_id", how="left")
        .rename({"owner_staff_id": "former_staff_id"})
        .select(list(ORPHANS_SCHEMA))
        .cast(ORPHANS_SCHEMA)
        .sort("manager_id", "former_staff_id", "customer_id", nulls_last=True)
    )
