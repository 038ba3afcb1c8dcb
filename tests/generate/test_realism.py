"""Clean small data set (dirty=0): formats, references, unique ids, and the field practice it mimics."""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from pathlib import Path

import polars as pl
import pytest

from keqing.calendar import PACKAGE
from keqing.feeds import FEEDS
from tests.generate.reading import load_feed, manifest

START, DAYS = date(2026, 8, 1), 93
END = START + timedelta(days=DAYS - 1)


@pytest.fixture(scope="module")
def feeds(small_clean) -> dict[str, pl.DataFrame]:
    out, _ = small_clean
    return {name: load_feed(out, name) for name in FEEDS}


@cache
def _workdays() -> list[str]:
    return [(START + timedelta(i)).isoformat() for i in range(DAYS) if PACKAGE.is_workday(START + timedelta(i))]


def _grades(rx: pl.DataFrame, months: list[str]) -> pl.DataFrame:
    return (
        rx.filter(pl.col("month").is_in(months))
        .with_columns(pl.col("our_rx", "market_rx").cast(pl.Int64))
        .group_by("customer_id", "month")
        .agg(pl.col("our_rx", "market_rx").sum())
        .group_by("customer_id")
        .agg(potential=pl.col("market_rx").mean(), support=pl.col("our_rx").mean())
        .with_columns(
            grade=pl.when(pl.col("potential") >= 100)
            .then(pl.when(pl.col("support") >= 30).then(pl.lit("A")).otherwise(pl.lit("B")))
            .otherwise(pl.when(pl.col("support") >= 30).then(pl.lit("C")).otherwise(pl.lit("D")))
        )
    )


def test_clean_files_are_plain_utf8_csv_with_canonical_headers(small_clean):
    out, _ = small_clean
    info = manifest(out)
    assert info["dirty"]["rows"] == {} and info["dirty"]["files"] == {}
    for entry in info["files"]:
        path = out / entry["path"]
        raw = path.read_bytes()
        assert path.suffix == ".csv" and not raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8")
        assert '"' not in text
        assert text.split("\n", 1)[0] == ",".join(FEEDS[entry["feed"]].column_names)


def test_values_have_canonical_forms(feeds):
    for name, feed in FEEDS.items():
        frame = feeds[name]
        for col in feed.columns:
            values = frame[col.name].drop_nulls()
            if col.kind == "date":
                assert values.str.contains(r"^\d{4}-\d{2}-\d{2}$").all(), (name, col.name)
            elif col.kind == "datetime":
                assert values.str.contains(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").all(), (name, col.name)
            elif col.kind == "bool":
                assert set(values) <= {"0", "1"}, (name, col.name)
            elif col.kind == "enum":
                assert set(values) <= set(col.values), (name, col.name)
            if col.required:
                assert frame[col.name].null_count() == 0, (name, col.name)


def test_ids_are_unique_strings_with_leading_zeros(feeds):
    for name, feed in FEEDS.items():
        frame = feeds[name]
        assert frame.select(feed.key).is_duplicated().sum() == 0, name
    assert feeds["patients"]["patient_id"].str.contains(r"^P\d{7}$").all()
    assert feeds["staff"]["staff_id"].str.starts_with("00").all()
    assert feeds["offices"]["office_code"].str.contains(r"^OF\d{3}$").all()


def test_references_hold(feeds):
    patients, customers, staff = feeds["patients"], feeds["customers"], feeds["staff"]
    purchases, visits, orders, rx = feeds["purchases"], feeds["visits"], feeds["orders"], feeds["rx_monthly"]
    assert purchases["patient_id"].is_in(patients["patient_id"].implode()).all()
    assert purchases["product_code"].is_in(feeds["products"]["product_code"].implode()).all()
    assert visits["staff_id"].is_in(staff["staff_id"].implode()).all()
    for kind, ids in (("customer", customers["customer_id"]), ("patient", patients["patient_id"])):
        assert visits.filter(pl.col("target_type") == kind)["target_id"].is_in(ids.implode()).all()
    terminals = customers.filter(pl.col("kind") == "terminal")["customer_id"]
    assert orders["customer_id"].is_in(terminals.implode()).all()
    doctors = customers.filter(pl.col("kind") == "doctor")["customer_id"]
    assert rx["customer_id"].is_in(doctors.implode()).all()
    # Owners are reps of the customer's office; callback staff belong to the patient's office.
    owners = customers.join(staff, left_on="owner_staff_id", right_on="staff_id", suffix="_s")
    assert (owners["role"] == "rep").all() and (owners["office_code"] == owners["office_code_s"]).all()
    callers = patients.join(staff, left_on="callback_staff_id", right_on="staff_id", suffix="_s")
    assert (callers["role"] == "callback").all() and (callers["office_code"] == callers["office_code_s"]).all()


def test_master_rows_come_no_later_than_their_first_use(feeds):
    first_seen = feeds["patients"].select("patient_id", seen="_folder")
    first_buy = feeds["purchases"].group_by("patient_id").agg(bought=pl.col("purchase_date").min())
    joined = first_buy.join(first_seen, on="patient_id")
    assert (joined["seen"] <= joined["bought"]).all()
    assert (feeds["purchases"]["purchase_date"] == feeds["purchases"]["_folder"]).all()
    assert (feeds["visits"]["visit_at"].str.slice(0, 10) == feeds["visits"]["_folder"]).all()


def test_phones_are_mainland_mobiles_and_unique(feeds):
    for name in ("patients", "consults"):
        assert feeds[name]["phone"].str.contains(r"^1[3-9]\d{9}$").all()
    assert feeds["patients"]["phone"].is_unique().all()


def test_staff_roles_and_emails(feeds):
    staff = feeds["staff"]
    share = staff["role"].value_counts(normalize=True)
    shares = dict(zip(share["role"], share["proportion"], strict=True))
    # Callback staff follow the callback demand (tests/generate/test_staffing.py); the others a share.
    others = staff.filter(pl.col("role") != "callback")
    assert 0.6 <= (others["role"] == "rep").mean() <= 0.85 and 0.3 <= shares["callback"] <= 0.7
    assert 1 <= (staff["role"] == "ops").sum() <= 2
    assert staff["email"].str.contains(r"^[a-z]+\.[a-z]+\.\d{4}@keqing\.example\.com$").all()
    assert staff["email"].is_unique().all()
    home = staff.filter(pl.col("role") == "home_visit").join(feeds["offices"], on="office_code")
    assert (home["is_rural"] == "1").all()
    reps = staff.filter(pl.col("role") == "rep")
    assert reps["manager_id"].null_count() == 0 and set(reps["team"]) >= {"ONC", "CV"}
    inactive = reps.filter(pl.col("active") == "0")["staff_id"]
    assert len(inactive) >= 1
    assert feeds["customers"]["owner_staff_id"].is_in(inactive.implode()).any()


def test_customers_mix(feeds):
    customers = feeds["customers"]
    kinds = dict(customers["kind"].value_counts(normalize=True).iter_rows())
    assert 0.45 < kinds["doctor"] < 0.65 and 0.15 < kinds["nonprescriber"] < 0.3 and 0.18 < kinds["terminal"] < 0.32
    titles = set(customers.filter(pl.col("kind") == "nonprescriber")["title"])
    assert titles <= {"院办领导", "药剂科主任", "医务科", "库管", "采购", "药房组长", "检验科", "护士长"}
    assert customers.filter(pl.col("kind") == "terminal")["terminal_type"].n_unique() == 5
    assert (customers["is_kol"] == "1").sum() > 0
    assert customers.filter(pl.col("terminal_type") == "village_clinic")["institution"].str.ends_with("村卫生室").all()


def test_all_four_grades_in_the_last_three_complete_months_and_some_doctors_move(feeds):
    rx = feeds["rx_monthly"]
    latest = _grades(rx, ["2026-08", "2026-09", "2026-10"])
    shares = dict(latest["grade"].value_counts(normalize=True).iter_rows())
    assert set(shares) == {"A", "B", "C", "D"}
    assert all(share >= 0.03 for share in shares.values())
    earlier = _grades(rx, ["2026-05", "2026-06", "2026-07"])
    moved = latest.join(earlier, on="customer_id").filter(pl.col("grade") != pl.col("grade_right"))
    assert moved.height > 0
    doctors = feeds["customers"].filter(pl.col("kind") == "doctor")
    assert doctors.height > rx["customer_id"].n_unique()  # some doctors have no figures


def test_monthly_prescriptions_arrive_on_the_first_day_of_the_next_month(feeds):
    rx = feeds["rx_monthly"]
    folders = dict(rx.group_by("month").agg(pl.col("_folder").unique()).iter_rows())
    assert folders["2026-08"] == ["2026-09-01"] and folders["2026-10"] == ["2026-11-01"]
    assert folders["2026-05"] == ["2026-08-01"]  # history of three months comes with the first day


def test_reps_make_about_twelve_visits_per_working_day(feeds):
    reps = feeds["staff"].filter((pl.col("role") == "rep") & (pl.col("active") == "1"))
    visits = feeds["visits"].filter(pl.col("staff_id").is_in(reps["staff_id"].implode()))
    per_day = visits.height / (reps.height * len(_workdays()))
    assert 9 <= per_day <= 14
    assert visits["visit_at"].str.slice(0, 10).is_in(_workdays()).all()
    hours = visits["visit_at"].str.slice(11, 2).cast(pl.Int64)
    assert hours.min() >= 8 and hours.max() <= 19
    assert dict(visits["channel"].value_counts(normalize=True).iter_rows())["face"] > 0.6
    assert 0.7 < (visits["outcome"] == "completed").mean() < 0.95
    appointments = visits.filter(pl.col("next_visit_date").is_not_null())
    assert appointments["commitment"].null_count() == 0 and appointments.height > 0
    kept = appointments.join(
        visits,
        left_on=["staff_id", "target_id", "next_visit_date"],
        right_on=["staff_id", "target_id", pl.col("visit_at").str.slice(0, 10)],
    )
    assert kept.height > 0.5 * appointments.filter(pl.col("next_visit_date") <= END.isoformat()).height


def test_grade_drives_visit_frequency(feeds):
    grades = _grades(feeds["rx_monthly"], ["2026-07", "2026-08", "2026-09"])
    visits = feeds["visits"].filter(pl.col("visit_at").str.starts_with("2026-10"))
    counts = grades.join(visits.group_by("target_id").len(), left_on="customer_id", right_on="target_id", how="left")
    mean = dict(counts.group_by("grade").agg(pl.col("len").fill_null(0).mean()).iter_rows())
    assert mean["A"] > 2 * mean["C"] and mean["B"] > 2 * mean["D"]


def test_callback_staff_make_about_forty_calls_per_working_day(feeds):
    callers = feeds["staff"].filter((pl.col("role") == "callback") & (pl.col("active") == "1"))
    calls = feeds["visits"].filter(pl.col("staff_id").is_in(callers["staff_id"].implode()))
    assert (calls["target_type"] == "patient").all()
    assert set(calls["channel"]) <= {"phone", "sms"}
    # About 40 patients called a working day (a call not answered at first is tried again that evening,
    # and the calls falling due on weekends are made on the day; see test_staffing).
    workday = calls.filter(pl.col("visit_at").str.slice(0, 10).is_in(_workdays()))
    called = workday.select("staff_id", pl.col("visit_at").str.slice(0, 10), "target_id").unique().height
    assert 30 <= called / (callers.height * len(_workdays())) <= 45
    evening = calls["visit_at"].str.slice(11, 2).cast(pl.Int64) >= 18
    assert evening.mean() > 0.4
    own = calls.join(feeds["patients"], left_on="target_id", right_on="patient_id")
    assert (own["staff_id"] == own["callback_staff_id"]).all()


def test_home_visits_go_to_rural_patients(feeds):
    home = feeds["visits"].filter(pl.col("channel") == "home")
    assert home.height > 0
    own = home.join(feeds["patients"], left_on="target_id", right_on="patient_id")
    assert (own["staff_id"] == own["home_visit_staff_id"]).all() and own["village"].null_count() == 0
    per_day = home.group_by("staff_id", pl.col("visit_at").str.slice(0, 10)).len()
    assert per_day["len"].max() <= 10


def test_patients_look_like_patients(feeds):
    patients = feeds["patients"].join(feeds["offices"], on="office_code")
    assert patients["age"].cast(pl.Int64).is_between(30, 85).mean() > 0.85
    assert set(patients["gender"]) == {"M", "F"}
    rural = patients.filter(pl.col("is_rural") == "1")
    assert rural.select("village", "township", "home_visit_staff_id").null_count().sum_horizontal().item() == 0
    assert (
        patients.filter(pl.col("is_rural") == "0")["village"].null_count()
        == patients.filter(pl.col("is_rural") == "0").height
    )
    assert 0.01 < patients["callback_staff_id"].is_null().mean() < 0.06
    uninformed = patients.filter(pl.col("informed") == "0")
    assert 0.05 < uninformed.height / patients.height < 0.2
    assert uninformed.select("contact_name", "contact_relation").null_count().sum_horizontal().item() == 0
    assert (
        patients.filter(pl.col("informed") == "1")["contact_name"].null_count()
        == patients.filter(pl.col("informed") == "1").height
    )


def test_purchases_follow_supply(feeds):
    products = feeds["products"].with_columns(pl.col("units_per_box", "daily_units", "price_per_box").cast(pl.Float64))
    purchases = (
        feeds["purchases"]
        .with_columns(
            pl.col("boxes").cast(pl.Int64), pl.col("amount").cast(pl.Float64), pl.col("purchase_date").str.to_date()
        )
        .join(products, on="product_code")
        .sort("patient_id", "purchase_date")
    )
    assert ((purchases["amount"] - purchases["boxes"] * purchases["price_per_box"]).abs() < 0.005).all()
    assert (purchases["boxes"] <= 10).mean() > 0.9 and purchases["boxes"].max() > 10
    assert purchases.group_by("patient_id").agg(pl.col("product_code").n_unique())["product_code"].max() == 1
    gaps = purchases.with_columns(
        supply=(pl.col("boxes") * pl.col("units_per_box") / pl.col("daily_units")).floor(),
        gap=(pl.col("purchase_date").shift(-1).over("patient_id") - pl.col("purchase_date")).dt.total_days(),
    ).drop_nulls("gap")
    on_time = gaps.filter(pl.col("gap").is_between(pl.col("supply") - 3, pl.col("supply"))).height / gaps.height
    late = gaps.filter(pl.col("gap") > pl.col("supply") + 2).height / gaps.height
    assert on_time > 0.4 and late > 0.15
    last = purchases.group_by("patient_id").agg(pl.all().last())
    lapsed = last.filter(
        pl.col("purchase_date")
        + pl.duration(days=pl.col("units_per_box") * pl.col("boxes") / pl.col("daily_units") + 15)
        < pl.lit(END)
    )
    assert lapsed.height > 0.05 * last.height
    assert set(purchases["channel"]) == {"store", "consult", "free_clinic", "home_visit", "phone"}


def test_free_clinic_events_sell_mostly_one_quantity(feeds):
    events = feeds["purchases"].filter(pl.col("channel") == "free_clinic")
    assert events["event_id"].null_count() == 0
    assert events["event_id"].str.contains(r"^EV\d{10}$").all()
    assert (events["event_id"].str.slice(2, 8) == events["purchase_date"].str.replace_all("-", "")).all()
    by_event = events.group_by("event_id").agg(
        buyers=pl.len(),
        modal=pl.col("boxes").value_counts(sort=True).first().struct.field("count"),
        products=pl.col("product_code").n_unique(),
    )
    assert by_event.height >= 5
    assert by_event["buyers"].is_between(8, 30).all() and (by_event["products"] == 1).all()
    assert (by_event["modal"] * 2 > by_event["buyers"]).all()
    assert (by_event["modal"] < by_event["buyers"]).any()  # some buyers take another quantity
    village = events.join(feeds["patients"], on="patient_id").group_by("event_id").agg(pl.col("village").n_unique())
    assert (village["village"] == 1).all()


def test_consults(feeds):
    consults = feeds["consults"]
    per_office_day = consults.height / (feeds["offices"].height * DAYS)
    assert 1 <= per_office_day <= 10
    neither = consults.filter((pl.col("came_in") == "0") & (pl.col("purchased") == "0"))
    assert neither.height > 0.4 * consults.height
    bought = consults.filter(pl.col("purchased") == "1")
    assert bought["phone"].is_in(feeds["patients"]["phone"].implode()).all()
    assert consults["source"].n_unique() >= 5


def test_terminals_order_in_their_rhythm(feeds):
    orders = feeds["orders"].with_columns(pl.col("quantity").cast(pl.Int64), pl.col("amount").cast(pl.Float64))
    assert orders["quantity"].is_between(5, 200).all() and (orders["amount"] > 0).all()
    returns = orders.filter(pl.col("kind") == "return")
    assert 0.005 < returns.height / orders.height < 0.05
    intervals = (
        orders.filter(pl.col("kind") == "order")
        .with_columns(pl.col("order_date").str.to_date())
        .sort("customer_id", "order_date")
        .with_columns(gap=pl.col("order_date").diff().over("customer_id").dt.total_days())
        .group_by("customer_id")
        .agg(pl.col("gap").median(), last=pl.col("order_date").max())
    )
    assert intervals["gap"].drop_nulls().is_between(5, 40).mean() > 0.9
    overdue = intervals.filter(pl.col("last") < pl.lit(END) - pl.duration(days=45))
    assert overdue.height > 0


@pytest.mark.parametrize("feed", ["purchases", "visits", "consults", "orders"])
def test_fact_ids_carry_their_day(feeds, feed: str):
    key = FEEDS[feed].key[0]
    frame = feeds[feed]
    digits = frame[key].str.extract(r"(\d{8})", 1)
    assert (digits == frame["_folder"].str.replace_all("-", "")).all()


def test_paths(small_clean):
    out, _ = small_clean
    assert (Path(out) / "2026-08-01" / "offices.csv").exists()
