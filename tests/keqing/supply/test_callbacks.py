"""The callback list of a run date: cadence, overdue carry-over, lapsed, consults, greetings, capacity, ownership."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from keqing.calendar import PACKAGE
from keqing.rules import Rules, rules_from_mapping
from keqing.supply.callbacks import _pack, consult_calls, holiday_period_start
from tests.keqing.supply.scenario import consults, d, inputs, listed, patients, purchases, visits

ONE_PATIENT = patients(("P1", "OF1", "S1"))


def _days(start: str, end: str) -> list[dt.date]:
    first, last = d(start), d(end)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _follow(
    purchase_rows: pl.DataFrame,
    start: str,
    end: str,
    *,
    skip: set[str] = frozenset(),
    done: tuple[tuple, ...] = (),
    patient_rows: pl.DataFrame = ONE_PATIENT,
) -> dict[dt.date, tuple]:
    """Run every day from start to end; the nurse completes every listed call except on the ``skip`` days.

    ``done``: calls completed before ``start``. Returns {run_date: (reason, due_date)} for the days P1 was listed.
    """
    done = list(done)
    seen: dict[dt.date, tuple] = {}
    for day in _days(start, end):
        rows = listed(inputs(purchase_rows, patient_rows, visits(*done) if done else None), day.isoformat())
        mine = rows.filter(pl.col("patient_id") == "P1")
        if mine.height:
            seen[day] = (mine["reason"][0], mine["due_date"][0])
            if day.isoformat() not in skip:
                done.append(("P1", day.isoformat()))
    return seen


def test_cadence_after_a_purchase_when_every_call_is_completed():
    # Must show: a purchase on 2026-11-01 puts the patient on the lists of 11-02, 11-04, 11-07, 11-11,
    # 11-16, 11-21, ... (then every 5 days) and on no other day. 11-07 and 11-21 are Saturdays: a call
    # falling due on a day off is listed that day.
    seen = _follow(purchases(("P1", "PR30", 3, "2026-11-01")), "2026-11-02", "2026-12-08")
    assert seen == {
        d(day): ("cadence", d(day))
        for day in ("2026-11-02", "2026-11-04", "2026-11-07", "2026-11-11", "2026-11-16", "2026-11-21",
                    "2026-11-26", "2026-12-01", "2026-12-06")
    }  # fmt: skip


def test_an_unrecorded_call_stays_on_the_working_day_lists_marked_overdue():
    seen = _follow(purchases(("P1", "PR30", 3, "2026-11-01")), "2026-11-02", "2026-11-12", skip={
        "2026-11-04", "2026-11-05", "2026-11-06", "2026-11-07"
    })  # fmt: skip
    assert seen == {
        d("2026-11-02"): ("cadence", d("2026-11-02")),
        d("2026-11-04"): ("cadence", d("2026-11-04")),
        d("2026-11-05"): ("overdue", d("2026-11-04")),
        d("2026-11-06"): ("overdue", d("2026-11-04")),
        d("2026-11-07"): ("overdue", d("2026-11-04")),  # Saturday: the 11-07 call falls due, the patient is listed
        # Sunday 11-08: nothing falls due; carry-over waits for the working day
        d("2026-11-09"): ("overdue", d("2026-11-04")),  # completed on 11-09
        d("2026-11-11"): ("cadence", d("2026-11-11")),
    }


def test_a_repurchase_restarts_the_cadence():
    rows = purchases(("P1", "PR30", 3, "2026-11-01"), ("P1", "PR30", 3, "2026-11-05"))
    seen = _follow(rows, "2026-11-02", "2026-11-26", skip={"2026-11-04", "2026-11-05"})
    assert seen == {
        d("2026-11-02"): ("cadence", d("2026-11-02")),
        d("2026-11-04"): ("cadence", d("2026-11-04")),
        d("2026-11-05"): ("overdue", d("2026-11-04")),  # the run for 11-05 does not know that day's purchase yet
        # From 11-06 the cadence counts from the purchase of 11-05; the missed 11-04 call is dropped.
        d("2026-11-06"): ("cadence", d("2026-11-06")),
        d("2026-11-08"): ("cadence", d("2026-11-08")),
        d("2026-11-11"): ("cadence", d("2026-11-11")),
        d("2026-11-15"): ("cadence", d("2026-11-15")),
        d("2026-11-20"): ("cadence", d("2026-11-20")),
        d("2026-11-25"): ("cadence", d("2026-11-25")),
    }


def test_a_lapsed_patient_is_listed_once_for_a_win_back_call():
    # One box of PR10 on 10-01 lasts to 10-10 (expiry). Cadence calls run up to 10-25 (expiry + 15):
    # 10-02, 10-04, 10-07, 10-11, 10-16, 10-21 (10-26 would be past the end). No purchase by 10-25:
    # lapsed (流失) from 10-26, listed once for a win-back call, then nothing once it is completed.
    seen = _follow(purchases(("P1", "PR10", 1, "2026-10-01")), "2026-10-02", "2026-11-30")
    assert seen == {
        d("2026-10-02"): ("cadence", d("2026-10-02")),  # 8 days of supply left
        d("2026-10-04"): ("expiring", d("2026-10-04")),  # runs out within 7 days (a National Day holiday)
        d("2026-10-07"): ("expiring", d("2026-10-07")),
        d("2026-10-11"): ("expiring", d("2026-10-11")),  # ran out, within the 15-day grace
        d("2026-10-16"): ("expiring", d("2026-10-16")),
        d("2026-10-21"): ("expiring", d("2026-10-21")),
        d("2026-10-26"): ("lapsed", d("2026-10-26")),
    }
    # Not reached: the win-back call stays due, overdue on the next working days.
    unreached = _follow(
        purchases(("P1", "PR10", 1, "2026-10-01")),
        "2026-10-26",
        "2026-10-28",
        skip={"2026-10-26", "2026-10-27"},
        done=(("P1", "2026-10-21"),),
    )
    assert unreached == {
        d("2026-10-26"): ("lapsed", d("2026-10-26")),
        d("2026-10-27"): ("overdue", d("2026-10-26")),
        d("2026-10-28"): ("overdue", d("2026-10-26")),
    }


def _capacity_day() -> tuple[pl.DataFrame, pl.DataFrame, list[tuple], pl.DataFrame]:
    """50 calls due for nurse S1 on Tuesday 2026-11-17, of every kind."""
    rows, people, done = [], [], []
    for i in range(1, 6):  # overdue: bought 11-10, the 11-11 call was never made
        rows.append((f"O{i}", "PR30", 1, "2026-11-10"))
    for i in range(1, 11):  # expiring: 7 days bought 11-16, runs out 11-22; first call due 11-17
        rows.append((f"E{i:02d}", "PR07", 1, "2026-11-16"))
    for i in range(1, 6):  # lapsed: 30 days from 10-03 ran out 11-01; cadence calls done up to 11-16
        rows.append((f"L{i}", "PR30", 1, "2026-10-03"))
        done.append((f"L{i}", "2026-11-16"))
    for i in range(1, 26):  # cadence: bought 11-16, first call due 11-17
        rows.append((f"K{i:02d}", "PR30", 1, "2026-11-16"))
    people = patients(*[(p, "OF1", "S1") for p, *_ in rows])
    asks = consults(*[(f"C{i}", "2026-11-16", "OF1", False, False, "S1") for i in range(1, 6)])
    return purchases(*rows), people, done, asks


def test_fifty_calls_for_one_nurse_give_forty_today_in_priority_order_and_ten_on_the_next_working_day():
    bought, people, done, asks = _capacity_day()
    tuesday = listed(inputs(bought, people, visits(*done), asks), "2026-11-17")
    assert tuesday["staff_id"].unique().to_list() == ["S1"]
    assert tuesday["position"].to_list() == list(range(1, 41))
    assert tuesday.select(pl.coalesce("patient_id", "consult_id"), "reason").rows() == (
        [(f"O{i}", "overdue") for i in range(1, 6)]
        + [(f"E{i:02d}", "expiring") for i in range(1, 11)]
        + [(f"C{i}", "consult") for i in range(1, 6)]
        + [(f"L{i}", "lapsed") for i in range(1, 6)]
        + [(f"K{i:02d}", "cadence") for i in range(1, 16)]
    )
    # Every listed call is made on Tuesday and the consults came in: Wednesday holds the ten that did not fit.
    done += [(p, "2026-11-17") for p in tuesday["patient_id"].drop_nulls()]
    came_in = consults(*[(f"C{i}", "2026-11-16", "OF1", True, False, "S1") for i in range(1, 6)])
    wednesday = listed(inputs(bought, people, visits(*done), came_in), "2026-11-18")
    assert wednesday.select("patient_id", "reason", "due_date", "position").rows() == [
        (f"K{i:02d}", "overdue", d("2026-11-17"), i - 15) for i in range(16, 26)
    ]


def test_what_does_not_fit_on_friday_waits_for_monday():
    rows = [(f"Q{i:02d}", "PR30", 1, "2026-10-06") for i in range(1, 51)]  # lapse on Friday 2026-11-20
    bought, people = purchases(*rows), patients(*[(p, "OF1", "S1") for p, *_ in rows])
    done = [(p, "2026-11-19") for p, *_ in rows]
    friday = listed(inputs(bought, people, visits(*done)), "2026-11-20")
    assert friday.select("patient_id", "reason").rows() == [(f"Q{i:02d}", "lapsed") for i in range(1, 41)]
    done += [(p, "2026-11-20") for p in friday["patient_id"]]
    assert listed(inputs(bought, people, visits(*done)), "2026-11-21").height == 0  # Saturday
    assert listed(inputs(bought, people, visits(*done)), "2026-11-22").height == 0  # Sunday
    monday = listed(inputs(bought, people, visits(*done)), "2026-11-23")
    assert monday.select("patient_id", "reason", "due_date").rows() == [
        (f"Q{i:02d}", "overdue", d("2026-11-20")) for i in range(41, 51)
    ]


SPRING_2027 = rules_from_mapping(
    {
        "calendar": {
            "holidays": [{"name": "春节", "from": "2027-02-06", "to": "2027-02-13"}],
            "workdays": ["2027-02-14", "2027-02-20"],  # Sunday 14 and Saturday 20 February worked
        }
    }
)


def test_spring_festival_2027_from_the_rules_file_brings_greeting_calls_on_its_days():
    # The package does not know 2027: without the rules file, no greeting at all.
    rows = purchases(("PA", "PR30", 3, "2027-01-20"), ("PB", "PR30", 3, "2027-01-20"))  # cadence ... 02-04, 02-09
    people = patients(("PA", "OF1", "S1"), ("PB", "OF1", "S1"))
    done = [("PA", "2027-02-05"), ("PB", "2027-02-05")]
    first_day = listed(inputs(rows, people, visits(*done)), "2027-02-06", SPRING_2027)
    assert first_day.select("patient_id", "reason", "due_date").rows() == [
        ("PA", "holiday", d("2027-02-06")),
        ("PB", "holiday", d("2027-02-06")),
    ]
    assert listed(inputs(rows, people, visits(*done)), "2027-02-06").height == 0
    # PA greeted on the first day; on Monday 8 February (a day of the holiday) only PB is left to greet.
    done.append(("PA", "2027-02-06"))
    monday = listed(inputs(rows, people, visits(*done)), "2027-02-08", SPRING_2027)
    assert monday.select("patient_id", "reason", "due_date").rows() == [("PB", "holiday", d("2027-02-06"))]
    assert listed(inputs(rows, people, visits(*done)), "2027-02-08").height == 0  # a plain Monday


def test_the_overflow_of_the_friday_before_an_adjusted_working_saturday_is_called_on_that_saturday():
    rows = [(f"Q{i:02d}", "PR30", 1, "2027-01-05") for i in range(1, 81)]  # lapse on Friday 2027-02-19
    bought, people = purchases(*rows), patients(*[(p, "OF1", "S1") for p, *_ in rows])
    done = [(p, "2027-02-18") for p, *_ in rows]
    friday = listed(inputs(bought, people, visits(*done)), "2027-02-19", SPRING_2027)
    assert friday.select("patient_id", "reason").rows() == [(f"Q{i:02d}", "lapsed") for i in range(1, 41)]
    done += [(p, "2027-02-19") for p in friday["patient_id"]]
    saturday = listed(inputs(bought, people, visits(*done)), "2027-02-20", SPRING_2027)
    assert saturday.select("patient_id", "reason", "due_date", "position").rows() == [
        (f"Q{i:02d}", "overdue", d("2027-02-19"), i - 40) for i in range(41, 81)
    ]
    # Without the rules file Saturday 20 February is a day off: the forty wait for Monday.
    assert listed(inputs(bought, people, visits(*done)), "2027-02-20").height == 0


def test_tried_but_not_reached_overdue_calls_make_room_for_untried_ones():
    rules = Rules.model_validate({"callbacks": {"max_calls_per_day": 2}})
    rows = [(p, "PR30", 1, "2026-11-10") for p in ("A", "B", "C")]  # all owe the 11-11 call
    tried = visits(("A", "2026-11-16", "not_reached"), ("B", "2026-11-13", "not_reached"))
    out = listed(inputs(purchases(*rows), patients(*[(p, "OF1", "S1") for p, *_ in rows]), tried), "2026-11-17", rules)
    assert out.select("patient_id", "reason").rows() == [("C", "overdue"), ("B", "overdue")]


def test_consults_are_called_back_within_three_days():
    asks = consults(
        ("C1", "2026-11-20", "OF1"),  # Friday: due Monday 11-23
        ("C2", "2026-11-19", "OF1"),  # Thursday: due Sunday 11-22, window runs to Monday
        ("C3", "2026-11-19", "OF1", True, False),  # came in
        ("C4", "2026-11-19", "OF1", False, True),  # purchased
        ("C5", "2026-11-20", "OF1", None, None, "S2"),  # answered by S2: S2 calls back
    )
    seen: dict[str, list[tuple]] = {}
    for day in _days("2026-11-19", "2026-11-25"):
        calls = consult_calls(asks, day, Rules())
        for cid, reason, due in calls.select("consult_id", "reason", "due_date").iter_rows():
            seen.setdefault(cid, []).append((day, reason, due))
    assert seen == {
        "C1": [(d(x), "consult", d("2026-11-23")) for x in ("2026-11-21", "2026-11-22", "2026-11-23")],
        "C2": [(d(x), "consult", d("2026-11-22")) for x in ("2026-11-20", "2026-11-21", "2026-11-22")]
        + [(d("2026-11-23"), "overdue", d("2026-11-22"))],
        "C5": [(d(x), "consult", d("2026-11-23")) for x in ("2026-11-21", "2026-11-22", "2026-11-23")],
    }
    out = listed(inputs(purchases(), patients(), None, asks), "2026-11-21")
    # C5 stays with S2, who took the call. The others go to OF1's pool in order of arrival, least-loaded:
    # C2 (11-19) -> S1 (0 < 1), C1 (11-20) -> S1 (1 = 1: the smaller id). S1's list: earlier due date first.
    assert out.select("staff_id", "consult_id", "reason", "due_date").rows() == [
        ("S1", "C2", "consult", d("2026-11-22")),
        ("S1", "C1", "consult", d("2026-11-23")),
        ("S2", "C5", "consult", d("2026-11-23")),
    ]


def test_holiday_greetings_and_what_a_holiday_list_carries():
    assert holiday_period_start(d("2026-10-03"), PACKAGE) == d("2026-10-01")
    rows = purchases(
        ("PA", "PR30", 3, "2026-09-03"),  # active, next call 10-03: greeted on 10-01
        ("PB", "PR10", 1, "2026-08-01"),  # lapsed in August: no greeting
        ("PC", "PR30", 3, "2026-09-29"),  # next call falls due 10-02
        ("PD", "PR30", 3, "2026-09-27"),  # owes the 09-28 call
    )
    people = patients(*[(p, "OF1", "S1") for p in ("PA", "PB", "PC", "PD")])
    done = [("PA", "2026-09-30"), ("PB", "2026-08-26"), ("PC", "2026-09-30")]
    first = listed(inputs(rows, people, visits(*done)), "2026-10-01")
    assert first.select("patient_id", "reason", "due_date").rows() == [
        ("PD", "overdue", d("2026-09-28")),  # listed for the greeting; the entry shows the most urgent call
        ("PA", "holiday", d("2026-10-01")),
        ("PC", "holiday", d("2026-10-01")),
    ]
    done += [("PA", "2026-10-01"), ("PC", "2026-10-01")]
    second = listed(inputs(rows, people, visits(*done)), "2026-10-02")
    assert second.select("patient_id", "reason", "due_date").rows() == [
        ("PD", "overdue", d("2026-09-28")),
        ("PC", "cadence", d("2026-10-02")),
    ]


def test_one_entry_per_patient_with_flags_for_the_email():
    rows = purchases(
        ("P1", "PR30", 1, "2026-11-16"),  # cadence due 11-17
        ("P1", "PR07", 1, "2026-11-16"),  # expiring: this entry wins
        ("P2", "PR10", 1, "2026-11-16"),
        ("P3", "PR10", 1, "2026-08-01"),  # long gaps: low adherence
        ("P3", "PR10", 1, "2026-11-16"),
    )
    people = patients(("P1", "OF1", "S1", True), ("P2", "OF1", "S1", False), ("P3", "OF1", "S1", None))
    out = listed(inputs(rows, people), "2026-11-17")
    assert out.select(
        "patient_id", "product_code", "reason", "expiry_date", "not_informed", "low_adherence"
    ).rows() == [
        ("P1", "PR07", "expiring", d("2026-11-22"), False, False),
        ("P2", "PR10", "cadence", d("2026-11-25"), True, False),  # not informed: the email calls the contact
        ("P3", "PR10", "cadence", d("2026-11-25"), True, True),  # unknown counts as not informed
    ]


def test_no_list_holds_another_offices_patient():
    rows = purchases(*[(f"P{i}", "PR30", 1, "2026-11-16") for i in range(1, 9)])
    people = patients(
        ("P1", "OF1", "S1"),
        ("P2", "OF2", "S1"),  # names an OF1 nurse: goes to OF2's pool (S3)
        ("P3", "OF1", "S3"),  # names an OF2 nurse: goes to OF1's pool
        ("P4", "OF1", "S9"),  # S9 left: OF1's pool
        ("P5", "OF1", None),
        ("P6", "OF2", None),
        ("P7", "OF3", None),  # OF3 has no callback staff: a staff-less list, never dropped
        ("P8", "OF2", "S3"),
    )
    out = listed(inputs(rows, people), "2026-11-17")
    office_of = {"S1": "OF1", "S2": "OF1", "S3": "OF2"}
    assert sorted(out.select("patient_id", "office_code", "staff_id").rows()) == [
        ("P1", "OF1", "S1"),
        ("P2", "OF2", "S3"),
        # OF1's pool, least-loaded in patient order: S1 has P1, S2 nobody. P3 -> S2 (0 < 1),
        # P4 -> S1 (1 = 1: the smaller id), P5 -> S2 (1 < 2).
        ("P3", "OF1", "S2"),
        ("P4", "OF1", "S1"),
        ("P5", "OF1", "S2"),
        ("P6", "OF2", "S3"),
        ("P7", "OF3", None),
        ("P8", "OF2", "S3"),
    ]
    staffed = out.filter(pl.col("staff_id").is_not_null())
    assert all(office_of[s] == o for s, o in staffed.select("staff_id", "office_code").iter_rows())


def test_packed_sort_keys_sort_like_the_tuple_of_their_parts():
    frame = pl.DataFrame({"a": [1, 0, 1, 15], "b": [0, 255, 3, 1]})
    key = _pack(frame, (pl.col("a"), 4), (pl.col("b"), 8))
    assert key.to_list() == [1 * 256 + 0, 255, 1 * 256 + 3, 15 * 256 + 1]
    assert frame.sort(key).rows() == frame.sort("a", "b").rows()


def test_a_sort_key_part_wider_than_its_bits_raises_instead_of_mis_sorting():
    # A 17th priority in 4 bits would sort before the first (16 wraps to 0 in the next field's carry).
    with pytest.raises(ValueError, match=r"_part0 spans 1..16, outside its 4 bits"):
        _pack(pl.DataFrame({"priority": [1, 16]}), (pl.col("priority"), 4), (pl.lit(0), 8))
    with pytest.raises(ValueError, match=r"_part1 spans -1..0"):
        _pack(pl.DataFrame({"x": [0, -1]}), (pl.lit(0), 4), (pl.col("x"), 8))
    with pytest.raises(ValueError, match="do not fit in 64"):
        _pack(pl.DataFrame({"x": [0]}), (pl.col("x"), 40), (pl.col("x"), 25))
    assert _pack(pl.DataFrame({"x": [None, 3]}, schema={"x": pl.Int64}), (pl.col("x"), 4)).to_list() == [None, 3]
