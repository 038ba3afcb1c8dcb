"""The feeds of the data contract (section 3): columns, Chinese headers, types and references.

This module is the single description of the inbox format. The reader maps headers with it, the
normaliser parses types with it, the Great Expectations suites are built from it, the generator
writes files that follow it and the schema mirrors it.

Personal data (``personal=True``) is never logged: patients' and consulters' names, phones,
diseases and contact persons.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """How a column's text is parsed and checked."""

    ID = "id"  # a string; leading zeros matter
    TEXT = "text"
    BOOL = "bool"
    INT = "int"
    DECIMAL = "decimal"  # yuan
    DATE = "date"
    DATETIME = "datetime"
    MONTH = "month"  # YYYY-MM, stored as the first day of the month
    PHONE = "phone"
    EMAIL = "email"
    ENUM = "enum"
    CODES = "codes"  # up to two product codes, ';'-separated


# Storage limits of the schema (models/feeds.py). A value beyond them is quarantined (``too_long``,
# ``out_of_range``), never truncated, and never left to fail a whole load on PostgreSQL. Free text is
# capped too: a name or a commitment of more than 1,000 characters is not data (and would go into emails).
MAX_LENGTH: dict[Kind, int] = {Kind.ID: 64, Kind.EMAIL: 254, Kind.CODES: 140, Kind.TEXT: 1000}
INT_MAX = 2_147_483_647  # INTEGER
DECIMAL_MAX = 999_999_999_999.99  # NUMERIC(14, 2), the money columns


@dataclass(frozen=True)
class Column:
    name: str
    chinese: str
    kind: Kind
    required: bool = False
    # ENUM: canonical value -> accepted aliases (the Chinese label among them).
    values: dict[str, tuple[str, ...]] | None = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    default: object | None = None
    # (feed, column) that this column must match, e.g. ("patients", "patient_id").
    references: tuple[str, str] | None = None
    personal: bool = False

    @property
    def headers(self) -> tuple[str, str]:
        return (self.name, self.chinese)

    @property
    def max_length(self) -> int | None:
        """The most characters a value may have (the schema's column width), None for no limit."""
        return MAX_LENGTH.get(self.kind)

    @property
    def upper(self) -> float | None:
        """The largest value of a number column: the contract's maximum, else what its column can store."""
        if self.maximum is not None:
            return self.maximum
        return {Kind.INT: INT_MAX, Kind.DECIMAL: DECIMAL_MAX}.get(self.kind)


@dataclass(frozen=True)
class Feed:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    # The column whose date decides the run that may load a record (contract section 1).
    dated_by: str | None = None
    description: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _enum(*pairs: tuple[str, str]) -> dict[str, tuple[str, ...]]:
    return {code: (code, chinese) for code, chinese in pairs}


C = Column
K = Kind

ROLES = _enum(
    ("rep", "代表"),
    ("callback", "回访员"),
    ("home_visit", "家访员"),
    ("manager", "经理"),
    ("ops", "运营"),
)
CUSTOMER_KINDS = _enum(("doctor", "处方医生"), ("nonprescriber", "非处方客户"), ("terminal", "第三终端"))
TERMINAL_TYPES = _enum(
    ("county_hospital", "县医院"),
    ("township_hospital", "乡镇卫生院"),
    ("village_clinic", "村卫生室"),
    ("private_clinic", "个体诊所"),
    ("pharmacy", "药店"),
)
GENDERS = {"M": ("M", "男", "m"), "F": ("F", "女", "f")}
PURCHASE_CHANNELS = _enum(
    ("store", "药店"),
    ("consult", "咨询"),
    ("free_clinic", "义诊"),
    ("home_visit", "家访"),
    ("phone", "电话"),
)
VISIT_TARGETS = _enum(("customer", "客户"), ("patient", "患者"))
VISIT_CHANNELS = _enum(
    ("face", "面访"),
    ("phone", "电话"),
    ("home", "家访"),
    ("sms", "短信"),
    ("wechat", "微信"),
    ("meeting", "会议"),
)
VISIT_OUTCOMES = _enum(
    ("completed", "完成"),
    ("not_reached", "未接通"),
    ("refused", "拒绝"),
    ("rescheduled", "改期"),
)
ORDER_KINDS = _enum(("order", "订货"), ("return", "退货"))

FEEDS: dict[str, Feed] = {
    f.name: f
    for f in (
        Feed(
            "offices",
            (
                C("office_code", "办事处编码", K.ID, required=True),
                C("name", "办事处", K.TEXT, required=True),
                C("region", "大区", K.TEXT),
                C("is_rural", "农村", K.BOOL, default=False),
            ),
            key=("office_code",),
        ),
        Feed(
            "staff",
            (
                C("staff_id", "工号", K.ID, required=True),
                C("name", "姓名", K.TEXT, required=True),
                C("role", "角色", K.ENUM, required=True, values=ROLES),
                C("email", "邮箱", K.EMAIL, required=True),
                C("office_code", "办事处编码", K.ID, required=True, references=("offices", "office_code")),
                C("manager_id", "上级工号", K.ID),
                C("team", "团队", K.TEXT),
                C("active", "在职", K.BOOL, default=True),
            ),
            key=("staff_id",),
        ),
        Feed(
            "products",
            (
                C("product_code", "产品编码", K.ID, required=True),
                C("name", "产品名称", K.TEXT, required=True),
                C("units_per_box", "每盒数量", K.DECIMAL, required=True, minimum=0, exclusive_minimum=True),
                C("daily_units", "日用量", K.DECIMAL, required=True, minimum=0, exclusive_minimum=True),
                C("price_per_box", "单价", K.DECIMAL, minimum=0),
            ),
            key=("product_code",),
        ),
        Feed(
            "customers",
            (
                C("customer_id", "客户编码", K.ID, required=True),
                C("name", "客户姓名", K.TEXT, required=True),
                C("kind", "客户类型", K.ENUM, required=True, values=CUSTOMER_KINDS),
                C("institution", "单位", K.TEXT, required=True),
                C("department", "科室", K.TEXT),
                C("title", "职务", K.TEXT),
                C("terminal_type", "终端类型", K.ENUM, values=TERMINAL_TYPES),
                C("is_kol", "KOL", K.BOOL, default=False),
                C("owner_staff_id", "负责人工号", K.ID, required=True, references=("staff", "staff_id")),
                C("office_code", "办事处编码", K.ID, required=True, references=("offices", "office_code")),
            ),
            key=("customer_id",),
        ),
        Feed(
            "patients",
            (
                C("patient_id", "患者编号", K.ID, required=True),
                C("name", "姓名", K.TEXT, required=True, personal=True),
                C("phone", "电话", K.PHONE, required=True, personal=True),
                C("gender", "性别", K.ENUM, values=GENDERS),
                C("age", "年龄", K.INT, minimum=0, maximum=120),
                C("disease", "病种", K.TEXT, personal=True),
                C("village", "村", K.TEXT),
                C("township", "乡镇", K.TEXT),
                C("office_code", "办事处编码", K.ID, required=True, references=("offices", "office_code")),
                C("callback_staff_id", "回访员工号", K.ID, references=("staff", "staff_id")),
                C("home_visit_staff_id", "家访员工号", K.ID, references=("staff", "staff_id")),
                C("informed", "是否知情", K.BOOL),
                C("contact_name", "联系人", K.TEXT, personal=True),
                C("contact_relation", "与患者关系", K.TEXT, personal=True),
            ),
            key=("patient_id",),
        ),
        Feed(
            "purchases",
            (
                C("purchase_id", "购药单号", K.ID, required=True),
                C("patient_id", "患者编号", K.ID, required=True, references=("patients", "patient_id")),
                C("product_code", "产品编码", K.ID, required=True, references=("products", "product_code")),
                C("boxes", "盒数", K.INT, required=True, minimum=1, maximum=1000),
                C("purchase_date", "购药日期", K.DATE, required=True),
                C("channel", "渠道", K.ENUM, values=PURCHASE_CHANNELS),
                C("event_id", "活动编号", K.ID),
                C("staff_id", "经手人工号", K.ID),
                C("amount", "金额", K.DECIMAL, minimum=0),
            ),
            key=("purchase_id",),
            dated_by="purchase_date",
        ),
        Feed(
            "visits",
            (
                C("visit_id", "拜访编号", K.ID, required=True),
                C("staff_id", "工号", K.ID, required=True, references=("staff", "staff_id")),
                C("target_type", "对象类型", K.ENUM, required=True, values=VISIT_TARGETS),
                # Checked against customers or patients depending on target_type.
                C("target_id", "对象编号", K.ID, required=True),
                C("visit_at", "拜访时间", K.DATETIME, required=True),
                C("channel", "方式", K.ENUM, required=True, values=VISIT_CHANNELS),
                C("outcome", "结果", K.ENUM, values=VISIT_OUTCOMES, default="completed"),
                C("products", "产品", K.CODES),
                C("commitment", "承诺", K.TEXT),
                C("next_visit_date", "下次预约", K.DATE),
            ),
            key=("visit_id",),
            dated_by="visit_at",
        ),
        Feed(
            "consults",
            (
                C("consult_id", "咨询编号", K.ID, required=True),
                C("received_at", "来电时间", K.DATETIME, required=True),
                C("name", "姓名", K.TEXT, required=True, personal=True),
                C("phone", "电话", K.PHONE, required=True, personal=True),
                C("disease", "病种", K.TEXT, personal=True),
                C("source", "信息来源", K.TEXT),
                C("came_in", "是否到堂", K.BOOL),
                C("purchased", "是否购药", K.BOOL),
                C("office_code", "办事处编码", K.ID, required=True, references=("offices", "office_code")),
                C("staff_id", "接听人工号", K.ID),
            ),
            key=("consult_id",),
            dated_by="received_at",
        ),
        Feed(
            "orders",
            (
                C("order_id", "订单号", K.ID, required=True),
                C("customer_id", "客户编码", K.ID, required=True, references=("customers", "customer_id")),
                C("product_code", "产品编码", K.ID, required=True, references=("products", "product_code")),
                C("quantity", "数量", K.INT, required=True, minimum=1),
                C("amount", "金额", K.DECIMAL, required=True, minimum=0, exclusive_minimum=True),
                C("order_date", "订货日期", K.DATE, required=True),
                C("kind", "类型", K.ENUM, values=ORDER_KINDS, default="order"),
            ),
            key=("order_id",),
            dated_by="order_date",
        ),
        Feed(
            "rx_monthly",
            (
                C("month", "月份", K.MONTH, required=True),
                C("customer_id", "客户编码", K.ID, required=True, references=("customers", "customer_id")),
                C("product_code", "产品编码", K.ID, required=True, references=("products", "product_code")),
                C("our_rx", "本品处方量", K.INT, required=True, minimum=0),
                C("market_rx", "市场处方量", K.INT, required=True, minimum=0),
            ),
            key=("month", "customer_id", "product_code"),
            # A month's figures are complete, and so loadable, once its last day is past the cutoff.
            dated_by="month",
        ),
    )
}

# Master data first, so that facts of the same night find their references.
LOAD_ORDER: tuple[str, ...] = (
    "offices",
    "staff",
    "products",
    "customers",
    "patients",
    "purchases",
    "visits",
    "consults",
    "orders",
    "rx_monthly",
)
assert set(LOAD_ORDER) == set(FEEDS)


def feed_for_filename(filename: str) -> str | None:
    """The feed a file belongs to: its name starts with a feed name (longest match wins)."""
    lower = filename.lower()
    if not (lower.endswith(".csv") or lower.endswith(".xlsx")):
        return None
    matches = [name for name in FEEDS if lower.startswith(name)]
    return max(matches, key=len) if matches else None
