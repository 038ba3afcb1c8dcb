"""Scales of the synthetic data set, the generator's calendar and its random streams."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from keqing.calendar import PACKAGE


@dataclass(frozen=True)
class Scale:
    name: str
    offices: int
    staff: int
    customers: int  # all customers, including those who first appear during the range
    patients: int  # all patients over the default range (arrivals scale with --days)
    start: date
    days: int
    # Share of the patients who already exist on the first day (the rest arrive over the range).
    initial_patients: float
    consults_per_office_day: float
    # Whether the manifest lists every dirty row with its file and line (else counts only).
    list_dirty_rows: bool
    # Whether offices get callback staff for their callback demand (about 40 calls due a nurse a day, seed
    # 000), rather than a share of the staff, and those nurses make every due call on its day (weekends
    # too) and call again those not answered (visits.callback_calls). Off at tiny, whose small fixed
    # figures the end-to-end tests assert, and at large, whose benchmark figures (bench/results) are
    # compared across changes.
    callbacks_by_demand: bool = False


SCALES: dict[str, Scale] = {
    s.name: s
    for s in (
        Scale("tiny", 2, 20, 150, 600, date(2026, 10, 1), 31, 0.75, 3.0, True),
        Scale("small", 3, 80, 2_000, 10_000, date(2026, 8, 1), 93, 0.6, 5.0, True, callbacks_by_demand=True),
        Scale("medium", 8, 400, 30_000, 100_000, date(2024, 11, 1), 365, 0.45, 6.0, False, callbacks_by_demand=True),
        Scale("large", 27, 2_000, 200_000, 1_000_000, date(2024, 11, 1), 730, 0.35, 6.0, False),
    )
}


def rng(seed: int, stream: str) -> np.random.Generator:
    """An independent random stream per part, so a change in one part leaves the others alone."""
    return np.random.default_rng([seed, zlib.crc32(stream.encode())])


class Calendar:
    """The days of the range, indexed 0..days-1, with the mainland working days."""

    def __init__(self, start: date, days: int) -> None:
        self.start, self.days = start, days
        self.dates = [start + timedelta(days=i) for i in range(days)]
        self.iso = np.array([d.isoformat() for d in self.dates])
        self.workday = np.array([PACKAGE.is_workday(d) for d in self.dates], dtype=bool)
        # For each day, the index of the same or next working day (``days`` when none is left).
        nxt = np.full(days + 1, days, dtype=np.int64)
        for i in range(days - 1, -1, -1):
            nxt[i] = i if self.workday[i] else nxt[i + 1]
        self.next_workday = nxt
        # Month of each day as year * 12 + month - 1.
        self.month = np.array([d.year * 12 + d.month - 1 for d in self.dates], dtype=np.int64)

    @property
    def end(self) -> date:
        return self.dates[-1]

    def shift_to_workday(self, day: np.ndarray) -> np.ndarray:
        """The same or next working day of each day index; ``days`` when it falls past the range."""
        day = np.clip(np.asarray(day, dtype=np.int64), 0, self.days)
        return self.next_workday[day]
