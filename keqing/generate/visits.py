"""Visits: reps to their customers (~12 a working day), callback staff to their patients (~40
calls a working day, following the cadence after purchases) and home-visit staff to rural patients.

Arrays first (``Visits``, compact integer types), the feed once at the end (``finish_visits``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from keqing.generate import vocab
from keqing.generate.activity import dates, day_ids, seconds_of_day, timestamps
from keqing.generate.arrays import Shuffle, distinct_sorted, draw, group_rank, labels, pick_or_null, sort_order
from keqing.generate.population import days_per_box
from keqing.generate.scales import Calendar, rng

# Callback cadence after a purchase: days 1, 3, 6, 10, 15, then every 5 days.
# Share of callback calls that reach the patient (outcome completed); the others are due again the next day.
ANSWERED = 0.72
CADENCE = np.array([1, 3, 6, 10, 15, *range(20, 1000, 5)], dtype=np.int64)
HOME_VISITS_MAX = 10

VISIT_CHANNELS = ("face", "phone", "home", "sms", "wechat", "meeting")
FACE, CALL, HOME, SMS, WECHAT, MEETING = range(6)
OUTCOMES = ("completed", "not_reached", "refused", "rescheduled")
COMPLETED, NOT_REACHED, REFUSED, RESCHEDULED = range(4)
# Weight of a doctor's visits a month by grade code (activity.GRADES: none, A, B, C, D).
GRADE_VISITS = np.array([1.0, 4.0, 4.0, 1.0, 0.5])


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
        # Weighted draws with replacement (about twice what is needed), then ``want`` of the
        # distinct customers drawn, in random order.
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
    fill: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per worker and working day: up to ``quota`` patients, due ones first (a random choice when
    there are more), then other patients of the worker who exist by that day.

    ``workers``/``worker_day``/``quota`` list the worker-days; the pool lists each worker's patients
    with the day they first appear; ``fill`` (default all) marks the worker-days topped up with other
    patients (the others make their due calls only). Returns ``(worker, day, patient)``.
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
    if fill is not None:
        need = np.where(fill, need, 0)

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


def _cadence_calls(
    purchases: pl.DataFrame, worker_of: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per purchase, sorted by patient and day: ``(patient, day, horizon, worker, order)``, the horizon
    being the days after the purchase with cadence calls (until the next purchase or 15 days past the
    supply's end) and the worker the patient's callback staff (``worker_of``; 0 when not given)."""
    pat, day, supply = (purchases[c].to_numpy() for c in ("_patient", "_day", "_supply"))
    order = sort_order(pat, day)
    pat, day, supply = pat[order], day[order], supply[order]
    same_next = np.r_[pat[1:] == pat[:-1], False]
    nxt = np.where(same_next, np.r_[day[1:], 0], np.iinfo(np.int32).max)
    horizon = np.minimum(nxt - 1, day + supply + 15) - day
    worker = worker_of[pat] if worker_of is not None else np.zeros(len(pat), dtype=np.int64)
    return pat, day, horizon, worker, order


def callback_demand(cal: Calendar, patients: pl.DataFrame, purchases: pl.DataFrame, n_offices: int) -> np.ndarray:
    """Per office: the calls a day over the range's last four weeks (or all of it when shorter), as
    ``callback_calls`` makes them when staffed by demand: the cadence calls falling due (1, 3, 6, 10, 15,
    then every 5 days after each purchase, until the next one or 15 days past the supply's end), on the
    day itself (weekends included), and the calls again for those not answered (1 / ANSWERED attempts a
    call). Weekends and holidays carry their own due calls, so this is the load of every day, Monday too."""
    pat, day, horizon, _, _ = _cadence_calls(purchases)
    count = np.searchsorted(CADENCE, horizon, side="right")
    src = np.repeat(np.arange(len(pat)), count)
    j = np.arange(len(src)) - np.repeat(np.cumsum(count) - count, count)
    due_day = day[src] + CADENCE[j]
    window = min(28, cal.days)
    recent = (due_day >= cal.days - window) & (due_day < cal.days)
    office = patients["_office"].to_numpy()[pat[src][recent]]
    return np.bincount(office, minlength=n_offices) / window / ANSWERED


def _attempts(
    r: np.random.Generator, cal: Calendar, worker: np.ndarray, day: np.ndarray, patient: np.ndarray, days: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The due calls with their outcomes drawn: one not answered is tried again later that day, and when
    still not answered it is due again the next day (up to ``days`` days). Returns ``(worker, day,
    patient, first, second)`` per day a call is tried: the outcomes of the first try and of the second
    (-1 when the first was answered)."""
    parts = []
    for _ in range(days):
        first = draw(r, [ANSWERED, 0.2, 0.02, 0.06], len(day))
        second = np.where(first == COMPLETED, -1, draw(r, [ANSWERED, 0.2, 0.02, 0.06], len(day)))
        parts.append((worker, day, patient, first, second))
        again = (first != COMPLETED) & (second != COMPLETED) & (day + 1 < cal.days)
        worker, day, patient = worker[again], day[again] + 1, patient[again]
    return tuple(np.concatenate(c) for c in zip(*parts, strict=True))  # type: ignore[return-value]


def callback_calls(
    seed: int,
    cal: Calendar,
    staff: pl.DataFrame,
    patients: pl.DataFrame,
    purchases: pl.DataFrame,
    by_demand: bool = False,
) -> Visits:
    """About 40 calls per callback staff member and working day to their own patients, following the
    cadence after purchases (1, 3, 6, 10, 15, then every 5 days); otherwise other own patients.

    ``by_demand`` (the scales staffed for their callback demand, ``population.staff_callbacks_by_demand``):
    every due call is planned (no thinning), on its very day (weekends and holidays too, due calls only,
    as the pipeline's weekend lists), and a call not answered is made again the next day (up to 3 tries),
    so the pipeline's lists show the calls falling due rather than a backlog."""
    r = rng(seed, "callbacks")
    role = staff["role"].to_numpy()
    workers = np.flatnonzero((role == "callback") & staff["active"].to_numpy())
    joined = staff["_day"].to_numpy()
    w_all, wd, quota = _worker_days(r, cal, workers, joined, 34, 46, 2.5)
    if len(w_all) == 0:
        return Visits.empty()
    callback = patients["_callback"].to_numpy()

    # Due calls: cadence days after each purchase until the next purchase or 15 days past expiry.
    pat, day, horizon, worker, _ = _cadence_calls(purchases, callback)
    count = np.where(worker >= 0, np.searchsorted(CADENCE, horizon, side="right"), 0)
    fill = None
    if by_demand:
        src = np.repeat(np.arange(len(pat)), count)
        j = np.arange(len(src)) - np.repeat(np.cumsum(count) - count, count)
        due_day = day[src] + CADENCE[j]
        inside = due_day < cal.days
        a_w, a_d, a_p, a_o, a_o2 = _attempts(r, cal, worker[src][inside], due_day[inside], pat[src][inside])
        # Weekends and holidays: each nurse on duty for the calls due that day only.
        off = np.flatnonzero(~cal.workday)
        ow, od = np.repeat(workers, len(off)), np.tile(off, len(workers))
        on = od >= joined[ow]
        fill = np.r_[np.ones(len(w_all), dtype=bool), np.zeros(int(on.sum()), dtype=bool)]
        w_all, wd = np.r_[w_all, ow[on]], np.r_[wd, od[on]]
        quota = np.r_[quota, np.full(int(on.sum()), 40, dtype=np.int64)]
        due_w, due_d, due_p = a_w, a_d, a_p
    else:
        # Thin the purchases of overloaded staff so the candidates stay near 1.5 times the capacity.
        capacity = np.bincount(w_all, weights=quota, minlength=staff.height)
        demand = np.bincount(np.maximum(worker, 0), weights=count, minlength=staff.height)
        keep_p = np.minimum(1.0, 1.5 * capacity / np.maximum(demand, 1))
        count = np.where(r.random(len(count)) < keep_p[np.maximum(worker, 0)], count, 0)
        src = np.repeat(np.arange(len(pat)), count)
        j = np.arange(len(src)) - np.repeat(np.cumsum(count) - count, count)
        due_day = cal.shift_to_workday(day[src] + CADENCE[j])
        inside = due_day < cal.days
        due_w, due_d, due_p = worker[src][inside], due_day[inside], pat[src][inside]

    has = callback >= 0
    w, d, p = _daily_quota(
        r,
        cal,
        w_all,
        wd,
        quota,
        due_w,
        due_d,
        due_p,
        callback[has],
        patients["_day"].to_numpy()[has],
        np.flatnonzero(has),
        fill,
    )
    n = len(d)
    seconds = seconds_of_day(r, n, [(0.6, 18, 21), (0.25, 9, 11.75), (0.15, 14, 17.5)])
    channel = np.where(r.random(n) < 0.03, SMS, CALL)
    outcome = np.where(channel == SMS, COMPLETED, draw(r, [ANSWERED, 0.2, 0.02, 0.06], n))
    if by_demand:
        # A due call's outcomes as drawn for its day (a day's tries where it is due twice, one answered
        # first); the due calls go by phone, and one not answered at first is called again that evening.
        span, n_pat = np.int64(cal.days + 1), np.int64(patients.height)
        a_key = (a_w.astype(np.int64) * span + a_d) * n_pat + a_p
        a_order = np.lexsort((a_o2, a_o, a_key))  # answered (0) first within a key
        a_key, a_o, a_o2 = a_key[a_order], a_o[a_order], a_o2[a_order]
        first = np.r_[True, a_key[1:] != a_key[:-1]]
        a_key, a_o, a_o2 = a_key[first], a_o[first], a_o2[first]
        key = (w.astype(np.int64) * span + d) * n_pat + p
        pos = np.minimum(np.searchsorted(a_key, key), max(len(a_key) - 1, 0))
        hit = (a_key[pos] == key) if len(a_key) else np.zeros(n, dtype=bool)
        channel = np.where(hit, CALL, channel)
        outcome = np.where(hit, a_o[pos], outcome)
        again = np.flatnonzero(hit & (a_o2[pos] >= 0))
        later = np.minimum(np.maximum(seconds[again], 14 * 3600) + 3600 + r.integers(0, 3 * 3600, len(again)), 86_399)
        w, p, d = np.r_[w, w[again]], np.r_[p, p[again]], np.r_[d, d[again]]
        seconds, channel = np.r_[seconds, later], np.r_[channel, np.full(len(again), CALL)]
        outcome = np.r_[outcome, a_o2[pos][again]]
        n = len(d)
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
