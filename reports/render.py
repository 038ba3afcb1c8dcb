"""Render a view into a complete email: HTML with inline CSS, a plain-text alternative, attachments.

- Templates are Jinja2 files in ``reports/templates``. Autoescaping is on for every template except
  the plain-text alternatives (``*.txt``), whatever the HTML template's file name, and for templates
  built from strings too.
- CSS is written once in the shared layout's ``<style>`` and moved into ``style`` attributes by
  css-inline, because many mail clients drop ``<style>`` blocks.
- The message is MIME written out directly. Subject, From and To pass ``one_line`` (a newline in a
  name cannot start a new header), addresses are checked by the stdlib's ``Address``, and any text
  that is not plain ASCII is written in RFC 2047 encoded words (UTF-8, base64; the stdlib's header
  registry, which did this before, took a fifth of the time of a message). The other headers are
  checked to be one line of ASCII and written as they are. Bodies
  are base64 UTF-8 (encoded in C), so the message is 7-bit clean for any SMTP server; lines end in
  CRLF, ready for SMTP and ``.eml`` files. The stdlib's generator (``as_bytes``), which parses and
  refolds every header and splits every base64 body line by line in Python, was half of the cost
  of a message.
- A view holding another staff member's rows is refused (``check_isolation``) before anything is
  rendered.
"""

from __future__ import annotations

import base64
import datetime as dt
import math
import multiprocessing
import os
import re
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from email.headerregistry import Address
from email.utils import format_datetime, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from keqing import clock
from keqing.clock import SHANGHAI
from reports import charts
from reports.attachments import attachments, attachments_many, mask_phone
from reports.views import (
    CALLBACK_REASONS,
    STRATEGY_HINTS,
    VISIT_REASONS,
    AlertFailedView,
    AlertLateView,
    CallbackView,
    HomeVisitView,
    ManagerView,
    OpsView,
    RepView,
    View,
    check_isolation,
    feed_label,
    grade_label,
    grade_legend,
    quarantine_reason_label,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"
TEXT_SUFFIXES = (".txt", ".txt.j2")
DEFAULT_FROM = "keqing@localhost"

WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
ROLES = {"rep": "代表", "callback": "回访员", "home_visit": "家访员", "manager": "经理", "ops": "运营"}
DELIVERY_STATUSES = {"failed": "失败", "unknown": "状态不明", "pending": "待重试", "sending": "发送中"}
TITLES = {
    "rep": "拜访清单",
    "callback": "回访清单",
    "home_visit": "家访清单",
    "manager": "团队日报",
    "ops": "运行报告",
    "alert_failed": "运行告警",
    "alert_late": "运行告警",
}
WARN_REASONS = ("overdue", "expiring", "lapsed")  # callback reasons shown in red
EXPIRING_SHOWN = 20  # expiry list entries in the callback body (the whole list is in the CSV)
MOVEMENTS_SHOWN = 50  # grade movements in the manager body (the count of the rest is given)
LOAD_SHOWN = 20  # nurses in the manager's load section, most waiting first (the count of the rest is given)
OPS_LISTED = 20  # rejected files, ignored files and delivery problems listed in the ops body


def autoescape_for(name: str | None) -> bool:
    """Escape every template, whatever its file name, except the plain-text alternatives."""
    return not (name or "").endswith(TEXT_SUFFIXES)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _date(value: dt.date | None) -> str:
    return "—" if value is None else value.isoformat()


_NOT_DIALLED = re.compile(r"[^0-9+]")


def tel_uri(phone: str) -> str:
    """The number of a ``tel:`` link: digits (and a leading +) only, so spaces, dashes and any
    stray text of a phone cell cannot break the link."""
    digits = _NOT_DIALLED.sub("", phone)
    return digits[:1] + digits[1:].replace("+", "")


@lru_cache(maxsize=4)
def environment(path: str = str(TEMPLATES)) -> Environment:
    env = Environment(
        loader=FileSystemLoader(path),
        autoescape=autoescape_for,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        pct=_pct,
        d=_date,
        weekday=lambda d: WEEKDAYS[d.weekday()],
        visit_reason=lambda code: VISIT_REASONS.get(code, code),
        callback_reason=lambda code: CALLBACK_REASONS.get(code, code),
        role=lambda code: ROLES.get(code, code),
        delivery_status=lambda code: DELIVERY_STATUSES.get(code, code),
        grade=grade_label,
        tel=tel_uri,
        feed=feed_label,
        quarantine_reason=quarantine_reason_label,
    )
    return env


@lru_cache(maxsize=1)
def _inliner() -> css_inline.CSSInliner:
    # Nothing is fetched from the network: the layout's <style> is all there is. Room for the nodes
    # of a long list up front (the default, 32, grows again and again): 0.95 -> 0.75 ms an email.
    return css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False, preallocate_node_capacity=4096)


_CLASS_ATTR = re.compile(r' class="[^"<>]*"')
_INDENT = re.compile(r">\n\s*<")


def _compact(html: str) -> str:
    """Inlined HTML without what no mail client needs any more: class attributes (their styles are
    inline now) and indentation between tags. User text cannot match: its quotes are escaped."""
    return _INDENT.sub("><", _CLASS_ATTR.sub("", html))


_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")


def one_line(value: str) -> str:
    """A header-safe value: CR, LF and every other control character become one space."""
    return re.sub(r" {2,}", " ", _CONTROL.sub(" ", value)).strip()


def subject_for(view: View) -> str:
    """``[客情] YYYY-MM-DD`` and what the email is about, in Chinese."""
    day = view.run_date.isoformat()
    if isinstance(view, RepView):
        what = f"今日拜访 {len(view.targets)} 位客户"
        if view.reorders:
            what += f"，订货提醒 {len(view.reorders)} 家"
    elif isinstance(view, CallbackView):
        what = f"今日回访 {len(view.calls)} 个电话"
    elif isinstance(view, HomeVisitView):
        what = f"今日家访 {len(view.visits)} 个村 {view.patient_count} 位患者"
    elif isinstance(view, ManagerView):
        what = "团队日报与每周排行榜" if view.shows_ranking else "团队日报"
    elif isinstance(view, OpsView):
        state = "成功" if view.run_status == "succeeded" else "失败"
        what = f"夜间运行{state}" + (f"，{len(view.alerts)} 条告警" if view.alerts else "")
    elif isinstance(view, AlertFailedView):
        what = f"告警：夜间运行 {view.state}"
    elif isinstance(view, AlertLateView):
        what = f"告警：夜间运行到 {view.deadline} 仍未完成（{view.state}）"
    else:  # pragma: no cover - every view kind is above
        what = TITLES.get(view.kind, view.kind)
    return one_line(f"[客情] {day} {what}")


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """One outbox row's content: its fields are the outbox columns (``asdict`` gives the row)."""

    run_date: dt.date
    staff_id: str
    kind: str
    recipient: str  # envelope address
    subject: str
    message_id: str
    message: bytes  # full MIME, CRLF


def recipient_address(view: View) -> Address:
    """The To address; ValueError when the staff member's email is not one valid address."""
    return Address(display_name=one_line(view.recipient.name), addr_spec=one_line(view.recipient.email))


def has_valid_address(view: View) -> bool:
    try:
        address = recipient_address(view)
    except (ValueError, IndexError):
        return False
    return bool(address.username and address.domain)


@lru_cache(maxsize=8)
def mail_from_address(mail_from: str | None) -> Address:
    """The From address from ``KEQING_MAIL_FROM`` (``name <addr>`` or ``addr``), default ``客情 <keqing@localhost>``."""
    name, addr = parseaddr(mail_from or DEFAULT_FROM)
    return Address(display_name=one_line(name or "客情"), addr_spec=addr or DEFAULT_FROM)


def _context(view: View, attachment_names: list[str]) -> dict[str, Any]:
    recipient_id = view.recipient.staff_id
    full_phones = isinstance(view, CallbackView)

    def phone_for(phone: str | None, owner_staff_id: str | None) -> str:
        """In full only on a callback list, for the patient's assigned nurse; masked elsewhere."""
        if phone is None:
            return ""
        if full_phones and owner_staff_id == recipient_id:
            return phone
        return mask_phone(phone) or ""

    overdue = sum(1 for c in view.calls if c.reason == "overdue") if isinstance(view, CallbackView) else 0
    return {
        "view": view,
        "title": TITLES[view.kind],
        "subject": subject_for(view),
        "attachment_names": attachment_names,
        "phone_for": phone_for,
        "strategy_hints": STRATEGY_HINTS,
        "overdue_calls": overdue,
        "warn_reasons": WARN_REASONS,
        "soon_days": view.expiring_within_days if isinstance(view, CallbackView) else 0,
        "soon_shown": EXPIRING_SHOWN,
        "expiry_csv": next((n for n in attachment_names if n.startswith("expiry_")), None),
        "movements_csv": next((n for n in attachment_names if n.startswith("gradechanges_")), None),
        "ranking_csv": next((n for n in attachment_names if n.startswith("ranking_")), None),
        "movements_shown": MOVEMENTS_SHOWN,
        "load_shown": LOAD_SHOWN,
        "listed": OPS_LISTED,
        "coverage_chart": charts.coverage_chart,
        "colours": {"monthly": charts.MONTHLY, "quarterly": charts.QUARTERLY, "standard": charts.STANDARD},
        "grade_legend": grade_legend,
    }


def render_bodies(view: View, attachment_names: Sequence[str] = ()) -> tuple[str, str]:
    """(HTML with inline CSS, plain text) of the view's email."""
    check_isolation(view)
    env = environment()
    ctx = _context(view, list(attachment_names))
    html = env.get_template(f"{view.kind}.html").render(ctx)
    text = env.get_template(f"{view.kind}.txt").render(ctx)
    return _compact(_inliner().inline(html)), text


def _ascii_line(name: str, value: str) -> str:
    if not value.isascii() or _CONTROL.search(value):
        raise ValueError(f"header {name} must be one line of ASCII: {value!r}")
    return value


def _header_lines(pairs: Sequence[tuple[str, str]]) -> bytes:
    """Headers we write ourselves (ASCII, one line each), as they are: parsing them into header
    objects and folding them back was most of the cost of a message."""
    return "".join(f"{name}: {_ascii_line(name, value)}\r\n" for name, value in pairs).encode("ascii")


def _leaf(content_type: str, data: bytes, *, filename: str | None = None) -> bytes:
    """A leaf part, base64-encoded in C, with CRLF line ends."""
    headers = [("Content-Type", content_type), ("Content-Transfer-Encoding", "base64")]
    if filename is not None:
        if not re.fullmatch(r"[\w.-]+", filename, re.ASCII):
            raise ValueError(f"attachment names are plain ASCII: {filename!r}")
        headers.append(("Content-Disposition", f'attachment; filename="{filename}"'))
    return _header_lines(headers) + b"\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str) -> bytes:
    crlf = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")  # str.replace: 5x faster than a regex
    return _leaf(f'text/{subtype}; charset="utf-8"', crlf.encode("utf-8"))


def _multipart(subtype: str, parts: Sequence[bytes], boundary: str) -> tuple[str, bytes]:
    """(Content-Type, body) of a multipart holding ``parts``. Every body is base64, whose lines never
    contain ``-``, so no body line can start with ``--`` and be mistaken for a boundary."""
    _ascii_line("boundary", boundary)
    mark = f"--{boundary}".encode("ascii")
    body = b"".join(mark + b"\r\n" + part + b"\r\n" for part in parts) + mark + b"--\r\n"
    # Folded before its parameter, so the header line stays short whatever the boundary's length.
    return f'multipart/{subtype};\r\n boundary="{boundary}"', body


def _multipart_part(subtype: str, parts: Sequence[bytes], boundary: str) -> bytes:
    content_type, body = _multipart(subtype, parts, boundary)
    return f"Content-Type: {content_type}\r\n\r\n".encode("ascii") + body


# An encoded word carries at most this many bytes of UTF-8: 52 characters of base64 and 12 of
# ``=?utf-8?b?..?=`` make 64, so "Subject: " and one word stay within 78 characters a line.
_WORD_BYTES = 39
_PRINTABLE_ASCII = re.compile(r"[ -~]+")
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]+")  # a display name that needs no quotes


def _encoded_words(text: str) -> str:
    """``text`` as RFC 2047 encoded words (UTF-8, base64), split between characters, one per line:
    the white space of a folded line between two encoded words is not part of the text."""
    pieces: list[list[str]] = [[]]
    size = 0
    for char in text:
        width = len(char.encode("utf-8"))
        if size + width > _WORD_BYTES:
            pieces.append([])
            size = 0
        pieces[-1].append(char)
        size += width
    words = (base64.b64encode("".join(p).encode("utf-8")).decode("ascii") for p in pieces)
    return "\r\n ".join(f"=?utf-8?b?{word}?=" for word in words)


def _plain(text: str) -> bool:
    """Printable ASCII that no reader could take for an encoded word."""
    return bool(_PRINTABLE_ASCII.fullmatch(text)) and "=?" not in text


def _unstructured(text: str) -> str:
    """A subject from ``one_line`` as it is when plain, in encoded words otherwise: never a CR or LF."""
    return text if _plain(text) else _encoded_words(text)


def _display_name(name: str) -> str:
    """A display name as it is, quoted (ASCII with commas, quotes, brackets ...) or in encoded words."""
    if _plain(name):
        return name if _ATOMS.fullmatch(name) else '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return _encoded_words(name)


def _address_header(name: str, address: Address) -> bytes:
    """``To: name <user@domain>`` (or the address alone), the address checked by ``Address``."""
    addr = _ascii_line(name, address.addr_spec)
    shown = f"{_display_name(address.display_name)} <{addr}>" if address.display_name else addr
    return f"{name}: {shown}\r\n".encode("ascii")


@lru_cache(maxsize=8)
def _from_line(mail_from: str | None) -> bytes:
    """The From header, the same in every email of a night: written once."""
    return _address_header("From", mail_from_address(mail_from))


def render_email(
    view: View,
    *,
    mail_from: str | None = None,
    now: dt.datetime | None = None,
    files: list[tuple[str, bytes]] | None = None,
    message_id: str | None = None,
) -> RenderedEmail:
    """The complete message for one view (isolation checked first). ``message_id``: a fixed Message-ID
    (``<local@domain>``) instead of a fresh one, for messages whose identity the caller decides.

    multipart/mixed [ multipart/alternative [ text/plain, text/html ], text/csv ... ]; without
    attachments the alternative part is the message. The manager's chart is HTML (``reports.charts``),
    not an image.
    """
    check_isolation(view)
    domain = mail_from_address(mail_from).domain or "localhost"
    files = attachments(view) if files is None else files
    html, text = render_bodies(view, [name for name, _ in files])

    subject = subject_for(view)
    message_id = message_id or make_msgid(f"{view.kind}.{view.run_date:%Y%m%d}", domain=domain)
    token = "keqing-" + message_id[1:-1].split("@")[0].replace(".", "")
    body = [_text_part(text, "plain"), _text_part(html, "html")]
    if files:
        alternative = _multipart_part("alternative", body, f"{token}-a")
        csvs = [_leaf('text/csv; charset="utf-8"', data, filename=name) for name, data in files]
        content_type, payload = _multipart("mixed", [alternative, *csvs], f"{token}-m")
    else:
        content_type, payload = _multipart("alternative", body, f"{token}-a")
    head = f"Subject: {_unstructured(subject)}\r\n".encode("ascii") + _from_line(mail_from)
    head += _address_header("To", recipient_address(view))
    head += _header_lines(
        [
            ("Date", format_datetime((now or clock.now()).astimezone(SHANGHAI))),
            ("Message-ID", message_id),
            ("Auto-Submitted", "auto-generated"),
            ("X-Keqing-Run-Date", view.run_date.isoformat()),
            ("X-Keqing-Kind", view.kind),
            ("MIME-Version", "1.0"),
        ]
    )
    head += f"Content-Type: {content_type}\r\n\r\n".encode("ascii")
    return RenderedEmail(
        run_date=view.run_date,
        staff_id=view.recipient.staff_id,
        kind=view.kind,
        recipient=one_line(view.recipient.email),
        subject=subject,
        message_id=message_id,
        message=head + payload,
    )


# Below this many views the start-up of worker processes costs more than it saves.
PARALLEL_MIN_VIEWS = 200
# Views go to the workers pickled: the `large` night's 1,777 views (196,000 expiry entries among
# them) take 2.6 s of the parent's CPU to pickle and 1.9 s to unpickle, against 5.8-6.6 s to render
# them all in one process. With two CPUs the second worker saves less than that costs (6.9-7.1 s
# with two workers), so by default workers are used from this many CPUs on.
MIN_CPUS_FOR_WORKERS = 4


def default_processes(cpus: int | None) -> int:
    """Worker processes for ``render_many`` on a machine with ``cpus`` CPUs (1: render in this process)."""
    return min(cpus, 8) if cpus and cpus >= MIN_CPUS_FOR_WORKERS else 1


def _render_chunk(views: Sequence[View], mail_from: str | None, now: dt.datetime) -> list[RenderedEmail]:
    for view in views:
        check_isolation(view)  # before any data of the view is touched
    files = attachments_many(views)
    return [render_email(v, mail_from=mail_from, now=now, files=f) for v, f in zip(views, files, strict=True)]


def render_many(
    views: Sequence[View], *, mail_from: str | None = None, processes: int | None = None
) -> list[RenderedEmail]:
    """Render many views, in order; a large batch is spread over worker processes (by default one per
    CPU from ``MIN_CPUS_FOR_WORKERS`` CPUs on, none below).

    Workers are started with ``spawn`` (never ``fork``: the calling process runs threads, e.g.
    Prefect's), and get contiguous chunks of views back in order.
    """
    now = clock.now()
    workers = min(processes, 8) if processes is not None else default_processes(os.cpu_count())
    if workers <= 1 or len(views) < PARALLEL_MIN_VIEWS:
        return _render_chunk(views, mail_from, now)
    size = max(1, math.ceil(len(views) / (workers * 4)))
    chunks = [list(views[i : i + size]) for i in range(0, len(views), size)]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        parts = pool.map(_render_chunk, chunks, [mail_from] * len(chunks), [now] * len(chunks))
        return [email for part in parts for email in part]
