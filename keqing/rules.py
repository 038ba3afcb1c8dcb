"""The rules of contract section 4 as one typed, validated object.

Every number is configuration: the defaults are the contract's, and a YAML file named by
``KEQING_RULES`` overrides any of them, e.g.::

    grading:
      high_potential_rx: 120
    callbacks:
      max_calls_per_day: 35

Unknown keys and wrong values are errors that name the key (``grading.high_potential_rx``).
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Share = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]
if TYPE_CHECKING:
    from keqing.calendar import WorkCalendar

CallbackReason = Literal["overdue", "expiring", "consult", "lapsed", "cadence", "holiday"]
VisitChannel = Literal["face", "phone", "home", "sms", "wechat", "meeting"]
Channels = Annotated[tuple[VisitChannel, ...], Field(min_length=1)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SupplyRules(_Section):
    """Supply and expiry (到期)."""

    must_keep_share: Share = 0.6  # 必保量 = ceil(60% x expiry list)
    target_share: Share = 0.8  # 目标量 = ceil(80% x expiry list)
    expiring_within_days: PositiveInt = 7  # status "expiring" and callback priority


class CallbackRules(_Section):
    """Callbacks (回访)."""

    cadence_days: tuple[PositiveInt, ...] = (1, 3, 6, 10, 15)
    then_every_days: PositiveInt = 5
    until_days_after_expiry: PositiveInt = 15  # also: lapsed (流失) this many days after expiry
    consult_within_days: PositiveInt = 3
    max_calls_per_day: PositiveInt = 40
    priority: tuple[CallbackReason, ...] = ("overdue", "expiring", "consult", "lapsed", "cadence", "holiday")
    # Patients without a callback staff member go to one of their office's callback staff.
    unassigned_policy: Literal["least_loaded", "round_robin"] = "least_loaded"

    @model_validator(mode="after")
    def _cadence_increasing(self) -> CallbackRules:
        if list(self.cadence_days) != sorted(set(self.cadence_days)):
            raise ValueError("cadence_days must be strictly increasing")
        return self


class HomeVisitRules(_Section):
    max_visits_per_day: PositiveInt = 10  # households a home-visit worker visits a day (seed 000: 5-10)
    plan_days: PositiveInt = 14  # home_visit_plan keeps the visits of run_date and the next days


class AdherenceRules(_Section):
    window_days: PositiveInt = 180
    pdc_threshold: Share = 0.8


class GradingRules(_Section):
    """Doctor grading (分级) over the last complete months of rx_monthly."""

    months: PositiveInt = 3
    high_potential_rx: Annotated[float, Field(ge=0)] = 100  # market_rx a month
    high_support_rx: Annotated[float, Field(ge=0)] = 30  # our_rx a month
    # Nine-box middle bands (the contract leaves them to us): potential B from 50, support 2 from 10.
    medium_potential_rx: Annotated[float, Field(ge=0)] = 50
    medium_support_rx: Annotated[float, Field(ge=0)] = 10
    vip_share: Share = 0.2  # terminals: top 20% by order amount over 12 months within an office
    vip_months: PositiveInt = 12
    # A doctor's average is over the window months in which the doctor has rx rows ("skip"), or over
    # all the window's months with missing ones as 0 ("zero").
    missing_months: Literal["skip", "zero"] = "skip"

    @model_validator(mode="after")
    def _bands_ordered(self) -> GradingRules:
        if self.medium_potential_rx > self.high_potential_rx:
            raise ValueError("medium_potential_rx must not exceed high_potential_rx")
        if self.medium_support_rx > self.high_support_rx:
            raise ValueError("medium_support_rx must not exceed high_support_rx")
        return self


class GradeStandard(_Section):
    visits_per_month: Annotated[int, Field(ge=0)]
    monthly_coverage: Share
    quarterly_coverage: Share


def _default_standards() -> dict[str, GradeStandard]:
    return {
        "A": GradeStandard(visits_per_month=4, monthly_coverage=0.9, quarterly_coverage=1.0),
        "B": GradeStandard(visits_per_month=4, monthly_coverage=0.9, quarterly_coverage=1.0),
        "C": GradeStandard(visits_per_month=1, monthly_coverage=0.6, quarterly_coverage=0.8),
        "D": GradeStandard(visits_per_month=0, monthly_coverage=0.2, quarterly_coverage=0.6),
    }


def _default_title_visits() -> dict[str, int]:
    return {
        "院办领导": 1,
        "药剂科主任": 1,
        "KOL": 1,
        "库管": 2,
        "采购": 2,
        "药房组长": 2,
        "检验科": 2,
        "护士长": 2,
    }


class VisitRules(_Section):
    """Visit standards for reps (处方医生覆盖率和拜访频率)."""

    standards: dict[Literal["A", "B", "C", "D"], GradeStandard] = Field(default_factory=_default_standards)
    # Non-prescribers (N): visits a month by title; "KOL" is the non-prescribing KOL.
    nonprescriber_visits: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=_default_title_visits)
    daily_plan: PositiveInt = 12
    daily_plan_by_team: dict[str, PositiveInt] = Field(default_factory=lambda: {"ONC": 10})
    vip_contacts_per_month: PositiveInt = 1
    terminal_phone_contacts_per_quarter: PositiveInt = 1
    # Non-prescribers' coverage (seed 001: 院办领导/药剂科主任/库管.. monthly >= 50%, quarterly >= 80%).
    nonprescriber_monthly_coverage: Share = 0.5
    nonprescriber_quarterly_coverage: Share = 0.8
    # A doctor without rx data yet (grade U) is visited to the standard of this grade.
    ungraded_standard: Literal["A", "B", "C", "D"] = "C"
    # Channels that count as a call (拜访) on doctors and non-prescribers; terminals' contacts (VIP monthly,
    # every terminal quarterly by phone) count any of contact_channels.
    call_channels: Channels = ("face", "meeting")
    contact_channels: Channels = ("face", "phone", "wechat", "meeting")
    # Whose completed visits count towards a customer's standard: only its owning rep's, or anyone's.
    count_visits_by: Literal["owner", "anyone"] = "owner"
    # Working days between two visits to the same customer when the remaining visits of the month are
    # spread out (4 a month = about one a week); 1 = back-to-back days.
    spacing_workdays: PositiveInt = 5
    # Visits older than this many months before the cutoff are not read (the visits table grows forever);
    # a last visit before that shows as none. Must cover the quarter: at least 3.
    lookback_months: Annotated[int, Field(ge=3)] = 12

    @model_validator(mode="after")
    def _all_grades(self) -> VisitRules:
        missing = {"A", "B", "C", "D"} - set(self.standards)
        if missing:
            raise ValueError(f"standards must define grades {sorted(missing)}")
        return self


class LoyaltyRules(_Section):
    """Loyalty points (积分)."""

    yuan_per_point: Annotated[float, Field(gt=0)] = 10  # whole fen (0.01 yuan), so points are exact integers
    rounding: Literal["floor", "round", "ceil"] = "floor"  # 1 point per *full* 10 yuan
    tiers: dict[str, Annotated[int, Field(gt=0)]] = Field(
        default_factory=lambda: {"bronze": 500, "silver": 2000, "gold": 5000}
    )
    reorder_min_orders: Annotated[int, Field(ge=2)] = 3
    reorder_last_orders: Annotated[int, Field(ge=2)] = 6  # median of the gaps between the last N orders
    # Before a quarter closes, re-check every order against the ledger, not only the night's changes.
    full_check_before_close: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> LoyaltyRules:
        if abs(self.yuan_per_point * 100 - round(self.yuan_per_point * 100)) > 1e-9:
            raise ValueError("yuan_per_point must be a whole number of fen (0.01 yuan)")
        if len(set(self.tiers.values())) != len(self.tiers):
            raise ValueError("tiers must have distinct thresholds")
        if self.reorder_last_orders < self.reorder_min_orders:
            raise ValueError("reorder_last_orders must be at least reorder_min_orders")
        return self


class IngestRules(_Section):
    """Batch-level data quality: beyond this share of bad rows a feed alerts ops."""

    alert_quarantine_share: Share = 0.05
    earliest_date: str = "2000-01-01"  # dates before this are quarantined as implausible
    latest_days_ahead: PositiveInt = 366  # and dates more than this many days after the run date


DailyFeed = Literal["purchases", "visits", "consults", "orders"]


class FreshnessRules(_Section):
    """Completeness before publishing (contract section 3): feeds expected every day, and broken batches."""

    # Feeds that must have records dated the cutoff day (run_date - 1); ops are told first and every
    # email whose list depends on a missing one says 数据未到.
    daily_feeds: tuple[DailyFeed, ...] = ("purchases", "visits")
    # Of those, the feeds expected only when the cutoff day was a field working day.
    working_day_feeds: tuple[DailyFeed, ...] = ("visits",)
    # A file with more than this share of its rows quarantined is a broken batch.
    max_quarantined_share: Share = 0.2


class HolidayRule(_Section):
    """One statutory holiday: its name (Chinese, as greeted) and its days off, both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: Annotated[str, Field(min_length=1)]
    from_: dt.date = Field(alias="from")
    to: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> HolidayRule:
        if self.to < self.from_:
            raise ValueError(f"{self.name}: 'to' ({self.to}) is before 'from' ({self.from_})")
        return self


class CalendarRules(_Section):
    """The State Council's schedule for years the ``chinesecalendar`` package does not know yet (or to
    correct it); its dates take precedence over the package (keqing/calendar.py)."""

    holidays: tuple[HolidayRule, ...] = ()
    workdays: tuple[dt.date, ...] = ()  # adjusted working days (weekend days that are worked)

    @model_validator(mode="after")
    def _disjoint(self) -> CalendarRules:
        both = sorted(d for d in self.workdays if any(h.from_ <= d <= h.to for h in self.holidays))
        if both:
            raise ValueError(f"{', '.join(map(str, both))}: both a holiday and a workday")
        return self


class Rules(_Section):
    calendar: CalendarRules = CalendarRules()
    supply: SupplyRules = SupplyRules()
    callbacks: CallbackRules = CallbackRules()
    home_visits: HomeVisitRules = HomeVisitRules()
    adherence: AdherenceRules = AdherenceRules()
    grading: GradingRules = GradingRules()
    visits: VisitRules = VisitRules()
    loyalty: LoyaltyRules = LoyaltyRules()
    ingest: IngestRules = IngestRules()
    freshness: FreshnessRules = FreshnessRules()

    @cached_property
    def work_calendar(self) -> WorkCalendar:
        """The calendar every question about working days and holidays goes to (the rules over the package)."""
        from keqing.calendar import WorkCalendar

        return WorkCalendar.from_ranges(
            ((h.name, h.from_, h.to) for h in self.calendar.holidays), self.calendar.workdays
        )


class RulesError(ValueError):
    """A rules file that cannot be used; the message names the file and the key."""


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def rules_from_mapping(overrides: dict[str, Any], source: str = "rules") -> Rules:
    """Defaults overridden by a (partial) mapping, validated as a whole."""
    base = Rules().model_dump()
    try:
        return Rules.model_validate(_deep_merge(base, overrides))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise RulesError(f"{source}: {problems}") from None


def load_rules(path: Path | None) -> Rules:
    """The contract's defaults, overridden by the YAML file at ``path`` when given."""
    if path is None:
        return Rules()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RulesError(f"{path}: cannot read rules file: {exc}") from None
    if not isinstance(data, dict):
        raise RulesError(f"{path}: the rules file must be a mapping of sections")
    return rules_from_mapping(data, source=str(path))
