"""Region grouping of the fan-out: staff by their office's region, nobody left out; queues; the regional
summaries added up as one process would report them."""

from __future__ import annotations

import polars as pl

from flows.regional import combine_regions, failed_regions
from keqing.regions import NO_REGION, queue_for, region_label, staff_by_region, staff_regions

OFFICES = pl.DataFrame(
    {
        "office_code": ["OF1", "OF2", "OF3", "OF4", "OF5"],
        "region": ["华东", "华中", None, " 华东 ", ""],
    }
)
STAFF = pl.DataFrame(
    {
        "staff_id": ["S5", "S1", "S2", "S3", "S4", "S6", "S7"],
        # S4's office has no region, S6's is not in the offices table, S7's region is blank.
        "office_code": ["OF1", "OF1", "OF2", "OF4", "OF3", "OF9", "OF5"],
    }
)


def test_staff_get_their_office_region_and_the_rest_one_group_of_their_own():
    assert staff_regions(STAFF, OFFICES).rows() == [
        ("S4", ""),
        ("S6", ""),
        ("S7", ""),
        ("S1", "华东"),
        ("S3", "华东"),
        ("S5", "华东"),
        ("S2", "华中"),
    ]
    assert staff_by_region(staff_regions(STAFF, OFFICES)) == {
        "": ["S4", "S6", "S7"],
        "华东": ["S1", "S3", "S5"],
        "华中": ["S2"],
    }


def test_a_region_without_staff_has_no_group_and_no_staff_no_groups():
    only_east = STAFF.filter(pl.col("office_code") == "OF1")
    assert staff_by_region(staff_regions(only_east, OFFICES)) == {"华东": ["S1", "S5"]}
    assert staff_by_region(staff_regions(STAFF.clear(), OFFICES)) == {}


def test_queues_by_region_name_and_the_group_without_region_by_its_label():
    queues = {"华东": "east", "未分区": "east", "华中": "central"}
    assert [queue_for(r, queues) for r in ["华东", "华中", NO_REGION, "西南"]] == ["east", "central", "east", None]
    assert (region_label(NO_REGION), region_label("华东")) == ("未分区", "华东")


def test_regional_summaries_add_up_like_one_process():
    east = {
        "region": "华东",
        "render": {
            "emails": 3,
            "by_kind": {"manager": 1, "rep": 2},
            "new": 3,
            "replaced_pending": 0,
            "kept": 0,
            "bytes": 300,
            "bad_addresses": ["S9"],
            "resend": False,
            "marked_for_resend": 0,
        },
        "deliver": {"transport": "file", "written": 3, "sent": 0, "attempts": 3, "rounds": 1, "pending": 3},
    }
    central = {
        "region": "华中",
        "render": {
            "emails": 2,
            "by_kind": {"callback": 1, "rep": 1},
            "new": 1,
            "replaced_pending": 1,
            "kept": 0,
            "bytes": 150,
            "bad_addresses": ["S2"],
            "resend": False,
            "marked_for_resend": 0,
        },
        "deliver": {"transport": "file", "written": 2, "failed": 0, "attempts": 2, "rounds": 2, "pending": 2},
    }
    nobody = {"region": "", "staff": 0}  # a group whose staff have no email today: nothing rendered
    render, deliver = combine_regions([east, central, nobody])
    assert render == {
        "emails": 5,
        "by_kind": {"callback": 1, "manager": 1, "rep": 3},
        "new": 4,
        "replaced_pending": 1,
        "kept": 0,
        "bytes": 450,
        "bad_addresses": ["S2", "S9"],
        "resend": False,
        "marked_for_resend": 0,
    }
    assert deliver == {
        "transport": "file",
        "sent": 0,
        "written": 5,
        "failed": 0,
        "unknown": 0,
        "deferred": 0,
        "attempts": 5,
        "connections": 0,
        "pending": 5,
        "interrupted": 0,
        "rounds": 2,
    }


def test_every_region_not_completed_is_a_failure():
    children = [
        {"region": "华东", "state": "COMPLETED"},
        {"region": "华中", "state": "CRASHED"},
        {"region": "", "state": "RUNNING"},  # still running when the wait ran out
    ]
    assert [c["region"] for c in failed_regions(children)] == ["华中", ""]
