"""Regions of the fan-out: which staff member's email belongs to which region (``offices.region``).

The nightly run can hand the staff emails to one flow run per region (``flows/regional.py``). A
staff member belongs to the region of their office; a staff member whose office has no region, or
whose office is not in the offices table, belongs to the group ``NO_REGION`` so that nobody is left
out. Regions are not personal data: they may be flow run parameters and appear in logs.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

NO_REGION = ""  # the group of staff whose office has no (known) region
NO_REGION_LABEL = "未分区"  # how that group is named in logs and messages


def staff_regions(staff: pl.DataFrame, offices: pl.DataFrame) -> pl.DataFrame:
    """staff_id, region: every staff member (active or not) with their office's region.

    ``staff``: staff_id, office_code; ``offices``: office_code, region. A null, blank or missing
    region is ``NO_REGION``; surrounding spaces are not part of a region's name.
    """
    region = pl.col("region").str.strip_chars().fill_null(NO_REGION)
    return (
        staff.select("staff_id", "office_code")
        .join(offices.select("office_code", "region"), on="office_code", how="left")
        .select("staff_id", region.alias("region"))
        .sort("region", "staff_id")
    )


def staff_by_region(frame: pl.DataFrame) -> dict[str, list[str]]:
    """{region: sorted staff ids} of a ``staff_regions`` frame, regions in order; no staff, no region."""
    return {
        key[0]: part["staff_id"].sort().to_list() for key, part in frame.partition_by("region", as_dict=True).items()
    }


def region_label(region: str) -> str:
    """The region's name for people: ``未分区`` for the group without a region."""
    return region if region != NO_REGION else NO_REGION_LABEL


def queue_for(region: str, queues: Mapping[str, str]) -> str | None:
    """The work queue of a region's flow run: its entry in ``KEQING_REGION_QUEUES`` (``未分区`` names
    the group without a region), else None, the regional deployment's own queue."""
    return queues.get(region_label(region))
