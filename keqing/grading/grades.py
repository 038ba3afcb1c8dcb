"""Customer grades (分级): doctors A-D and the nine-box from rx_monthly, N for non-prescribers, VIP terminals.

Grade codes (``customer_grades.grade``):

- doctors: ``A`` (high potential, high support, 防御), ``B`` (high potential, low support, 进攻),
  ``C`` (low potential, high support, 维持), ``D`` (low potential, low support, 观察), and ``U``
  (未分级: no rx data in the grading window yet, so neither potential nor support is known);
- non-prescribers: ``N``; terminals: ``V`` (VIP) or ``T``.

The KOL flag is kept beside any grade. The nine-box cell (``A1`` .. ``C3``) is potential band A/B/C
(high to low) and support band 1/2/3 (high to low), only for graded doctors.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.clock import cutoff_for
from keqing.dates import add_months, month_start
from keqing.rules import Rules

UNGRADED, NONPRESCRIBER, VIP, TERMINAL = "U", "N", "V", "T"
STRATEGY = {"A": "防御", "B": "进攻", "C": "维持", "D": "观察"}

GRADES_SCHEMA = {
    "customer_id": pl.String,
    "kind": pl.String,
    "grade": pl.String,
    "nine_box": pl.String,
    "potential": pl.Float64,
    "support": pl.Float64,
    "rx_months": pl.Int64,
    "is_kol": pl.Boolean,
}


def rx_window(rx: pl.DataFrame, run_date: dt.date, rules: Rules) -> list[dt.date]:
    """The months graded on: the last ``grading.months`` calendar months up to the newest month of
    rx_monthly that is complete by the cutoff (a month is complete once its last day is <= run_date - 1).

    The window is anchored on the newest month that has data, so a month whose figures have not
    arrived yet does not count as a month of zeros. Empty when there is no complete month of data.
    """
    complete = rx.filter(pl.col("month") < month_start(run_date))
    if complete.height == 0:
        return []
    newest = complete["month"].max()
    assert isinstance(newest, dt.date)
    return [month_start(newest, -k) for k in reversed(range(rules.grading.months))]


def doctor_scores(rx: pl.DataFrame, window: list[dt.date], rules: Rules) -> pl.DataFrame:
    """Per doctor: potential (average market_rx a month) and support (average our_rx a month).

    A doctor's products are added up per month. ``rx_months`` is the number of window months with
    rows for the doctor; the averages divide by it (``missing_months: skip``) or by the window's length.
    """
    in_window = rx.filter(pl.col("month").is_in(window))
    denominator = pl.col("rx_months") if rules.grading.missing_months == "skip" else pl.lit(len(window))
    return (
        in_window.group_by("customer_id")
        .agg(
            pl.col("market_rx").sum().alias("market"),
            pl.col("our_rx").sum().alias("ours"),
            pl.col("month").n_unique().cast(pl.Int64).alias("rx_months"),
        )
        .with_columns(
            (pl.col("market") / denominator).alias("potential"),
            (pl.col("ours") / denominator).alias("support"),
        )
        .select("customer_id", "potential", "support", "rx_months")
    )


def grade_expr(rules: Rules) -> tuple[pl.Expr, pl.Expr]:
    """(grade, nine_box) of a doctor from its ``potential`` and ``support`` columns."""
    g = rules.grading
    p, s = pl.col("potential"), pl.col("support")
    high_p, high_s = p >= g.high_potential_rx, s >= g.high_support_rx
    grade = (
        pl.when(high_p & high_s)
        .then(pl.lit("A"))
        .when(high_p)
        .then(pl.lit("B"))
        .when(high_s)
        .then(pl.lit("C"))
        .otherwise(pl.lit("D"))
    )
    p_band = pl.when(high_p).then(pl.lit("A")).when(p >= g.medium_potential_rx).then(pl.lit("B")).otherwise(pl.lit("C"))
    s_band = pl.when(high_s).then(pl.lit("1")).when(s >= g.medium_support_rx).then(pl.lit("2")).otherwise(pl.lit("3"))
    return grade, pl.concat_str(p_band, s_band)


def vip_terminals(orders: pl.DataFrame, customers: pl.DataFrame, run_date: dt.date, rules: Rules) -> pl.DataFrame:
    """Every terminal with its net order amount over the last ``vip_months`` months and its VIP flag.

    VIP = the top ``vip_share`` of the office's terminals by that amount: ceil(share x terminals in the
    office) of them (an office with 3 terminals has 1 VIP), terminals tied with the last one included,
    and never a terminal without a positive amount. Returns are subtracted. The window is the
    ``vip_months`` months ending at the cutoff (run_date - 1), both ends' days included.

    Columns: customer_id, office_code, order_amount (yuan), office_rank, office_terminals, is_vip.
    """
    cutoff = cutoff_for(run_date)
    since = add_months(cutoff, -rules.grading.vip_months)  # exclusive
    signed = pl.when(pl.col("kind") == "return").then(-pl.col("amount")).otherwise(pl.col("amount"))
    amounts = (
        orders.filter((pl.col("order_date") > since) & (pl.col("order_date") <= cutoff))
        .group_by("customer_id")
        .agg(signed.sum().alias("order_amount"))
    )
    share = rules.grading.vip_share
    terminals = customers.filter(pl.col("kind") == "terminal").select("customer_id", "office_code")
    ranked = (
        terminals.join(amounts, on="customer_id", how="left")
        .with_columns(pl.col("order_amount").fill_null(0.0).round(2))
        .with_columns(
            pl.col("order_amount").rank("min", descending=True).over("office_code").cast(pl.Int64).alias("office_rank"),
            pl.len().over("office_code").cast(pl.Int64).alias("office_terminals"),
        )
    )
    # ceil(share x n) without float noise (0.2 x 15 = 3.0000000000000004 must give 3).
    vip_count = (pl.col("office_terminals") * share).round(9).ceil()
    return ranked.with_columns(
        ((pl.col("order_amount") > 0) & (pl.col("office_rank") <= vip_count)).alias("is_vip")
    ).sort("office_code", "office_rank", "customer_id")


def nonprescriber_standard(rules: Rules) -> pl.Expr:
    """Visits a month for non-prescribers by title (a title containing a configured key, e.g.
    门诊药房组长 contains 药房组长); a non-prescribing KOL at least the ``KOL`` standard; others 0."""
    table = rules.visits.nonprescriber_visits
    title = pl.col("title").fill_null("")
    by_title = [pl.when(title.str.contains(key, literal=True)).then(pl.lit(n)).otherwise(0) for key, n in table.items()]
    kol = pl.when(pl.col("is_kol")).then(pl.lit(table.get("KOL", 0))).otherwise(0)
    return pl.max_horizontal(*by_title, kol, pl.lit(0)).cast(pl.Int64)


def grade_customers(
    customers: pl.DataFrame, rx: pl.DataFrame, orders: pl.DataFrame, run_date: dt.date, rules: Rules
) -> pl.DataFrame:
    """The grade of every customer for ``run_date`` (inputs are filtered by the cutoff here).

    Columns: customer_id, kind, grade, nine_box, potential, support (prescriptions a month),
    rx_months, is_kol.
    """
    window = rx_window(rx, run_date, rules)
    scores = doctor_scores(rx, window, rules)
    vip = vip_terminals(orders, customers, run_date, rules).select("customer_id", "is_vip")
    grade, nine_box = grade_expr(rules)
    kind = pl.col("kind")
    graded = pl.col("potential").is_not_null()
    return (
        customers.select("customer_id", "kind", pl.col("is_kol").fill_null(False))
        .join(scores, on="customer_id", how="left")
        .join(vip, on="customer_id", how="left")
        .with_columns(
            pl.when(kind == "doctor")
            .then(pl.when(graded).then(grade).otherwise(pl.lit(UNGRADED)))
            .when(kind == "terminal")
            .then(pl.when(pl.col("is_vip")).then(pl.lit(VIP)).otherwise(pl.lit(TERMINAL)))
            .otherwise(pl.lit(NONPRESCRIBER))
            .alias("grade"),
            pl.when((kind == "doctor") & graded).then(nine_box).alias("nine_box"),
        )
        .with_columns(
            # Scores belong to doctors only (an rx row of a customer who is no longer a doctor is ignored).
            *(pl.when(kind == "doctor").then(pl.col(c)).alias(c) for c in ("potential", "support", "rx_months")),
        )
        .select(list(GRADES_SCHEMA))
        .cast(GRADES_SCHEMA)
        .sort("customer_id")
    )
