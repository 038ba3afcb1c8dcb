"""Quarter close: which quarters a run closes, and each terminal's reward tier for a closed quarter.

A quarter closes once, on the first run whose cutoff is on or after its last day (the run on the
first day of the next quarter, normally), with the totals the ledger holds for it then. After the
close nothing is booked in it again: late orders count in the open quarter (see ``ledger``).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.loyalty.quarters import last_ended_quarter
from keqing.rules import LoyaltyRules

REWARD_SCHEMA: dict[str, pl.DataType] = {
    "quarter": pl.String(),
    "customer_id": pl.String(),
    "owner_staff_id": pl.String(),
    "office_code": pl.String(),
    "points": pl.Int64(),
    "tier": pl.String(),
}


def quarters_to_close(last_closed: int | None, first_booked: int | None, cutoff: dt.date) -> list[int]:
    """Quarters to close now, oldest first: from the one after the last closed quarter (or, before the
    first close, the ledger's first quarter) up to the last quarter ended by ``cutoff``."""
    start = last_closed + 1 if last_closed is not None else first_booked
    if start is None:
        return []
    return list(range(start, last_ended_quarter(cutoff) + 1))


def open_quarter(last_closed: int | None) -> int | None:
    """The quarter late entries are booked in: the one after the last closed quarter."""
    return None if last_closed is None else last_closed + 1


def tier_expr(points: pl.Expr, tiers: dict[str, int]) -> pl.Expr:
    """The highest tier whose threshold the points reach; null below the lowest."""
    expr = pl.lit(None, dtype=pl.String)
    for name, threshold in sorted(tiers.items(), key=lambda item: item[1]):
        expr = pl.when(points >= threshold).then(pl.lit(name)).otherwise(expr)
    return expr


def quarter_rewards(totals: pl.DataFrame, owners: pl.DataFrame, rules: LoyaltyRules) -> pl.DataFrame:
    """Rewards of closed quarters: terminals whose quarter total reaches a tier, with their owning rep.

    ``totals``: quarter, customer_id, points (the ledger's sums). ``owners``: customer_id,
    owner_staff_id, office_code. A terminal unknown to ``owners`` gets no reward row.
    """
    return (
        totals.join(owners, on="customer_id", how="inner")
        .with_columns(tier_expr(pl.col("points"), rules.tiers).alias("tier"))
        .filter(pl.col("tier").is_not_null())
        .select(*REWARD_SCHEMA)
        .cast(REWARD_SCHEMA)
        .sort("quarter", "owner_staff_id", "customer_id")
    )
