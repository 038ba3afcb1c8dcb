"""The callback list (回访名单) of a run date, rebuilt from the data alone every night.

Calls that fall due (contract section 4, Callbacks):

- cadence: purchase date + 1, 3, 6, 10, 15, then every 5 days, up to 15 days after the expiry
  date, counted from the latest purchase of the patient and product (a repurchase restarts it and
  drops what the old cadence still owed);
- lapsed: one win-back call on expiry + 16 days, the first run date that knows that no purchase
  came in the 15 days after the expiry date;
- consult: a consult that neither came in nor purchased, due within 3 days of the call; it is on
  the lists of the days after the call up to that deadline (extended to a working day);
- holiday: on the days of a statutory holiday, every patient who is not lapsed and has had no
  completed call since the holiday began gets a greeting call.

A due call is done by a ``completed`` phone or home visit to the patient on or after its due
date; until then it stays due and, from the day after its due date, is ``overdue``. Since only the
latest completed call matters, the outstanding calls of a patient and product are "the first
cadence day after the last completed call" and the lapse call, both closed-form.

Capacity: a staff member gets at most ``max_calls_per_day`` calls a day, in the contract's
priority order (overdue, expiring within 7 days, consult, lapsed, cadence; greetings last). What
does not fit is still due the next day, where it is overdue and comes first; carry-over (overdue
calls, and so everything that did not fit) is listed on working days only, so it lands on the next
working day. Weekend and holiday lists carry the calls falling due that very day, consults within
their window and holiday greetings. Among overdue calls those never tried since their due date
come before those tried and not reached, so the same few never block the rest.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from keqing.calendar import WorkCalendar
from keqing.clock import cutoff_for
from keqing.rules import Rules
from keqing.supply.assignment import assign_staff
from keqing.supply.frames import as_date, day_number, injective_seed, key, position_in_runs

VISITS_SCHEMA = {
    "target_type": pl.String,
    "target_id": pl.String,
    "channel": pl.String,
    "outcome": pl.String,
    "visit_at": pl.Datetime("us"),
}
# Per patient: the date of the last completed phone or home visit and of the last call attempt.
CONTACTS_SCHEMA = {"patient_id": pl.String, "last_completed": pl.Date, "last_attempt": pl.Date}
CONSULTS_SCHEMA = {
    "consult_id": pl.String,
    "received_at": pl.Datetime("us"),
    "came_in": pl.Boolean,
    "purchased": pl.Boolean,
    "office_code": pl.String,
    "staff_id": pl.String,
}
PATIENTS_SCHEMA = {
    "patient_id": pl.String,
    "office_code": pl.String,
    "callback_staff_id": pl.String,
    "home_visit_staff_id": pl.String,
    "informed": pl.Boolean,
    "village": pl.String,
    "township": pl.String,
}
CALL_CHANNELS = ("phone", "home")
# A consult's window ends on its due date, or on the first working day after it when that is a day
# off: a generous bound on that stretch (the longest runs of days off are about nine days).
WINDOW_STRETCH_DAYS = 31

# One call per patient (or consult) and day, with what the email shows.
CALL_COLUMNS = {
    "patient_id": pl.String,
    "product_code": pl.String,
    "reason": pl.String,
    "due_date": pl.Date,
    "expiry_date": pl.Date,
    "due_today": pl.Boolean,
    "attempted_on": pl.Date,  # last call attempt on or after the due date that did not complete it
    "low_adherence": pl.Boolean,
}
LIST_COLUMNS = {
    "staff_id": pl.String,
    "office_code": pl.String,
    "patient_id": pl.String,
    "consult_id": pl.String,
    "product_code": pl.String,
    "reason": pl.String,
    "priority": pl.Int32,
    "position": pl.Int32,
    "due_date": pl.Date,
    "expiry_date": pl.Date,
    "low_adherence": pl.Boolean,
    "not_informed": pl.Boolean,
    "listed": pl.Boolean,
}


def contact_history(visits: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """Per patient: the date of the last ``completed`` phone or home visit and of the last attempt.

    The definition over visit rows (CONTACTS_SCHEMA). The supply task gets the same frame from one
    aggregate query (tasks/supply.py), checked equal to this in tests/tasks/test_supply.py.
    """
    calls = visits.filter(
        (pl.col("target_type") == "patient")
        & pl.col("channel").is_in(CALL_CHANNELS)
        & (pl.col("visit_at").dt.date() <= cutoff)
    )
    completed = pl.col("outcome").fill_null("completed") == "completed"
    return calls.group_by(pl.col("target_id").alias("patient_id")).agg(
        pl.col("visit_at").filter(completed).max().dt.date().alias("last_completed"),
        pl.col("visit_at").max().dt.date().alias("last_attempt"),
    )


def _first_offset_after(t: pl.Expr, rules: Rules) -> pl.Expr:
    """The smallest cadence offset (days after the purchase) greater than ``t`` >= 0."""
    days, every = rules.callbacks.cadence_days, rules.callbacks.then_every_days
    last = days[-1]
    chain = pl.when(t < days[0]).then(days[0])
    for d in days[1:]:
        chain = chain.when(t < d).then(d)
    return chain.otherwise(last + ((t - last) // every + 1) * every)


def _is_cadence_offset(q: pl.Expr, rules: Rules) -> pl.Expr:
    days, every = rules.callbacks.cadence_days, rules.callbacks.then_every_days
    return q.is_in(days) | ((q > days[-1]) & ((q - days[-1]) % every == 0))


def _with_key(frame: pl.DataFrame, seed: int) -> pl.DataFrame:
    return frame.with_columns(key("patient_id", seed).alias("_pk"))


def _seed_for(*frames: pl.DataFrame) -> int:
    return injective_seed(pl.concat([f["patient_id"] for f in frames]).unique())


def patient_calls(
    state: pl.DataFrame, contacts: pl.DataFrame, run_date: dt.date, rules: Rules, seed: int | None = None
) -> pl.DataFrame:
    """The outstanding call of each patient and product on ``run_date`` (its earliest due date).

    ``state``: supply_state on run_date (patient_id, product_code, last_purchase_date,
    expiry_date, days_left; low_adherence when known). ``contacts``: contact_history. ``seed``:
    an injective hash seed for the patient ids (see ``frames.injective_seed``; found when omitted).
    """
    seed = _seed_for(state, contacts) if seed is None else seed
    until = rules.callbacks.until_days_after_expiry
    x = day_number(pl.lit(run_date))
    p = day_number(pl.col("last_purchase_date"))
    e = day_number(pl.col("expiry_date"))
    done = day_number(pl.col("last_completed"))
    since = pl.max_horizontal(done - p, pl.lit(0)).fill_null(0)  # completed calls before the purchase count for nothing
    d1 = p + _first_offset_after(since, rules)
    cadence = d1 <= pl.min_horizontal(x, e + until)
    lapse_day = e + until + 1
    lapse = (lapse_day <= x) & (done.is_null() | (done < lapse_day))
    due = pl.when(cadence).then(d1).when(lapse).then(lapse_day)
    due_today = (_is_cadence_offset(x - p, rules) & (x <= e + until)) | (x == lapse_day)
    frame = (
        state
        if "low_adherence" in state.columns
        else state.with_columns(pl.lit(None, pl.Boolean).alias("low_adherence"))
    )
    calls = (
        _with_key(frame, seed)
        .join(_with_key(contacts, seed).drop("patient_id"), on="_pk", how="left")
        .with_columns(due.alias("_due"), cadence.alias("_cadence"), due_today.alias("due_today"))
        .filter(pl.col("_due").is_not_null())
    )
    reason = (
        pl.when(pl.col("_due") < x)
        .then(pl.lit("overdue"))
        .when(~pl.col("_cadence"))
        .then(pl.lit("lapsed"))
        .when(pl.col("days_left") <= rules.supply.expiring_within_days)
        .then(pl.lit("expiring"))
        .otherwise(pl.lit("cadence"))
    )
    return calls.select(
        "patient_id",
        "product_code",
        reason.alias("reason"),
        as_date(pl.col("_due")).alias("due_date"),
        "expiry_date",
        "due_today",
        pl.when(pl.col("last_attempt") >= as_date(pl.col("_due"))).then(pl.col("last_attempt")).alias("attempted_on"),
        "low_adherence",
    )


def holiday_period_start(day: dt.date, calendar: WorkCalendar) -> dt.date | None:
    """The first day of the statutory holiday that ``day`` belongs to, or None on other days."""
    name = calendar.holiday_name(day)
    if name is None:
        return None
    start = day
    while calendar.holiday_name(start - dt.timedelta(days=1)) == name:
        start -= dt.timedelta(days=1)
    return start


def greeting_calls(
    state: pl.DataFrame,
    contacts: pl.DataFrame,
    run_date: dt.date,
    calendar: WorkCalendar,
    seed: int | None = None,
) -> pl.DataFrame:
    """Holiday greetings: patients not lapsed, without a completed call since the holiday began.

    One row per patient, on the product that runs out first; due on the holiday's first day.
    """
    start = holiday_period_start(run_date, calendar)
    if start is None:
        return pl.DataFrame(schema=CALL_COLUMNS)
    seed = _seed_for(state, contacts) if seed is None else seed
    frame = (
        state
        if "low_adherence" in state.columns
        else state.with_columns(pl.lit(None, pl.Boolean).alias("low_adherence"))
    )
    candidates = _with_key(frame.filter(pl.col("status") != "lapsed"), seed)
    first_to_run_out = _pack(
        candidates,
        (day_number(pl.col("expiry_date")), _DAY_BITS),
        (_product_rank(frame["product_code"]), _PRODUCT_BITS),
    )
    candidates = (
        candidates.sort(first_to_run_out)
        .filter(pl.col("_pk").is_first_distinct())
        .join(_with_key(contacts, seed).drop("patient_id"), on="_pk", how="left")
        .filter(pl.col("last_completed").is_null() | (pl.col("last_completed") < start))
    )
    return candidates.select(
        "patient_id",
        "product_code",
        pl.lit("holiday").alias("reason"),
        pl.lit(start).alias("due_date"),
        "expiry_date",
        pl.lit(True).alias("due_today"),
        pl.lit(None, pl.Date).alias("attempted_on"),
        "low_adherence",
    ).sort("patient_id")


def consult_lookback_days(rules: Rules) -> int:
    """Days back from the run date beyond which no consult can still be in its callback window."""
    return rules.callbacks.consult_within_days + WINDOW_STRETCH_DAYS


def consult_calls(consults: pl.DataFrame, run_date: dt.date, rules: Rules) -> pl.DataFrame:
    """Consults to call back on ``run_date``: not come in, not purchased, within their window.

    Due date = the call's date + ``consult_within_days``; the window runs from the day after the
    call to that date, or to the first working day after it when it falls on a day off.
    """
    within = rules.callbacks.consult_within_days
    open_ = consults.with_columns(pl.col("received_at").dt.date().alias("received_date")).filter(
        (pl.col("received_date") <= cutoff_for(run_date))
        & ~pl.col("came_in").fill_null(False)
        & ~pl.col("purchased").fill_null(False)
        & (pl.col("received_date") >= run_date - dt.timedelta(days=consult_lookback_days(rules)))
    )
    deadlines = sorted({d + dt.timedelta(days=within) for d in open_["received_date"].unique().to_list()})
    window_end = {d: rules.work_calendar.next_workday(d, after=False) for d in deadlines}  # a handful of dates
    due = pl.col("received_date") + pl.duration(days=within)
    return (
        open_.with_columns(due.alias("due_date"))
        .with_columns(
            pl.col("due_date").replace_strict(window_end, default=None, return_dtype=pl.Date).alias("_window_end")
        )
        .filter(pl.col("_window_end") >= run_date)
        .select(
            "consult_id",
            "office_code",
            pl.col("staff_id").alias("requested_staff_id"),
            "received_date",
            pl.when(pl.col("due_date") < run_date).then(pl.lit("overdue")).otherwise(pl.lit("consult")).alias("reason"),
            "due_date",
        )
    )


def callback_assignments(
    state: pl.DataFrame,
    consults: pl.DataFrame,
    patients: pl.DataFrame,
    staff: pl.DataFrame,
    rules: Rules,
    seed: int | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Who calls each patient with supply, and each consult to call back.

    Returns (patients: patient_id, office_code, informed, staff_id, staff_auto; consults:
    consult_id, office_code, staff_id, staff_auto). Unassigned patients are shared out in order of
    first purchase, then unassigned consults in order of arrival (see ``assignment``). ``seed``: an
    injective hash seed for ``patients.patient_id`` (found when omitted).
    """
    seed = injective_seed(patients["patient_id"]) if seed is None else seed
    firsts = (
        _with_key(state, seed)
        .group_by("_pk")
        .agg(pl.col("first_purchase_date").min().alias("_first"))
        .join(
            _with_key(patients, seed).select(
                "_pk",
                "patient_id",
                "office_code",
                "informed",
                pl.col("callback_staff_id").alias("requested_staff_id"),
            ),
            on="_pk",
            how="inner",
        )
    )
    patient_items = firsts.select(
        pl.lit(0, pl.Int8).alias("_kind"),
        pl.col("patient_id").alias("_item"),
        "office_code",
        "requested_staff_id",
        "_first",
        "informed",
    )
    consult_items = consults.select(
        pl.lit(1, pl.Int8).alias("_kind"),
        pl.col("consult_id").alias("_item"),
        "office_code",
        "requested_staff_id",
        pl.col("received_date").alias("_first"),
        pl.lit(None, pl.Boolean).alias("informed"),
    )
    assigned = assign_staff(
        pl.concat([patient_items, consult_items]), staff, "callback", rules, order_by=["_kind", "_first", "_item"]
    )
    columns = ["office_code", "staff_id", "staff_auto"]
    by_patient = assigned.filter(pl.col("_kind") == 0).select(pl.col("_item").alias("patient_id"), *columns, "informed")
    by_consult = assigned.filter(pl.col("_kind") == 1).select(pl.col("_item").alias("consult_id"), *columns)
    return by_patient, by_consult


_DAY_BITS = 18  # a day number + 1 (0 = none) up to the year 2686
_PRODUCT_BITS = 16


def _pack(frame: pl.DataFrame, *parts: tuple[pl.Expr, int]) -> pl.Series:
    """Non-negative integer parts of ``frame`` packed into one u64 that sorts like the tuple of parts.

    A part wider than its bits (a 17th priority, a 65,537th product) would mis-sort silently, so
    each part's range is checked first: one that does not fit raises instead.
    """
    if sum(bits for _, bits in parts) > 64:
        raise ValueError(f"sort key parts of {[bits for _, bits in parts]} bits do not fit in 64")
    values = frame.select(expr.cast(pl.Int64).alias(f"_part{i}") for i, (expr, _) in enumerate(parts))
    packed = pl.lit(0, pl.UInt64)
    for name, (_, bits) in zip(values.columns, parts, strict=True):
        low, high = values[name].min(), values[name].max()
        if low is not None and (low < 0 or high >= 1 << bits):
            raise ValueError(f"sort key part {name} spans {low}..{high}, outside its {bits} bits")
        packed = packed * (1 << bits) + pl.col(name).cast(pl.UInt64)
    return values.select(packed).to_series()


def _day_or(expr: pl.Expr, null_value: int) -> pl.Expr:
    return (day_number(expr).cast(pl.Int64) + 1).fill_null(null_value)


def _product_rank(codes: pl.Series) -> pl.Expr:
    order = {code: i for i, code in enumerate(sorted(codes.drop_nulls().unique().to_list()))}
    return pl.col("product_code").replace_strict(order, default=0, return_dtype=pl.Int64)


def _priority(rules: Rules) -> pl.Expr:
    order = {reason: i + 1 for i, reason in enumerate(rules.callbacks.priority)}
    return pl.col("reason").replace_strict(order, default=len(order) + 1, return_dtype=pl.Int32)


def callback_list(
    state: pl.DataFrame,
    contacts: pl.DataFrame,
    consults: pl.DataFrame,
    assignments: tuple[pl.DataFrame, pl.DataFrame],
    run_date: dt.date,
    rules: Rules,
    seed: int | None = None,
) -> pl.DataFrame:
    """Every call of ``run_date`` with its staff member, priority and position; ``listed`` marks
    the ones within the day's capacity (the rest wait for the next working day).

    ``consults``: consult_calls of run_date. ``assignments``: callback_assignments. One entry per
    patient: its most urgent outstanding call (ties: earlier due date, earlier expiry, product
    code), and one per consult. On a day off only patients with a call falling due that day or a
    holiday greeting are listed. Order on a list: priority, then (overdue calls) never tried since
    due before tried longest ago, due date, expiry date, patient_id / consult_id.
    """
    by_patient, by_consult = assignments
    seed = injective_seed(by_patient["patient_id"]) if seed is None else seed
    calls = pl.concat(
        [
            patient_calls(state, contacts, run_date, rules, seed).select(list(CALL_COLUMNS)),
            greeting_calls(state, contacts, run_date, rules.work_calendar, seed).select(list(CALL_COLUMNS)),
        ]
    ).with_columns(_priority(rules).alias("priority"))
    calls = _with_key(calls, seed)
    if not rules.work_calendar.is_workday(run_date):
        # A day off lists the patients with a call falling due that day (or a greeting); carry-over waits.
        calls = calls.join(calls.filter("due_today").select("_pk").unique(), on="_pk", how="semi")
    best_first = _pack(
        calls,
        (pl.col("priority"), 4),
        (_day_or(pl.col("due_date"), 0), _DAY_BITS),
        (_day_or(pl.col("expiry_date"), (1 << _DAY_BITS) - 1), _DAY_BITS),
        (_product_rank(calls["product_code"]), _PRODUCT_BITS),
    )
    per_patient = (
        calls.sort(best_first)
        .filter(pl.col("_pk").is_first_distinct())
        .join(_with_key(by_patient, seed).drop("patient_id"), on="_pk", how="inner")
        .with_columns(
            pl.lit(None, pl.String).alias("consult_id"), (~pl.col("informed").fill_null(False)).alias("not_informed")
        )
    )
    per_consult = consults.join(by_consult.drop("office_code"), on="consult_id", how="inner").with_columns(
        _priority(rules).alias("priority"),
        pl.lit(None, pl.String).alias("patient_id"),
        pl.lit(None, pl.String).alias("product_code"),
        pl.lit(None, pl.Date).alias("expiry_date"),
        pl.lit(None, pl.Date).alias("attempted_on"),
        pl.lit(None, pl.Boolean).alias("low_adherence"),
        pl.lit(None, pl.Boolean).alias("not_informed"),
    )
    columns = [c for c in LIST_COLUMNS if c not in ("position", "listed")] + ["attempted_on"]
    entries = pl.concat([per_patient.select(columns), per_consult.select(columns)])
    return _rank(entries, rules.callbacks.max_calls_per_day)


def _rank(entries: pl.DataFrame, capacity: int) -> pl.DataFrame:
    """Position each entry on its staff member's list and mark the first ``capacity`` as listed.

    Sorting a million entries by string ids is slow, so they are sorted by numbers (a staff number
    and one packed u64), and only the entries that can still make the list (those tied with a
    listed one) are sorted again exactly, with the ids as the last tie-breaker.
    """
    staff_ids = sorted(entries["staff_id"].drop_nulls().unique().to_list())
    offices = sorted(entries["office_code"].drop_nulls().unique().to_list())
    staff_number = pl.col("staff_id").replace_strict(
        {s: i for i, s in enumerate(staff_ids)}, default=None, return_dtype=pl.Int64
    )
    office_number = pl.col("office_code").replace_strict(
        {o: len(staff_ids) + i for i, o in enumerate(offices)},
        default=len(staff_ids) + len(offices),
        return_dtype=pl.Int64,
    )
    order = _pack(
        entries,
        (pl.col("priority"), 4),
        (_day_or(pl.col("attempted_on"), 0), _DAY_BITS),
        (_day_or(pl.col("due_date"), 0), _DAY_BITS),
        (_day_or(pl.col("expiry_date"), (1 << _DAY_BITS) - 1), _DAY_BITS),
    )
    ranked = (
        entries.with_columns(staff_number.fill_null(office_number).alias("_list"), order.alias("_order"))
        .sort("_list", "_order")
        .with_columns((position_in_runs("_list") + 1).alias("_pos"))
        .with_columns((pl.col("_pos") - position_in_runs("_list", "_order")).alias("_tie_first"))
    )
    # Offices without callback staff keep all their calls on a staff-less list, for ops to see.
    contender = pl.col("staff_id").is_null() | (pl.col("_tie_first") <= capacity)
    exact = (
        ranked.filter(contender)
        .sort("_list", "_order", "patient_id", "consult_id", nulls_last=True)
        .with_columns((position_in_runs("_list") + 1).alias("_pos"))
    )
    rest = ranked.filter(~contender)
    listed = pl.col("staff_id").is_null() | (pl.col("_pos") <= capacity)
    return (
        pl.concat([exact, rest])
        .with_columns(pl.col("_pos").cast(pl.Int32).alias("position"), listed.alias("listed"))
        .select(list(LIST_COLUMNS))
    )
