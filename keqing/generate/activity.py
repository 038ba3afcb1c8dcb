"""Facts: consults, purchases, monthly prescriptions, visits (reps, callbacks, home visits), orders.

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
from keqing.generate.population import (
    CONSULT,
    FREE_CLINIC,
    INITIAL,
    Arrivals,
    days_per_box,
    draw_names,
    pick_or_null,
    pick_within,
)
from keqing.generate.scales import Calendar, Scale, rng

# Callback cadence after a purchase: days 1, 3, 6, 10, 15, then every 5 days.
CADENCE = np.array([1, 3, 6, 10, 15, *range(20, 1000, 5)], dtype=np.int64)
HOME_VISITS_MAX = 10

PURCHASE_CHANNELS = ("store", "consult", "free_clinic", "home_visit", "phone")
STORE, CONSULT_DESK, FREE_CLINIC_SALE, HOME_VISIT, PHONE = range(5)
VISIT_CHANNELS = ("face", "phone", "home", "sms", "wechat", "meeting")
FACE, CALL, HOME, SMS, WECHAT, MEETING = range(6)
OUTCOMES = ("completed", "not_reached", "refused", "rescheduled")
COMPLETED, NOT_REACHED, REFUSED, RESCHEDULED = range(4)
GRADES = ("", "A", "B", "C", "D")  # "" = no prescription data
GRADE_VISITS = np.array([1.0, 4.0, 4.0, 1.0, 0.5])  # weight of a doctor's visits a month by grade


def labels(options: Sequence[str | None], codes: np.ndarray) -> pl.Series:
    """Values from integer codes into ``options`` (None gives null), as a compact enum column."""
    categories = pl.Enum(list(dict.fromkeys(o for o in options if o is not None)))
    return pl.Series(list(options), dtype=categories).gather(codes)


def draw(r: np.random.Generator, p: Sequence[float], n: int) -> np.ndarray:
    """``n`` codes drawn with the (unnormalised) probabilities ``p``."""
    cdf = np.cumsum(np.asarray(p, dtype=float))
    u = r.random(n) * cdf[-1]
    codes = np.zeros(n, dtype=np.int8 if len(cdf) < 127 else np.int64)
    for edge in cdf[:-1]:
        codes += u >= edge
    return codes


def sort_order(*columns: np.ndarray) -> np.ndarray:
    """The permutation that sorts rows by ``columns`` (first most significant), ties by position.

    Packs the non-negative integer columns and the row number into one int64 and sorts that, which
    is much faster than ``np.lexsort`` on millions of rows; falls back to it when the bits run out.
    """
    n = len(columns[0])
    index_bits = max(1, (n - 1).bit_length())
    key = np.zeros(n, dtype=np.int64)
    bits = 0
    for column in columns:
        c = np.asarray(column, dtype=np.int64)
        width = max(1, int(c.max(initial=0)).bit_length())
        key = (key << width) | c
        bits += width
    if bits + index_bits > 62:
        return np.lexsort(columns[::-1])
    return np.sort((key << index_bits) | np.arange(n)) & ((1 << index_bits) - 1)


def group_rank(groups: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of equal values (``groups`` sorted)."""
    n = len(groups)
    idx = np.arange(n)
    new = np.ones(n, dtype=bool)
    new[1:] = groups[1:] != groups[:-1]
    return idx - np.maximum.accumulate(np.where(new, idx, 0))


def distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` without its slow hash path)."""
    s = np.sort(keys)
    keep = np.ones(len(s), dtype=bool)
    keep[1:] = s[1:] != s[:-1]
    return s[keep]


class Shuffle:
    """Encodes (group, item) pairs as int64 keys that sort the items of a group in random order.

    The order is a random permutation of the items rotated by the group, so it differs between
    groups; ``decode`` gives the pairs back.
    """

    def __init__(self, r: np.random.Generator, n_items: int) -> None:
        self.perm = r.permutation(n_items).astype(np.int64)
        self.inverse = np.argsort(self.perm)
        self.m = np.int64(n_items)

    def encode(self, group: np.ndarray, item: np.ndarray) -> np.ndarray:
        g = group.astype(np.int64)
        return g * self.m + (self.perm[item] + (g * 7919) % self.m) % self.m

    def decode(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = keys // self.m
        return g, self.inverse[(keys % self.m - (g * 7919) % self.m) % self.m]


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
    return frame, Arrivals(office[purchased], day[purchased], desk[purchased])


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
# Visits


@dataclass
class Visits:
    """Visits as arrays; ``finish_visits`` turns them into the feed."""

    staff: np.ndarray
    patient: np.ndarray  # True: target is a patient, else a customer
    target: np.ndarray  # patient or customer index
    day: np.ndarray
    seconds: np.ndarray
    channel: np.ndarray
    outcome: np.ndarray
    product1: np.ndarray
    product2: np.ndarray  # -1 for none
    commitment: np.ndarray  # code into [None, *commitments]
    next_day: np.ndarray  # -1 for none

    def __post_init__(self) -> None:
        # Compact types (int32 unless listed): millions of visits are sorted and copied around.
        for name in self.__dataclass_fields__:
            setattr(self, name, np.asarray(getattr(self, name), dtype=_VISIT_DTYPES.get(name, np.int32)))

    @staticmethod
    def concat(parts: list[Visits]) -> Visits:
        return Visits(*(np.concatenate([getattr(p, f) for p in parts]) for f in Visits.__dataclass_fields__))

    @staticmethod
    def empty() -> Visits:
        return Visits(*(np.zeros(0) for _ in Visits.__dataclass_fields__))


_VISIT_DTYPES = {"patient": bool, "channel": np.int8, "outcome": np.int8, "commitment": np.int8}
COMMITMENT_TEXTS = (None, *vocab.COMMITMENTS, *vocab.PATIENT_COMMITMENTS)


def rep_visits(
    seed: int,
    cal: Calendar,
    staff: pl.DataFrame,
    customers: pl.DataFrame,
    products: pl.DataFrame,
    grades: np.ndarray,
    first_month: int,
    vip: np.ndarray,
) -> Visits:
    """About 12 visits per rep and field working day (10 in ONC) to their own customers, weighted:
    A/B doctors ~4 a month, C ~1, D ~0.5; N customers by title; VIP terminals ~1 a month."""
    r = rng(seed, "rep-visits")
    role = staff["role"].to_numpy()
    reps = np.flatnonzero((role == "rep") & staff["active"].to_numpy())
    s_day = staff["_day"].to_numpy()
    target = np.where(staff["team"].to_numpy() == "ONC", 10, 12)
    owner = customers["_owner"].to_numpy()
    c_day = customers["_day"].to_numpy()
    kind = customers["kind"].to_numpy()
    is_kol = customers["is_kol"].to_numpy()
    n_cust = customers.height

    # Visit weights besides doctors' grades: N customers by title, terminals by VIP.
    by_title = {t: float(f) for t, _, _, f in vocab.NONPRESCRIBER_TITLES}
    title_w = customers["title"].replace_strict(by_title, default=1.0, return_dtype=pl.Float64).to_numpy()
    base = np.where(kind == "nonprescriber", title_w, 0.0)
    base = np.where(kind == "terminal", np.where(vip, 1.2, 0.4), base)
    boost = np.where(is_kol, 1.5, 1.0)
    is_doctor = kind == "doctor"

    # Customers grouped by owning rep, for weighted draws within a portfolio.
    c_order = np.argsort(owner, kind="stable")
    lo = np.searchsorted(owner[c_order], reps, side="left")
    hi = np.searchsorted(owner[c_order], reps, side="right")
    has_customers = hi > lo

    parts = []
    for month in np.unique(cal.month):
        days = np.flatnonzero((cal.month == month) & cal.workday)
        if len(days) == 0:
            continue
        weight = np.where(is_doctor, GRADE_VISITS[grades[:, month - first_month]], base) * boost
        cum = np.cumsum(weight[c_order])
        # Rep-days: each rep works each working day after joining, except a few days off.
        slot = np.repeat(np.arange(len(reps)), len(days))
        rd_day = np.tile(days, len(reps))
        works = (rd_day >= s_day[reps[slot]]) & (r.random(len(slot)) >= 0.04) & has_customers[slot]
        slot, rd_day = slot[works], rd_day[works]
        want = target[reps[slot]] + r.choice([-2, -1, 0, 1], len(slot))
        # Weighted draws with replacement (twice over), then the first distinct ``want`` of them.
        draws = want * 2 + 4
        d_rd = np.repeat(np.arange(len(slot)), draws)
        s = slot[d_rd]
        low = np.where(lo[s] > 0, cum[lo[s] - 1], 0.0)
        u = low + r.random(len(d_rd)) * (cum[hi[s] - 1] - low)
        pos = np.clip(np.searchsorted(cum, u, side="right"), lo[s], hi[s] - 1)
        cust = c_order[pos]
        ok = c_day[cust] <= rd_day[d_rd]
        pairs = Shuffle(r, n_cust)
        rd, cust = pairs.decode(distinct_sorted(pairs.encode(d_rd[ok], cust[ok])))
        keep = group_rank(rd) < want[rd]
        parts.append((reps[slot[rd[keep]]], cust[keep], rd_day[rd[keep]]))
    if not parts:
        return Visits.empty()
    rep_i = np.concatenate([p[0] for p in parts])
    cust = np.concatenate([p[1] for p in parts])
    day = np.concatenate([p[2] for p in parts])
    n = len(day)

    terminal = kind[cust] == "terminal"
    channel = np.where(
        terminal,
        np.array([FACE, CALL, WECHAT])[draw(r, [0.55, 0.35, 0.1], n)],
        np.array([FACE, CALL, WECHAT, MEETING])[draw(r, [0.8, 0.07, 0.07, 0.06], n)],
    )
    outcome = draw(r, [0.86, 0.06, 0.02, 0.06], n)
    # Commitments with an appointment a few days later; most appointments are kept.
    commit = (outcome == COMPLETED) & (channel == FACE) & (r.random(n) < 0.12)
    commitment = np.where(commit, 1 + r.integers(0, len(vocab.COMMITMENTS), n), 0)
    next_day = cal.shift_to_workday(day + r.integers(3, 11, n))
    next_day = np.where(commit, np.where(next_day < cal.days, next_day, day + 7), -1)
    kept = commit & (r.random(n) < 0.8) & (next_day >= 0) & (next_day < cal.days)
    a = int(kept.sum())
    rep_i = np.concatenate([rep_i, rep_i[kept]])
    cust = np.concatenate([cust, cust[kept]])
    day = np.concatenate([day, next_day[kept]])
    channel = np.concatenate([channel, np.full(a, FACE)])
    outcome = np.concatenate([outcome, np.where(r.random(a) < 0.92, COMPLETED, RESCHEDULED)])
    commitment = np.concatenate([commitment, np.zeros(a, dtype=np.int64)])
    next_day = np.concatenate([next_day, np.full(a, -1)])
    # Drop an appointment that falls on a day the rep already visits that customer.
    order = sort_order(rep_i, cust, day)
    dup = np.zeros(len(order), dtype=bool)
    same = (rep_i[order][1:] == rep_i[order][:-1]) & (cust[order][1:] == cust[order][:-1])
    dup[order[1:]] = same & (day[order][1:] == day[order][:-1])
    first = np.flatnonzero(~dup)
    rep_i, cust, day, channel, outcome, commitment, next_day = (
        x[first] for x in (rep_i, cust, day, channel, outcome, commitment, next_day)
    )
    n = len(day)
    in_person = (channel == FACE) | (channel == MEETING)
    seconds = np.where(
        in_person,
        seconds_of_day(r, n, [(0.55, 8.5, 11.75), (0.45, 14, 17.5)]),
        seconds_of_day(r, n, [(1.0, 8, 19)]),
    )
    # One or two products of the rep's team.
    team = staff["team"].fill_null("GEN").to_numpy()[rep_i]
    p1 = np.zeros(n, dtype=np.int64)
    p2 = np.full(n, -1, dtype=np.int64)
    p_team = products["_team"].to_numpy()
    for t in vocab.TEAMS:
        options = np.flatnonzero(p_team == t)
        sel = np.flatnonzero(team == t)
        if len(options) == 0 or len(sel) == 0:
            continue
        i1 = r.integers(0, len(options), len(sel))
        p1[sel] = options[i1]
        if len(options) > 1:
            p2[sel] = np.where(r.random(len(sel)) < 0.3, options[(i1 + 1) % len(options)], -1)
    return Visits(rep_i, np.zeros(n, bool), cust, day, seconds, channel, outcome, p1, p2, commitment, next_day)


def _daily_quota(
    r: np.random.Generator,
    cal: Calendar,
    workers: np.ndarray,
    worker_day: np.ndarray,
    quota: np.ndarray,
    due_worker: np.ndarray,
    due_day: np.ndarray,
    due_patient: np.ndarray,
    pool_worker: np.ndarray,
    pool_day: np.ndarray,
    pool_patient: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per worker and working day: up to ``quota`` patients, due ones first (a random choice when
    there are more), then other patients of the worker who exist by that day.

    ``workers``/``worker_day``/``quota`` list the worker-days; the pool lists each worker's patients
    with the day they first appear. Returns ``(worker, day, patient)``.
    """
    span = np.int64(cal.days + 1)
    n_pat = max(int(pool_patient.max(initial=0)), int(due_patient.max(initial=0))) + 1
    slot_key = workers.astype(np.int64) * span + worker_day
    slot_order = np.argsort(slot_key)
    slot_sorted = slot_key[slot_order]

    # Due calls on a working day of the worker, deduplicated, in random order within the slot.
    key = due_worker.astype(np.int64) * span + due_day
    pos = np.minimum(np.searchsorted(slot_sorted, key), max(len(slot_sorted) - 1, 0))
    slot = np.where(slot_sorted[pos] == key, slot_order[pos], -1) if len(slot_sorted) else np.full(len(key), -1)
    keep = slot >= 0
    pairs = Shuffle(r, n_pat)
    due_keys = distinct_sorted(pairs.encode(slot[keep], due_patient[keep]))
    d_slot, _ = pairs.decode(due_keys)
    taken = group_rank(d_slot) < quota[d_slot]
    due_keys, d_slot = due_keys[taken], d_slot[taken]
    need = quota - np.bincount(d_slot, minlength=len(workers))

    # Fillers: random patients of the worker who exist by the day (drawn twice over), minus
    # duplicates and patients already due that day.
    p_order = np.lexsort((pool_day, pool_worker))
    pw, pp = pool_worker[p_order], pool_patient[p_order]
    lo = np.searchsorted(pw, workers, side="left")
    upto = np.searchsorted(pw.astype(np.int64) * span + pool_day[p_order], slot_key, side="right")
    eligible = np.maximum(upto - lo, 0)
    f_slot = np.repeat(np.arange(len(workers)), np.where(eligible > 0, need * 2, 0))
    f_pat = pp[lo[f_slot] + np.floor(r.random(len(f_slot)) * eligible[f_slot]).astype(np.int64)]
    f_keys = pairs.encode(f_slot, f_pat)
    both = np.sort(np.concatenate([due_keys * 2, f_keys * 2 + 1]))
    repeat = np.zeros(len(both), dtype=bool)
    repeat[1:] = (both[1:] >> 1) == (both[:-1] >> 1)
    f_keys = both[((both & 1) == 1) & ~repeat] >> 1
    f_slot, _ = pairs.decode(f_keys)
    extra = group_rank(f_slot) < need[f_slot]
    all_slot, all_pat = pairs.decode(np.concatenate([due_keys, f_keys[extra]]))
    return workers[all_slot], worker_day[all_slot], all_pat


def _worker_days(
    r: np.random.Generator, cal: Calendar, workers: np.ndarray, joined: np.ndarray, lo: int, hi: int, sd: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each worker on each working day after joining (3% days off), with a daily quota."""
    days = np.flatnonzero(cal.workday)
    w = np.repeat(workers, len(days))
    d = np.tile(days, len(workers))
    keep = (d >= joined[w]) & (r.random(len(w)) >= 0.03)
    w, d = w[keep], d[keep]
    quota = np.clip(np.round(r.normal((lo + hi) / 2, sd, len(w))), lo, hi).astype(np.int64)
    return w, d, quota


def callback_calls(
    seed: int, cal: Calendar, staff: pl.DataFrame, patients: pl.DataFrame, purchases: pl.DataFrame
) -> Visits:
    """About 40 calls per callback staff member and working day to their own patients, following the
    cadence after purchases (1, 3, 6, 10, 15, then every 5 days); otherwise other own patients."""
    r = rng(seed, "callbacks")
    role = staff["role"].to_numpy()
    workers = np.flatnonzero((role == "callback") & staff["active"].to_numpy())
    w_all, wd, quota = _worker_days(r, cal, workers, staff["_day"].to_numpy(), 34, 46, 2.5)
    if len(w_all) == 0:
        return Visits.empty()
    callback = patients["_callback"].to_numpy()

    # Due calls: cadence days after each purchase until the next purchase or 15 days past expiry.
    pat, day, supply = (purchases[c].to_numpy() for c in ("_patient", "_day", "_supply"))
    order = sort_order(pat, day)
    pat, day, supply = pat[order], day[order], supply[order]
    same_next = np.r_[pat[1:] == pat[:-1], False]
    nxt = np.where(same_next, np.r_[day[1:], 0], np.iinfo(np.int32).max)
    horizon = np.minimum(nxt - 1, day + supply + 15) - day
    worker = callback[pat]
    count = np.where(worker >= 0, np.searchsorted(CADENCE, horizon, side="right"), 0)
    # Thin the purchases of overloaded staff so the candidates stay near 1.5 times the capacity.
    capacity = np.bincount(w_all, weights=quota, minlength=staff.height)
    demand = np.bincount(np.maximum(worker, 0), weights=count, minlength=staff.height)
    keep_p = np.minimum(1.0, 1.5 * capacity / np.maximum(demand, 1))
    count = np.where(r.random(len(count)) < keep_p[np.maximum(worker, 0)], count, 0)
    src = np.repeat(np.arange(len(pat)), count)
    j = np.arange(len(src)) - np.repeat(np.cumsum(count) - count, count)
    due_day = cal.shift_to_workday(day[src] + CADENCE[j])
    inside = due_day < cal.days

    has = callback >= 0
    w, d, p = _daily_quota(
        r,
        cal,
        w_all,
        wd,
        quota,
        worker[src][inside],
        due_day[inside],
        pat[src][inside],
        callback[has],
        patients["_day"].to_numpy()[has],
        np.flatnonzero(has),
    )
    n = len(d)
    seconds = seconds_of_day(r, n, [(0.6, 18, 21), (0.25, 9, 11.75), (0.15, 14, 17.5)])
    channel = np.where(r.random(n) < 0.03, SMS, CALL)
    outcome = np.where(channel == SMS, COMPLETED, draw(r, [0.72, 0.2, 0.02, 0.06], n))
    commit = (outcome == COMPLETED) & (channel == CALL) & (r.random(n) < 0.05)
    offset = 1 + len(vocab.COMMITMENTS)
    commitment = np.where(commit, offset + r.integers(0, len(vocab.PATIENT_COMMITMENTS), n), 0)
    product = patients["_product"].to_numpy()[p]
    return Visits(
        w, np.ones(n, bool), p, d, seconds, channel, outcome, product, np.full(n, -1), commitment, np.full(n, -1)
    )


def home_visits(
    seed: int,
    cal: Calendar,
    staff: pl.DataFrame,
    patients: pl.DataFrame,
    products: pl.DataFrame,
    events: pl.DataFrame,
) -> Visits:
    """Home-visit staff see 5-10 rural patients a working day. An event's buyers are visited when the
    event's common quantity runs out (at most 10 a day, the rest on the next working days)."""
    r = rng(seed, "home-visits")
    role = staff["role"].to_numpy()
    workers = np.flatnonzero((role == "home_visit") & staff["active"].to_numpy())
    w_all, wd, quota = _worker_days(r, cal, workers, staff["_day"].to_numpy(), 5, 10, 1.5)
    if len(w_all) == 0:
        return Visits.empty()
    home = patients["_home"].to_numpy()
    event = patients["_event"].to_numpy()
    dpb = days_per_box(products)

    buyers = np.flatnonzero((event >= 0) & (home >= 0))
    ev = event[buyers]
    modal_supply = np.floor(events["modal"].to_numpy()[ev] * dpb[events["product"].to_numpy()[ev]])
    planned = cal.shift_to_workday(events["day"].to_numpy()[ev] + modal_supply.astype(np.int64) - 2)
    # At most 10 planned visits per worker and day; the rest move to the next working days.
    order = np.lexsort((buyers, planned, home[buyers]))
    b, p_day, hw = buyers[order], planned[order], home[buyers][order]
    group = hw.astype(np.int64) * (cal.days + 1) + p_day
    spill = (np.arange(len(group)) - np.searchsorted(group, group)) // HOME_VISITS_MAX
    work_days = np.flatnonzero(cal.workday)
    index = np.cumsum(cal.workday)[np.minimum(p_day, cal.days - 1)] - 1 + spill
    due = np.where(
        (p_day < cal.days) & (index < len(work_days)), work_days[np.minimum(index, len(work_days) - 1)], cal.days
    )
    inside = due < cal.days

    has = home >= 0
    w, d, p = _daily_quota(
        r,
        cal,
        w_all,
        wd,
        quota,
        hw[inside],
        due[inside],
        b[inside],
        home[has],
        patients["_day"].to_numpy()[has],
        np.flatnonzero(has),
    )
    n = len(d)
    seconds = seconds_of_day(r, n, [(0.5, 8.5, 11.5), (0.5, 14, 17)])
    outcome = np.array([COMPLETED, NOT_REACHED, RESCHEDULED])[draw(r, [0.9, 0.08, 0.02], n)]
    product = patients["_product"].to_numpy()[p]
    none = np.full(n, -1)
    return Visits(w, np.ones(n, bool), p, d, seconds, np.full(n, HOME), outcome, product, none, none * 0, none)


def finish_visits(
    cal: Calendar,
    visits: Visits,
    staff: pl.DataFrame,
    customers: pl.DataFrame,
    patients: pl.DataFrame,
    products: pl.DataFrame,
) -> pl.DataFrame:
    """The visits feed, sorted by time, with ids ``V`` + yyyymmdd + number within the day."""
    v = visits
    order = sort_order(v.day, v.seconds, v.staff)
    v = Visits(*(getattr(v, f)[order] for f in Visits.__dataclass_fields__))
    ids = pl.concat([customers["customer_id"], patients["patient_id"]])
    target = ids.gather(np.where(v.patient, customers.height + v.target, v.target))
    # "KQ001" or "KQ001;KQ003": every pair of codes, then a lookup.
    codes = products["product_code"].to_list()
    pairs = [a if b is None else f"{a};{b}" for a in codes for b in [None, *codes]]
    product_pair = v.product1.astype(np.int64) * (len(codes) + 1) + v.product2 + 1
    return pl.DataFrame(
        {
            "visit_id": day_ids("V", cal, v.day, 7),
            "staff_id": staff["staff_id"].gather(v.staff),
            "target_type": labels(("customer", "patient"), v.patient.astype(np.int64)),
            "target_id": target,
            "visit_at": timestamps(cal, v.day, v.seconds),
            "channel": labels(VISIT_CHANNELS, v.channel),
            "outcome": labels(OUTCOMES, v.outcome),
            "products": labels(pairs, product_pair),
            "commitment": labels(COMMITMENT_TEXTS, v.commitment),
            "next_visit_date": pick_or_null(dates(cal, np.arange(cal.days + 14)), v.next_day),
            "_day": v.day,
        }
    )


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
