"""The clock: dates in Asia/Shanghai (contract section 1) and the one source of the current time.

Everything that stamps a time (rows written, emails' Date header) asks ``utc_now``; tests fix it
with ``frozen``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_fixed: dt.datetime | None = None


def now() -> dt.datetime:
    """The current instant, timezone-aware (UTC); the fixed one inside ``frozen``."""
    return _fixed if _fixed is not None else dt.datetime.now(dt.UTC)


def utc_now() -> dt.datetime:
    """The current instant as naive UTC, as the database's DateTime columns store it."""
    return now().astimezone(dt.UTC).replace(tzinfo=None)


@contextlib.contextmanager
def frozen(at: dt.datetime) -> Iterator[None]:
    """Within the block, ``now`` is ``at`` (timezone-aware): for tests."""
    global _fixed
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    previous, _fixed = _fixed, at
    try:
        yield
    finally:
        _fixed = previous


def shanghai_wall(stored: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M", missing: str = "") -> str:
    """A time the database stores as naive UTC, as Shanghai wall time (``missing`` for none)."""
    if stored is None:
        return missing
    return stored.replace(tzinfo=dt.UTC).astimezone(SHANGHAI).strftime(fmt)


def shanghai_today(at: dt.datetime | None = None) -> dt.date:
    """The Shanghai calendar date at ``at`` (default: now)."""
    at = at or now()
    if at.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return at.astimezone(SHANGHAI).date()


def cutoff_for(run_date: dt.date) -> dt.date:
    """The last day whose records a run for ``run_date`` uses."""
    return run_date - dt.timedelta(days=1)
