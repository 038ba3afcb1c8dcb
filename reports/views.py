"""What each morning email says, as plain typed view models, independent of any table.

A view is built for ONE recipient from data already filtered to that recipient
(``filter_to_recipient`` / ``split_by_recipient``), and ``check_isolation`` refuses a view holding
another staff member's customer or patient. Views carry ids and names; the renderer decides what is
shown in full (phones in full only on the assigned nurse's callback list, the diagnosis only for
informed patients).

Every view carries ``run_date``, ``data_as_of`` (= run_date - 1, the cutoff of contract section 1)
and its recipient.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import ClassVar, Literal, TypeVar

import polars as pl

from keqing.clock import cutoff_for
from keqing.ingest.batch import REASON_TEXT_ZH

EmailKind = Literal[
    "rep", "callback", "home_visit", "manager", "ops", "alert_failed", "alert_late"
]  # keqing.kinds.EMAIL_KINDS

# Contract section 5 reason codes, in Chinese for the recipients.
VISIT_REASONS: dict[str, str] = {
    "appointment": "预约拜访",
    "frequency": "拜访频率",
    "coverage": "覆盖率",
    "reorder": "订货提醒",
    "reward": "积分奖励",
    "vip_contact": "VIP 联系",
}
CALLBACK_REASONS: dict[str, str] = {
    "overdue": "逾期未回访",
    "expiring": "即将到期",
    "consult": "咨询跟进",
    "lapsed": "流失挽回",
    "cadence": "例行回访",
    "holiday": "节日问候",
}
# The doctor grading matrix (seeds 001/003): grade -> strategy and what it means on a visit.
STRATEGIES: dict[str, str] = {
    "A": "防御",
    "B": "进攻",
    "C": "维持",
    "D": "观察",
    "U": "摸底",  # ungraded doctors: find out potential and support first
    "N": "关系维护",  # non-prescribers (院办, 药剂科, 库管, 采购 ...)
    "VIP": "重点维护",  # VIP terminals
    "T": "定期联系",  # other terminals
}
STRATEGY_HINTS: dict[str, str] = {
    "A": "巩固使用，阻止竞品进攻；请其分享用药经验",
    "B": "探询治疗关注点，传递核心信息，取得可衡量的承诺",
    "C": "提醒并鼓励持续使用，传递产品新信息",
    "D": "利用等待时间或院内会覆盖",
    "U": "了解科室病人量和用药习惯，补齐处方数据以便分级",
    "N": "保持联系，争取进药、库存和采购上的支持",
    "VIP": "每月至少联系一次，跟进订货和积分奖励",
    "T": "每季度至少电话联系一次，了解进货需要",
}
# What each grade code is, for the reader: (label, one-line meaning). Order = the emails' order.
GRADES: dict[str, tuple[str, str]] = {
    "A": ("A 级", "高潜力、高支持的处方医生"),
    "B": ("B 级", "高潜力、低支持的处方医生"),
    "C": ("C 级", "低潜力、高支持的处方医生"),
    "D": ("D 级", "低潜力、低支持的处方医生"),
    "U": ("未分级", "近 3 个月还没有处方数据的医生，潜力和支持未知"),
    "N": ("非处方", "院办、药剂科、库管、采购等不开处方的客户"),
    "VIP": ("VIP 终端", "本办事处近 12 个月订货额前 20% 的终端"),
    "T": ("普通终端", "其他药店、卫生院和卫生室"),
}


def grade_label(grade: str) -> str:
    """The grade as the reader sees it (``未分级`` for U); an unknown code as it is."""
    return GRADES.get(grade, (grade, ""))[0]


def grade_legend(grades: Iterable[str]) -> list[tuple[str, str, str, str, str]]:
    """(code, label, meaning, strategy, strategy hint) of each known grade among ``grades``, in GRADES order."""
    present = set(grades)
    return [
        (code, label, meaning, STRATEGIES[code], STRATEGY_HINTS[code])
        for code, (label, meaning) in GRADES.items()
        if code in present
    ]


FEED_LABELS: dict[str, str] = {
    "offices": "办事处",
    "staff": "员工",
    "products": "产品",
    "customers": "客户",
    "patients": "患者",
    "purchases": "购药记录",
    "visits": "拜访记录",
    "consults": "咨询记录",
    "orders": "终端订单",
    "rx_monthly": "月处方量",
}

# Quarantine reason codes (keqing.ingest.batch.REASON_TEXT) in Chinese, for the ops email.


def quarantine_reason_label(code: str) -> str:
    """A quarantine reason in Chinese with its code, which ops needs to look it up: ``日期格式错误（bad_date）``."""
    return f"{REASON_TEXT_ZH[code]}（{code}）" if code in REASON_TEXT_ZH else code


def feed_label(feed: str) -> str:
    """A feed in Chinese with its file name prefix, which ops needs to find the files: ``患者（patients）``."""
    return f"{FEED_LABELS[feed]}（{feed}）" if feed in FEED_LABELS else feed


REWARD_TIERS: dict[str, str] = {"bronze": "铜牌", "silver": "银牌", "gold": "金牌"}


class IsolationError(ValueError):
    """A view holds a row that belongs to another staff member; it must never be rendered."""


@dataclass(frozen=True, slots=True)
class Recipient:
    staff_id: str
    name: str
    email: str


@dataclass(frozen=True, slots=True, kw_only=True)
class View:
    """What every email has: the run date, the data's cutoff and the recipient."""

    kind: ClassVar[EmailKind]
    run_date: dt.date
    recipient: Recipient
    # One line each, shown first: e.g. 数据未到 when a daily feed this list depends on has not arrived.
    notices: tuple[str, ...] = ()

    @property
    def data_as_of(self) -> dt.date:
        return cutoff_for(self.run_date)

    def owned(self) -> Iterator[tuple[str, str]]:
        """(owner staff_id, customer or patient id) of every row, for ``check_isolation``."""
        return iter(())


# --- reps ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class VisitTarget:
    """A customer to visit today (grading/targets stage), owned by the rep."""

    customer_id: str
    customer_name: str
    institution: str
    department: str | None
    grade: str  # A-D for doctors; N (non-prescriber), VIP or T (terminal) otherwise
    reason: str  # appointment | frequency | coverage | reorder | reward | vip_contact
    owner_staff_id: str
    other_reasons: str | None = None  # the other reasons that also apply today, ;-separated codes
    nine_box: str | None = None  # e.g. A3 = high potential, low support
    strategy: str | None = None  # default: the grade's strategy (防御/进攻/维持/观察)
    visits_this_month: int = 0
    standard: int | None = None  # visits a month the standard asks for (None: as needed)
    last_visit_date: dt.date | None = None

    @property
    def strategy_label(self) -> str:
        return self.strategy or STRATEGIES.get(self.grade, "")

    @property
    def other_reasons_label(self) -> str:
        """The other reasons in Chinese, 、-separated ("" when there are none)."""
        codes = self.other_reasons.split(";") if self.other_reasons else []
        return "、".join(VISIT_REASONS.get(code, code) for code in codes)


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeAttainment:
    """Month-to-date attainment of one grade against the visit standard (shares are 0..1)."""

    grade: str
    customers: int
    required_visits: int
    credited_visits: int
    monthly_coverage: float
    monthly_standard: float
    quarterly_coverage: float
    quarterly_standard: float

    @property
    def visit_attainment(self) -> float | None:
        return self.credited_visits / self.required_visits if self.required_visits else None

    @property
    def meets_monthly(self) -> bool:
        return self.monthly_coverage >= self.monthly_standard

    @property
    def meets_quarterly(self) -> bool:
        return self.quarterly_coverage >= self.quarterly_standard


@dataclass(frozen=True, slots=True, kw_only=True)
class ReorderReminder:
    customer_id: str
    customer_name: str
    institution: str
    owner_staff_id: str
    last_order_date: dt.date
    due_date: dt.date
    days_overdue: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardToDeliver:
    customer_id: str
    customer_name: str
    institution: str
    owner_staff_id: str
    quarter: str  # e.g. 2026Q3
    points: int
    tier: str  # bronze | silver | gold

    @property
    def tier_label(self) -> str:
        return REWARD_TIERS.get(self.tier, self.tier)


@dataclass(frozen=True, slots=True)
class DepartmentGroup:
    department: str
    targets: list[VisitTarget]


@dataclass(frozen=True, slots=True)
class InstitutionGroup:
    institution: str
    departments: list[DepartmentGroup]

    @property
    def count(self) -> int:
        return sum(len(d.targets) for d in self.departments)


@dataclass(frozen=True, slots=True, kw_only=True)
class RepView(View):
    kind: ClassVar[EmailKind] = "rep"
    targets: list[VisitTarget] = field(default_factory=list)
    attainment: list[GradeAttainment] = field(default_factory=list)
    calls_per_field_day: float | None = None  # month to date
    daily_plan: int = 12  # 10 in ONC teams
    field_days_elapsed: int | None = None
    reorders: list[ReorderReminder] = field(default_factory=list)
    rewards: list[RewardToDeliver] = field(default_factory=list)

    def groups(self) -> list[InstitutionGroup]:
        """Targets grouped by institution, then department, in the order they first appear.

        The targets stage orders the list (appointments first, then by route); grouping keeps it.
        """
        by_inst: dict[str, dict[str, list[VisitTarget]]] = {}
        for t in self.targets:
            by_inst.setdefault(t.institution, {}).setdefault(t.department or "", []).append(t)
        return [
            InstitutionGroup(inst, [DepartmentGroup(dep, targets) for dep, targets in deps.items()])
            for inst, deps in by_inst.items()
        ]

    def owned(self) -> Iterator[tuple[str, str]]:
        for rows in (self.targets, self.reorders, self.rewards):
            for r in rows:
                yield r.owner_staff_id, r.customer_id


# --- callback staff --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackCall:
    """A call on a callback staff member's list today.

    ``informed`` is whether the patient knows the diagnosis; unless it is True the disease is
    dropped here, so no template can show it, and the call goes to the contact person.
    """

    patient_id: str
    patient_name: str
    phone: str
    assigned_staff_id: str
    product_code: str | None
    product_name: str | None
    reason: str  # overdue | expiring | consult | lapsed | cadence | holiday
    due_date: dt.date
    expiry_date: dt.date | None = None
    days_overdue: int = 0
    low_adherence: bool = False
    informed: bool | None = True
    contact_name: str | None = None
    contact_relation: str | None = None
    disease: str | None = None

    def __post_init__(self) -> None:
        if self.informed is not True and self.disease is not None:
            object.__setattr__(self, "disease", None)

    @property
    def call_contact(self) -> bool:
        """Call the contact person instead of the patient (the patient is not informed)."""
        return self.informed is not True and bool(self.contact_name)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpiryEntry:
    """A patient whose current supply runs out this month (到期名单)."""

    patient_id: str
    patient_name: str
    assigned_staff_id: str
    product_code: str
    product_name: str | None
    expiry_date: dt.date
    repurchased: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackView(View):
    kind: ClassVar[EmailKind] = "callback"
    calls: list[CallbackCall] = field(default_factory=list)
    expiry_month: dt.date | None = None  # first day of the month of the expiry list
    expiry_list: list[ExpiryEntry] = field(default_factory=list)
    must_keep: int = 0  # 必保量 = ceil(60% x list size)
    target: int = 0  # 目标量 = ceil(80% x list size)
    expiring_within_days: int = 7  # supply.expiring_within_days: who on the list matters today
    # Her load (keqing/supply/load.py): calls due today against the day's capacity, what waits and since when.
    due_calls: int = 0
    capacity: int = 40
    waiting: int = 0
    waiting_since: dt.date | None = None

    @property
    def repurchased(self) -> int:
        return sum(1 for e in self.expiry_list if e.repurchased)

    @property
    def retention(self) -> float | None:
        return self.repurchased / len(self.expiry_list) if self.expiry_list else None

    def expiring_soon(self) -> list[ExpiryEntry]:
        """The entries that matter today: not repurchased and running out within
        ``expiring_within_days`` from run_date (inclusive), earliest first. The body lists these; the
        whole list is in the CSV attachment."""
        last = self.run_date + dt.timedelta(days=self.expiring_within_days)
        soon = [e for e in self.expiry_list if not e.repurchased and self.run_date <= e.expiry_date <= last]
        return sorted(soon, key=lambda e: (e.expiry_date, e.patient_id))

    def owned(self) -> Iterator[tuple[str, str]]:
        for rows in (self.calls, self.expiry_list):
            for r in rows:
                yield r.assigned_staff_id, r.patient_id


# --- home-visit staff ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeVisitPatient:
    patient_id: str
    patient_name: str
    phone: str
    boxes: int | None = None  # bought at the event


@dataclass(frozen=True, slots=True, kw_only=True)
class VillageVisit:
    """One village visit of the day, planned per free-clinic event."""

    village: str
    township: str | None
    event_id: str | None
    visit_date: dt.date
    assigned_staff_id: str
    patients: list[HomeVisitPatient] = field(default_factory=list)
    modal_boxes: int | None = None  # the most common quantity bought, which set the date


@dataclass(frozen=True, slots=True, kw_only=True)
class HomeVisitView(View):
    kind: ClassVar[EmailKind] = "home_visit"
    visits: list[VillageVisit] = field(default_factory=list)

    @property
    def patient_count(self) -> int:
        return sum(len(v.patients) for v in self.visits)

    def owned(self) -> Iterator[tuple[str, str]]:
        for v in self.visits:
            for p in v.patients:
                yield v.assigned_staff_id, p.patient_id


# --- managers --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GradeChange:
    customer_id: str
    customer_name: str
    institution: str
    owner_staff_id: str
    owner_name: str
    from_grade: str | None  # None: newly graded
    to_grade: str
    changed_on: dt.date


@dataclass(frozen=True, slots=True, kw_only=True)
class RankingEntry:
    """One staff member in last week's ranking (每周排行榜)."""

    rank: int
    staff_id: str
    staff_name: str
    role: str
    completed: int  # visits or calls completed last week
    planned: int
    coverage: float | None = None  # share of their customers/patients reached, 0..1

    @property
    def attainment(self) -> float | None:
        return self.completed / self.planned if self.planned else None


@dataclass(frozen=True, slots=True, kw_only=True)
class NurseLoad:
    """A callback nurse of the team: calls due today against the capacity, and the backlog in days."""

    staff_id: str
    staff_name: str
    due: int
    capacity: int
    waiting: int
    waiting_since: dt.date | None
    backlog_days: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OfficeStaffing:
    """An office's callback staff needed at the current load: ceil(calls due today / capacity)."""

    office_code: str
    due: int
    nurses: int
    needed: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagerView(View):
    kind: ClassVar[EmailKind] = "manager"
    team_staff_ids: frozenset[str] = frozenset()
    team_attainment: list[GradeAttainment] = field(default_factory=list)
    movements: list[GradeChange] = field(default_factory=list)
    ranking: list[RankingEntry] = field(default_factory=list)
    ranking_week: tuple[dt.date, dt.date] | None = None  # Monday..Sunday ranked
    callback_load: list[NurseLoad] = field(default_factory=list)
    staffing: list[OfficeStaffing] = field(default_factory=list)  # the offices of the team's nurses

    @property
    def shows_ranking(self) -> bool:
        """The weekly ranking is in Monday's email only (contract section 5)."""
        return self.run_date.weekday() == 0 and bool(self.ranking)

    def ranking_in_body(self, top: int = 10, bottom: int = 5) -> tuple[list[RankingEntry], int, list[RankingEntry]]:
        """(the first ``top``, how many are left out, the last ``bottom``) of the ranking: all of it
        when it has at most ``top + bottom`` people. A large team's ranking would outgrow the email;
        the whole ranking is the CSV attachment."""
        if len(self.ranking) <= top + bottom:
            return list(self.ranking), 0, []
        return self.ranking[:top], len(self.ranking) - top - bottom, self.ranking[-bottom:]

    def owned(self) -> Iterator[tuple[str, str]]:
        for m in self.movements:
            yield m.owner_staff_id, m.customer_id
        for r in self.ranking:
            yield r.staff_id, r.staff_id
        for n in self.callback_load:
            yield n.staff_id, n.staff_id

    def owners(self) -> frozenset[str]:
        return self.team_staff_ids | {self.recipient.staff_id}


# --- ops -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedLine:
    feed: str
    files: int
    rows_read: int
    loaded: int
    quarantined: int
    duplicates: int
    waiting: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileProblem:
    path: str
    feed: str | None
    messages: list[str]


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryProblem:
    staff_id: str
    staff_name: str | None
    kind: str
    status: str  # failed | unknown | pending (retries used up)
    error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingFeed:
    """A daily feed without any record for the cutoff day (数据未到)."""

    feed: str
    label: str  # in Chinese, e.g. 购药记录
    text: str  # the line ops read: what is missing and what it means


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokenBatch:
    """A file with more than ``freshness.max_quarantined_share`` of its rows quarantined."""

    path: str
    feed: str | None
    rows_read: int
    rows_quarantined: int

    @property
    def share(self) -> float:
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QuarantineLine:
    """A row quarantined tonight, for the ops attachment: ``raw`` is already masked (keqing/quarantine.py)."""

    file: str
    line: int
    column: str | None
    reason: str
    reason_zh: str
    raw: str | None
    feed: str
    status: str  # waiting | rejected (| resolved, dismissed when looked at later)
    id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CrashedRun:
    """An earlier run whose process died (``crashed`` in the runs table), named once in the ops email."""

    run_id: int
    run_date: dt.date
    started: str  # Shanghai time, YYYY-MM-DD HH:MM
    host: str | None
    pid: int | None


@dataclass(frozen=True, slots=True, kw_only=True)
class OpsView(View):
    """The run summary of contract section 5 (no personal data of patients or customers)."""

    kind: ClassVar[EmailKind] = "ops"
    run_status: str = "succeeded"
    files_new: int = 0
    files_already_ingested: int = 0
    files_same_bytes: int = 0
    files_ignored: list[str] = field(default_factory=list)
    rejected_files: list[FileProblem] = field(default_factory=list)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_released: int = 0
    rows_waiting: int = 0
    quarantined_by_reason: list[tuple[str, int]] = field(default_factory=list)
    feeds: list[FeedLine] = field(default_factory=list)
    emails: dict[str, int] = field(default_factory=dict)  # rendered, sent, written, failed, unknown, deferred
    delivery_problems: list[DeliveryProblem] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    # Completeness before publishing (reported first) and the quarantine loop.
    missing_feeds: list[MissingFeed] = field(default_factory=list)
    broken_batches: list[BrokenBatch] = field(default_factory=list)
    max_quarantined_share: float = 0.2
    quarantine: list[QuarantineLine] = field(default_factory=list)  # attached, at most the first N
    quarantine_total: int = 0  # rows first quarantined tonight
    # Run health, shown first: years planned Monday-Friday for want of a calendar, and dead earlier runs.
    unknown_calendar_years: list[int] = field(default_factory=list)
    calendar_rules_key: str = "calendar.holidays"
    crashed_runs: list[CrashedRun] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertView(View):
    """An ops alert about one nightly flow run, sent by the ``ops-alert`` flow that a Prefect automation
    starts (flows/alert.py). Only Prefect's facts about the run: no personal data."""

    flow_run_id: str
    flow_run_name: str
    state: str  # the run's state name when the alert was built, e.g. Crashed, Running, Late
    state_message: str = ""
    deadline: str = ""  # alert_late: when the run should have completed, e.g. 06:30 Asia/Shanghai
    started: str = ""  # the run's start (or scheduled start), Shanghai time, e.g. 2026-11-24 01:30
    ui_url: str = ""  # the run's page in the Prefect UI, when known


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertFailedView(AlertView):
    """A nightly run entered Failed, Crashed or TimedOut."""

    kind: ClassVar[EmailKind] = "alert_failed"


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertLateView(AlertView):
    """A nightly run not Completed by the deadline (hung, crashed unseen, failed, or never started)."""

    kind: ClassVar[EmailKind] = "alert_late"


AnyView = RepView | CallbackView | HomeVisitView | ManagerView | OpsView | AlertFailedView | AlertLateView


# --- isolation -------------------------------------------------------------------------------


def check_isolation(view: View) -> None:
    """Raise IsolationError when the view holds a row owned by someone other than its recipient.

    A manager's view may hold rows of the staff of their team.
    """
    allowed = view.owners() if isinstance(view, ManagerView) else frozenset({view.recipient.staff_id})
    strangers = sorted({owner for owner, _ in view.owned() if owner not in allowed})
    if strangers:
        raise IsolationError(
            f"{view.kind} email for {view.recipient.staff_id} holds rows of other staff: {', '.join(strangers)}"
        )


def filter_to_recipient(frame: pl.DataFrame, staff_id: str, owner_column: str) -> pl.DataFrame:
    """The rows of ``frame`` that belong to ``staff_id`` (by ``owner_column``); nothing else."""
    return frame.filter(pl.col(owner_column) == staff_id)


def split_by_recipient(frame: pl.DataFrame, owner_column: str) -> dict[str, pl.DataFrame]:
    """``frame`` split into one frame per owner: each email is built from its owner's part only."""
    if frame.height == 0:
        return {}
    parts = frame.filter(pl.col(owner_column).is_not_null()).partition_by(owner_column, as_dict=True)
    return {key[0]: part for key, part in parts.items()}


Row = TypeVar("Row")


def rows_from_frame(frame: pl.DataFrame, row_type: type[Row], **constants: object) -> list[Row]:
    """One ``row_type`` per frame row, taking the dataclass's fields from same-named columns.

    ``constants`` fill fields that are the same for every row (e.g. ``owner_staff_id``).
    """
    names = [f.name for f in fields(row_type) if f.name in frame.columns and f.name not in constants]  # type: ignore[arg-type]
    return [row_type(**row, **constants) for row in frame.select(names).iter_rows(named=True)]
