"""Facts: consults, purchases, monthly prescriptions and orders (visits are in ``visits``).

All draws are vectorised over rows; the Python loops run over purchase rounds, months or offices.
Categorical values are integer codes into small label tuples until the final frame is built.
Frames carry typed columns plus ``_day`` (the index of the day whose folder holds the row).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import polars as pl

from keqing.generate import vocab
from keqing.generate.arrays import draw, group_rank, labels, pick_or_null, pick_within, sort_order
from keqing.generate.population import (
    CONSULT,
    FREE_CLINIC,
    INITIAL,
    Arrivals,
    days_per_box,
    draw_names,
)
from keqing.generate.scales import Calendar, Scale, rng

PURCHASE_CHANNELS = ("store", "consult", "free_clinic", "home_visit", "phone")
GRADES = ("", "A", "B", "C", "D")  # codes of the grade matrix; "" = no prescription data
STORE, CONSULT_DESK, FREE_CLINIC_SALE, HOME_VISIT, PHONE = range(5)


def day_ids(prefix: str, cal: Calendar, day: np.ndarray, width: int) -> pl.Series:
    """Ids like ``GY20261121000123``: prefix, date, number within the day (rows sorted by day)."""
    yyyymmdd = np.array([d.year * 10_000 + d.month * 100 + d.day for d in cal.dates], dtype=np.int64)
    number = yyyymmdd[day] * 10**width + group_rank(day) + 1
    return prefix + pl.Series(number, dtype=pl.Int64).cast(pl.String)


def seconds_of_day(r: np.random.Generator, n: int, windows: Sequence[tuple[float, float, float]]) -> np.ndarray:
    """Seconds of the day drawn from (share, from hour, to hour) windows."""
    pick = draw(r, [w[0] for w in windows], n)
    lo = np.array([w[1] for w in windows])[pick] * 3600
    hi = np.array([w[2] for w in windows])[pick] * 3600
    return (lo + r.random(n) * (hi - lo)).astype(np.int64)


def timestamps(cal: Calendar, day: np.ndarray, seconds: np.ndarray) -> pl.Series:
    """Naive local (Asia/Shanghai) datetimes from day indexes and seconds of the day."""
    start = int(np.datetime64(cal.start.isoformat(), "s").astype(np.int64))
    micros = (start + np.asarray(day, dtype=np.int64) * 86400 + seconds) * 1_000_000
    return pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us"))


def dates(cal: Calendar, day: np.ndarray) -> pl.Series:
    start = np.datetime64(cal.start.isoformat(), "D")
    return pl.Series(start + np.asarray(day).astype("timedelta64[D]"))


def staff_ids(staff: pl.DataFrame, index: np.ndarray) -> pl.Series:
    """Staff ids of staff indexes; -1 gives null."""
    return pick_or_null(staff["staff_id"], index)


# --------------------------------------------------------------------------------------------------
# Consults


def consult_calls(
    seed: int, scale: Scale, cal: Calendar, offices: pl.DataFrame, staff: pl.DataFrame
) -> tuple[pl.DataFrame, Arrivals]:
    """The skeleton of the consult calls, and the patients they make (those who bought)."""
    r = rng(seed, "consults")
    w = offices["_weight"].to_numpy() * np.where(offices["is_rural"].to_numpy(), 0.6, 1.0)
    lam = scale.consults_per_office_day * w / offices["_weight"].mean()
    counts = r.poisson(np.outer(lam, np.where(cal.workday, 1.0, 0.8)))  # office x day
    office = np.repeat(np.repeat(np.arange(len(lam)), cal.days), counts.ravel())
    day = np.repeat(np.tile(np.arange(cal.days), len(lam)), counts.ravel())
    n = len(day)
    seconds = seconds_of_day(r, n, [(0.45, 8, 12), (0.3, 13.5, 18), (0.25, 18.5, 21)])
    order = np.lexsort((seconds, day))
    office, day, seconds = office[order], day[order], seconds[order]
    purchased = r.random(n) < 0.22
    came_in = r.random(n) < np.where(purchased, 0.85, 0.25)
    role = staff["role"].to_numpy()
    desk_staff = (role == "callback") & staff["active"].to_numpy()
    desk = pick_within(r, np.where(desk_staff, staff["_office"].to_numpy(), -1), office)
    desk[r.random(n) < 0.08] = -1
    sources = [s for s, _ in vocab.CONSULT_SOURCES]
    frame = pl.DataFrame(
        {
            "_office": office,
            "_day": day,
            "_seconds": seconds,
            "came_in": came_in,
            "purchased": purchased,
            "_staff": desk,
            "source": labels(sources, draw(r, [p for _, p in vocab.CONSULT_SOURCES], n)),
        }
    )
    return frame, Arrivals(office[purchased], day[purchased], desk[purchased], calls=n)


def finish_consults(
    seed: int,
    cal: Calendar,
    calls: pl.DataFrame,
    patients: pl.DataFrame,
    spare_phones: pl.Series,
    offices: pl.DataFrame,
    staff: pl.DataFrame,
) -> pl.DataFrame:
    """Name, phone and disease of each caller: a buyer's are those of the patient they became."""
    r = rng(seed, "consult-people")
    n = calls.height
    buyers = patients.filter(pl.col("_origin") == CONSULT).sort("_consult")
    bought = pl.Series(calls["purchased"].to_numpy())
    slot = np.cumsum(calls["purchased"].to_numpy()) - 1  # the buyer's rank among buyers
    take = np.maximum(slot, 0)
    diseases = labels([d for d, _ in vocab.DISEASES], draw(r, [p for _, p in vocab.DISEASES], n))
    day = calls["_day"].to_numpy()

    def mix(own: pl.Series, column: str) -> pl.Series:
        if buyers.height == 0:
            return own
        return buyers[column].gather(take).zip_with(bought, own)

    return pl.DataFrame(
        {
            "consult_id": day_ids("ZX", cal, day, 4),
            "received_at": timestamps(cal, day, calls["_seconds"].to_numpy()),
            "name": mix(draw_names(r, n, r.random(n) < 0.5).chinese(), "name"),
            "phone": mix(spare_phones[:n].cast(pl.String), "phone"),
            "disease": mix(diseases, "disease"),
            "source": calls["source"],
            "came_in": calls["came_in"],
            "purchased": calls["purchased"],
            "office_code": offices["office_code"].gather(calls["_office"].to_numpy()),
            "staff_id": staff_ids(staff, calls["_staff"].to_numpy()),
            "_day": day,
        }
    )


# --------------------------------------------------------------------------------------------------
# Purchases


def make_purchases(
    seed: int,
    cal: Calendar,
    patients: pl.DataFrame,
    products: pl.DataFrame,
    offices: pl.DataFrame,
    staff: pl.DataFrame,
    events: pl.DataFrame,
) -> pl.DataFrame:
    """Each patient buys their product again just before the supply runs out, or late, or stops.

    Days of supply = floor(boxes * units_per_box / daily_units). Private columns: ``_patient``,
    ``_supply``.
    """
    r = rng(seed, "purchases")
    n = patients.height
    dpb = days_per_box(products)
    product = patients["_product"].to_numpy()
    origin = patients["_origin"].to_numpy()
    pref = patients["_boxes"].to_numpy()
    kind = draw(r, [0.6, 0.3, 0.1], n)  # on time, late, irregular
    hazard = np.array([0.03, 0.07, 0.1])[kind] * r.uniform(0.5, 1.5, n)
    # Some new patients only try once.
    trial = np.where(origin == INITIAL, 0.0, np.where(origin == FREE_CLINIC, 0.25, 0.15))

    t = patients["_first"].to_numpy().copy()
    boxes = patients["_first_boxes"].to_numpy().copy()
    alive = np.flatnonzero(t < cal.days)
    rounds = []
    k = 0
    while len(alive):
        b = boxes[alive]
        rounds.append((alive.astype(np.int32), t[alive].astype(np.int32), b.astype(np.int32), k == 0))
        supply = np.floor(b * dpb[product[alive]]).astype(np.int64)
        kk = kind[alive]
        m = len(alive)
        late = supply + 1 + r.geometric(1 / 8, m)
        irregular = supply + np.round(r.normal(0, 6, m)).astype(np.int64)
        gap = np.where(kk == 0, supply - r.integers(0, 4, m), np.where(kk == 1, late, irregular))
        gap = np.maximum(gap, np.maximum(np.minimum(supply, 2), 1))
        stop = r.random(m) < (np.maximum(hazard[alive], trial[alive]) if k == 0 else hazard[alive])
        t[alive] += gap
        same = r.random(m) < 0.7
        kept = np.where(origin[alive] == FREE_CLINIC, b, pref[alive])
        boxes[alive] = np.where(same, kept, _redraw(r, pref[alive]))
        alive = alive[~stop & (t[alive] < cal.days)]
        k += 1
    pi = np.concatenate([x[0] for x in rounds])
    day = np.concatenate([x[1] for x in rounds])
    bx = np.concatenate([x[2] for x in rounds])
    first = np.concatenate([np.full(len(x[0]), x[3]) for x in rounds])
    order = sort_order(day, r.integers(0, 1 << 20, len(day)))
    pi, day, bx, first = pi[order], day[order], bx[order], first[order]
    m = len(pi)

    # Channel: the first purchase follows how the patient came; repeats by city or village habits.
    o = origin[pi]
    rural = offices["is_rural"].to_numpy()[patients["_office"].to_numpy()[pi]]
    codes = partial(np.array, dtype=np.int8)
    city_repeat = codes([STORE, PHONE, CONSULT_DESK])[draw(r, [0.62, 0.28, 0.1], m)]
    rural_repeat = codes([HOME_VISIT, STORE, PHONE])[draw(r, [0.55, 0.3, 0.15], m)]
    channel = np.where(rural, rural_repeat, city_repeat)
    from_origin = codes([-1, CONSULT_DESK, FREE_CLINIC_SALE, STORE, PHONE])[o]
    initial_first = np.where(
        rural,
        codes([HOME_VISIT, STORE, PHONE])[draw(r, [0.6, 0.3, 0.1], m)],
        codes([STORE, PHONE, CONSULT_DESK])[draw(r, [0.7, 0.2, 0.1], m)],
    )
    channel = np.where(first, np.where(o == INITIAL, initial_first, from_origin), channel)
    callback = patients["_callback"].to_numpy()[pi]
    home = patients["_home"].to_numpy()[pi]
    orphan = ((channel == HOME_VISIT) & (home < 0)) | ((channel == PHONE) & (callback < 0))
    channel = np.where(orphan, np.int8(STORE), channel)
    # Who handled it: callback staff on the phone and at the desk, home-visit staff in villages.
    handled = np.full(m, -1, dtype=np.int64)
    handled = np.where((channel == PHONE) | (channel == CONSULT_DESK), callback, handled)
    handled = np.where((channel == STORE) & (r.random(m) < 0.25), callback, handled)
    handled = np.where(channel == HOME_VISIT, home, handled)
    handled = np.where(first & (o != INITIAL), patients["_staff"].to_numpy()[pi], handled)
    handled = np.where(channel == FREE_CLINIC_SALE, home, handled)
    ev = np.where(first & (o == FREE_CLINIC), patients["_event"].to_numpy()[pi], -1)
    price_cents = np.round(products["price_per_box"].to_numpy() * 100).astype(np.int64)
    event_ids = events["event_id"] if events.height else pl.Series([""])
    return pl.DataFrame(
        {
            "purchase_id": day_ids("GY", cal, day, 6),
            "patient_id": patients["patient_id"].gather(pi),
            "product_code": products["product_code"].gather(product[pi]),
            "boxes": bx,
            "purchase_date": dates(cal, day),
            "channel": labels(PURCHASE_CHANNELS, channel),
            "event_id": pick_or_null(event_ids, ev),
            "staff_id": staff_ids(staff, handled),
            "amount": bx * price_cents[product[pi]] / 100,
            "_patient": pi,
            "_day": day,
            "_supply": np.floor(bx * dpb[product[pi]]).astype(np.int64),
        }
    )


def _redraw(r: np.random.Generator, pref: np.ndarray) -> np.ndarray:
    """Another quantity near the usual one (now and then a bigger stock-up)."""
    step = np.array([-1, 1, 2, 0])[draw(r, [0.35, 0.4, 0.15, 0.1], len(pref))]
    return np.maximum(1, np.where(step == 0, pref * 3, pref + step))


def name_events(cal: Calendar, events: pl.DataFrame) -> pl.DataFrame:
    """``EV`` + yyyymmdd + a two-digit number within the day (e.g. EV2026110301)."""
    if events.height == 0:
        return events.with_columns(event_id=pl.lit("", dtype=pl.String))
    ordered = events.sort(["day", "office", "event"])
    ordered = ordered.with_columns(event_id=day_ids("EV", cal, ordered["day"].to_numpy(), 2))
    return ordered.sort("event")


# --------------------------------------------------------------------------------------------------
# Monthly prescriptions and grades


def make_rx(
    seed: int, cal: Calendar, customers: pl.DataFrame, products: pl.DataFrame
) -> tuple[pl.DataFrame, np.ndarray, int]:
    """Prescriptions per doctor, product and month, and each doctor's grade per month.

    Returns ``(rx, grades, first_month)``: the feed's rows, and a customer x month matrix of GRADES
    codes (0 = no data; months counted from ``first_month`` = year * 12 + month - 1), the grade of
    month m from the three months before it. Figures are drawn from three months before the start to
    the range's last month; the feed holds the exported ones: the three months of history in the
    first day's folder, then month M in the folder of the first day of M+1 (a monthly export), when
    that day is in the range.
    """
    r = rng(seed, "rx")
    doctor = np.flatnonzero(customers["kind"].to_numpy() == "doctor")
    c_day = customers["_day"].to_numpy()[doctor]
    has_rx = r.random(len(doctor)) < np.where(c_day == 0, 0.96, 0.5)
    team = customers["_team"].to_numpy()[doctor]
    p_team = products["_team"].to_numpy()
    first_month = int(cal.month[0]) - 3
    months = np.arange(first_month, int(cal.month[-1]) + 1)
    n_m = len(months)

    # One product for most doctors, two for some.
    two = r.random(len(doctor)) < 0.2
    row_doc = np.concatenate([np.arange(len(doctor)), np.flatnonzero(two)])
    second = np.concatenate([np.zeros(len(doctor), bool), np.ones(int(two.sum()), bool)])
    # A second product only where the doctor's team has two or more.
    per_team = {t: int((p_team == t).sum()) for t in np.unique(team)}
    several = np.array([per_team[t] > 1 for t in team])
    keep = has_rx[row_doc] & (~second | several[row_doc])
    row_doc, second = row_doc[keep], second[keep]
    n = len(row_doc)
    prod = np.zeros(n, dtype=np.int64)
    first_pick = r.integers(0, 1 << 30, len(doctor))
    for t in per_team:
        options = np.flatnonzero(p_team == t)
        sel = np.flatnonzero(team[row_doc] == t)
        pick = first_pick[row_doc[sel]] % len(options)
        prod[sel] = options[np.where(second[sel], (pick + 1) % len(options), pick)]
    # Latent potential and our share (low for most, high for a loyal minority); some doctors drift
    # across the thresholds over the months.
    potential = np.exp(r.normal(np.log(75), 0.75, n)) * np.where(second, 0.4, 1.0)
    share = np.where(r.random(n) < 0.18, r.beta(5.0, 4.0, n), r.beta(1.2, 5.0, n))
    p_drift = np.where(r.random(n) < 0.08, r.choice([-0.08, 0.08], n), 0.0)
    s_drift = np.where(r.random(n) < 0.08, r.choice([-0.03, 0.03], n), 0.0)
    t = np.arange(n_m)
    lam_market = potential[:, None] * np.exp(p_drift[:, None] * t + r.normal(0, 0.1, (n, n_m)))
    s_t = np.clip(share[:, None] + s_drift[:, None] * t + r.normal(0, 0.03, (n, n_m)), 0.0, 0.95)
    market = r.poisson(lam_market)
    our = r.binomial(market, s_t)
    # Doctors who first appear during the range have figures from their first month on.
    appear = np.where(c_day[row_doc] > 0, cal.month[np.minimum(c_day[row_doc], cal.days - 1)], first_month)
    present = months[None, :] >= appear[:, None]

    next_first = np.searchsorted(cal.month, months + 1)  # first day of the next month
    exported = np.where(months < cal.month[0], 0, np.where(next_first < cal.days, next_first, -1))
    mm, rr = np.nonzero(present.T & (exported >= 0)[:, None])  # month by month
    labels_of_month = [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in months]
    rx = pl.DataFrame(
        {
            "month": pl.Series(labels_of_month).gather(mm),
            "customer_id": customers["customer_id"].gather(doctor[row_doc[rr]]),
            "product_code": products["product_code"].gather(prod[rr]),
            "our_rx": our[rr, mm],
            "market_rx": market[rr, mm],
            "_day": exported[mm],
        }
    )
    # Grade of month m: monthly averages over the three months before m, summed over products.
    sum_market = np.zeros((len(doctor), n_m))
    sum_our = np.zeros((len(doctor), n_m))
    months_present = np.zeros((len(doctor), n_m))
    np.add.at(sum_market, row_doc, np.where(present, market, 0))
    np.add.at(sum_our, row_doc, np.where(present, our, 0))
    np.maximum.at(months_present, row_doc, present.astype(float))
    grades = np.zeros((customers.height, n_m), dtype=np.int8)
    for j in range(3, n_m):
        window = slice(j - 3, j)
        count = months_present[:, window].sum(axis=1)
        avg_m = sum_market[:, window].sum(axis=1) / np.maximum(count, 1)
        avg_o = sum_our[:, window].sum(axis=1) / np.maximum(count, 1)
        g = np.where(avg_m >= 100, np.where(avg_o >= 30, 1, 2), np.where(avg_o >= 30, 3, 4))
        grades[doctor, j] = np.where(count > 0, g, 0)
    return rx, grades, first_month


# --------------------------------------------------------------------------------------------------
# Orders


@dataclass
class TerminalProfile:
    interval: np.ndarray  # usual days between orders
    quantity: np.ndarray  # usual boxes per order
    vip: np.ndarray  # top 20% of its office by expected amount
    stop: np.ndarray  # share of the range after which it stops ordering (> 1: never)


def terminal_profile(seed: int, customers: pl.DataFrame) -> TerminalProfile:
    r = rng(seed, "terminal-profile")
    n = customers.height
    is_t = customers["kind"].to_numpy() == "terminal"
    t_type = customers["terminal_type"]
    lo = t_type.replace_strict({row[0]: row[3] for row in vocab.TERMINAL_TYPES}, default=0).to_numpy()
    hi = t_type.replace_strict({row[0]: row[4] for row in vocab.TERMINAL_TYPES}, default=0).to_numpy()
    interval = r.integers(10, 31, n)
    quantity = np.round(lo + (hi - lo) * r.beta(2, 3, n)).astype(np.int64)
    frame = pl.DataFrame({"o": customers["_office"], "v": np.where(is_t, quantity * 30 / interval, -1.0), "t": is_t})
    ranked = frame.select(rank=pl.col("v").rank("ordinal", descending=True).over("o"), size=pl.col("t").sum().over("o"))
    vip = is_t & (ranked["rank"].to_numpy() <= np.ceil(0.2 * ranked["size"].to_numpy()))
    stop = np.where(r.random(n) < 0.15, r.random(n), 2.0)
    return TerminalProfile(interval, quantity, vip, stop)


def make_orders(
    seed: int, cal: Calendar, customers: pl.DataFrame, products: pl.DataFrame, profile: TerminalProfile
) -> pl.DataFrame:
    """Terminals reorder every 10-30 days in their own rhythm; some stop (overdue); ~2% returns."""
    r = rng(seed, "orders")
    terminals = np.flatnonzero(customers["kind"].to_numpy() == "terminal")
    interval = profile.interval[terminals]
    stop_day = np.minimum(np.floor(profile.stop[terminals] * cal.days).astype(np.int64), cal.days)
    carries = r.integers(0, products.height, (len(terminals), 2))
    t = customers["_day"].to_numpy()[terminals] + np.floor(r.random(len(terminals)) * interval).astype(np.int64)
    rounds = []
    alive = np.flatnonzero(t < stop_day)
    while len(alive):
        rounds.append((alive, t[alive]))
        jitter = np.round(interval[alive] * r.uniform(-0.25, 0.25, len(alive))).astype(np.int64)
        t[alive] += np.maximum(interval[alive] + jitter, 5)
        alive = alive[t[alive] < stop_day[alive]]
    ti = np.concatenate([x[0] for x in rounds]) if rounds else np.zeros(0, np.int64)
    day = np.concatenate([x[1] for x in rounds]) if rounds else np.zeros(0, np.int64)
    # Most orders are placed on working days.
    shifted = cal.shift_to_workday(day)
    day = np.where((r.random(len(day)) < 0.85) & (shifted < cal.days), shifted, day)
    m = len(day)
    cust = terminals[ti]
    prod = carries[ti, (r.random(m) < 0.3).astype(np.int64)]
    quantity = np.clip(np.round(profile.quantity[cust] * r.uniform(0.6, 1.4, m)), 5, 200).astype(np.int64)
    is_return = np.zeros(m, dtype=np.int64)
    # Returns: a previous order's quantity comes back 5-30 days later.
    ret = np.flatnonzero(r.random(m) < 0.02)
    ret_day = day[ret] + r.integers(5, 31, len(ret))
    ret, ret_day = ret[ret_day < cal.days], ret_day[ret_day < cal.days]
    cust = np.concatenate([cust, cust[ret]])
    prod = np.concatenate([prod, prod[ret]])
    quantity = np.concatenate([quantity, quantity[ret]])
    day = np.concatenate([day, ret_day])
    is_return = np.concatenate([is_return, np.ones(len(ret), dtype=np.int64)])
    order = sort_order(day, r.integers(0, 1 << 20, len(day)))
    cust, prod, quantity, day, is_return = (a[order] for a in (cust, prod, quantity, day, is_return))
    unit_cents = np.round(products["price_per_box"].to_numpy() * 100 * 0.75).astype(np.int64)
    return pl.DataFrame(
        {
            "order_id": day_ids("DD", cal, day, 5),
            "customer_id": customers["customer_id"].gather(cust),
            "product_code": products["product_code"].gather(prod),
            "quantity": quantity,
            "amount": quantity * unit_cents[prod] / 100,
            "order_date": dates(cal, day),
            "kind": labels(("order", "return"), is_return),
            "_day": day,
        }
    )
