"""Reporting lines of the staff table (``manager_id``): whose team a staff member is in, and the
nearest active manager who looks after an inactive rep's customers."""

from __future__ import annotations

import polars as pl

# A manager_id chain is followed at most this deep; a cycle in the data stops there too.
MAX_LEVELS = 10


def reporting_chain(staff: pl.DataFrame) -> pl.DataFrame:
    """(staff_id, manager_id, level) for each staff member's managers up the ``manager_id`` chain,
    level 1 being the direct manager, up to ``MAX_LEVELS``; each pair once, at its nearest level."""
    links = staff.filter(pl.col("manager_id").is_not_null() & (pl.col("manager_id") != pl.col("staff_id"))).select(
        "staff_id", "manager_id"
    )
    chain = links.with_columns(level=pl.lit(1, pl.Int64))
    frontier = chain
    for level in range(2, MAX_LEVELS + 1):
        frontier = (
            frontier.join(links.rename({"staff_id": "manager_id", "manager_id": "next"}), on="manager_id")
            .select("staff_id", pl.col("next").alias("manager_id"), level=pl.lit(level, pl.Int64))
            .filter(pl.col("manager_id") != pl.col("staff_id"))
            .join(chain, on=["staff_id", "manager_id"], how="anti")
            .unique()
        )
        if frontier.height == 0:
            break
        chain = pl.concat([chain, frontier])
    return chain


def team_pairs(staff: pl.DataFrame) -> pl.DataFrame:
    """(manager_id, staff_id) for every direct and indirect report of every manager."""
    return reporting_chain(staff).select("manager_id", "staff_id")


def managers_of(staff: pl.DataFrame, staff_ids: pl.DataFrame) -> pl.DataFrame:
    """staff_id, manager_id: the nearest active manager up the chain of each of ``staff_ids``
    (inactive managers are passed over; null when there is none)."""
    active = staff.filter(pl.col("active").fill_null(True)).select(pl.col("staff_id").alias("manager_id"))
    nearest = (
        reporting_chain(staff)
        .join(active, on="manager_id", how="semi")
        .sort("staff_id", "level")
        .group_by("staff_id", maintain_order=True)
        .first()
        .select("staff_id", "manager_id")
    )
    return staff_ids.select("staff_id").unique().join(nearest, on="staff_id", how="left")
