"""Who works an item (a patient's calls, a consult, a home visit) when the master data names nobody usable.

An item keeps the staff member it names when that person is active, has the required role and
works in the item's office; otherwise it goes to its office's pool of active staff with the role,
never to another office and never dropped (staff_id stays null only when the office has nobody
with the role, and the summary says so). The pool shares unassigned items by the rules'
``unassigned_policy``:

- ``least_loaded`` (default): items in their order each go to the staff member with the fewest
  items so far (ties: the smaller staff_id), counting the items assigned in the master data. It
  is computed in one pass: every staff member offers "slots" at load levels c, c+1, ..., and the
  n items take the n lowest (level, staff_id) slots, which is what the greedy choice does.
- ``round_robin``: the office's i-th item goes to its (i mod k)-th staff member by staff_id.

Callers order items so that long-known ones come first (e.g. by first purchase date), so a new
item does not reshuffle older ones unless the office's staffing changes.
"""

from __future__ import annotations

import polars as pl

from keqing.rules import Rules
from keqing.supply.frames import injective_seed, key, position_in_runs


def staff_pool(staff: pl.DataFrame, role: str) -> pl.DataFrame:
    """Active staff with ``role``: staff_id, office_code."""
    return staff.filter((pl.col("role") == role) & pl.col("active").fill_null(True)).select("staff_id", "office_code")


def assign_staff(
    items: pl.DataFrame, staff: pl.DataFrame, role: str, rules: Rules, order_by: list[str]
) -> pl.DataFrame:
    """``items`` (office_code, requested_staff_id, the ``order_by`` columns, anything else) plus
    ``staff_id`` (who works it) and ``staff_auto`` (true when the pool policy chose that person)."""
    pool = staff_pool(staff, role)
    # A lookup by hashed staff id (a few thousand staff, a million items); the id itself is compared too.
    seed = injective_seed(pool["staff_id"])
    hashed = key("requested_staff_id", seed)
    same_id = hashed.replace_strict(
        dict(zip(pool["staff_id"].hash(seed), pool["staff_id"], strict=True)), default=None, return_dtype=pl.String
    )
    same_office = hashed.replace_strict(
        dict(zip(pool["staff_id"].hash(seed), pool["office_code"], strict=True)), default=None, return_dtype=pl.String
    )
    valid = ((same_id == pl.col("requested_staff_id")) & (same_office == pl.col("office_code"))).fill_null(False)
    checked = items.with_columns(valid.alias("_valid"), hashed.alias("_h"))
    kept = checked.filter("_valid").with_columns(
        pl.col("requested_staff_id").alias("staff_id"), pl.lit(False).alias("staff_auto")
    )
    pooled = checked.filter(~pl.col("_valid")).sort("office_code", *order_by, nulls_last=True)
    pooled = pooled.with_columns(position_in_runs("office_code").alias("_slot"))
    counts = kept.group_by("_h").agg(pl.len().cast(pl.Int64).alias("_load"))
    loads = pool.with_columns(key("staff_id", seed).alias("_h")).join(counts, on="_h", how="left")
    loads = loads.select("staff_id", "office_code", pl.col("_load").fill_null(0))
    if rules.callbacks.unassigned_policy == "round_robin":
        chosen = _join_round_robin(pooled, _round_robin_slots(loads))
    else:
        chosen = pooled.join(_least_loaded_slots(loads, pooled), on=["office_code", "_slot"], how="left")
    chosen = chosen.with_columns(pl.col("staff_id").is_not_null().alias("staff_auto"))
    columns = [*items.columns, "staff_id", "staff_auto"]
    return pl.concat([kept.select(columns), chosen.select(columns)])


def _round_robin_slots(loads: pl.DataFrame) -> pl.DataFrame:
    return loads.sort("office_code", "staff_id").with_columns(
        position_in_runs("office_code").alias("_k"), pl.len().over("office_code").cast(pl.Int64).alias("_n")
    )


def _join_round_robin(pooled: pl.DataFrame, slots: pl.DataFrame) -> pl.DataFrame:
    sizes = slots.group_by("office_code").agg(pl.col("_n").first())
    keyed = pooled.join(sizes, on="office_code", how="left").with_columns((pl.col("_slot") % pl.col("_n")).alias("_k"))
    return keyed.join(slots.select("office_code", "_k", "staff_id"), on=["office_code", "_k"], how="left")


def _least_loaded_slots(loads: pl.DataFrame, pooled: pl.DataFrame) -> pl.DataFrame:
    """The ``_slot``-th lowest (load level, staff_id) per office, for as many slots as items wait."""
    need = pooled.group_by("office_code").agg(pl.len().cast(pl.Int64).alias("_need"))
    per_staff = loads.join(need, on="office_code", how="inner").with_columns(
        pl.col("_load").max().over("office_code").alias("_max"), pl.len().over("office_code").cast(pl.Int64).alias("_k")
    )
    # The greedy never lifts anybody above max(load) + ceil(need / k), and never gives one person more than need.
    top = pl.col("_max") + (pl.col("_need") + pl.col("_k") - 1) // pl.col("_k")
    count = pl.min_horizontal(top - pl.col("_load"), pl.col("_need")).clip(lower_bound=0)
    return (
        per_staff.with_columns(pl.int_ranges(pl.col("_load"), pl.col("_load") + count).alias("_level"))
        .explode("_level")
        .drop_nulls("_level")
        .sort("office_code", "_level", "staff_id")
        .with_columns(position_in_runs("office_code").alias("_slot"))
        .select("office_code", "_slot", "staff_id")
    )
