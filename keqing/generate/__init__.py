"""Synthetic inbox data in the contract's format (``keqing generate``).

``generate(scale, out)`` writes one folder per day (``OUT/YYYY-MM-DD/<feed>.csv``, some ``.xlsx``) and
``OUT/manifest.json``. The same seed and arguments give byte-identical files. ``dirty`` is the share
of rows made dirty in the ways the contract's inbox tolerates or quarantines (0 gives clean files);
the manifest lists what was injected.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from keqing.feeds import FEEDS
from keqing.generate import activity, population, visits, writer
from keqing.generate import dirty as dirty_mod
from keqing.generate.scales import SCALES, Calendar, Scale

__all__ = ["SCALES", "GenerateSummary", "build_feeds", "generate"]


@dataclass
class GenerateSummary:
    """What ``generate`` wrote: days and files, rows per feed, dirty rows and files per kind."""

    scale: str
    seed: int
    start: date
    days: int
    days_written: int
    files_written: int
    rows_per_feed: dict[str, int]
    dirty_rows: dict[str, int] = field(default_factory=dict)
    dirty_files: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)


def build_feeds(
    scale: Scale, cal: Calendar, seed: int, progress: Callable[[str], None] | None = None
) -> dict[str, pl.DataFrame]:
    """Every feed as a typed frame in the contract's columns, plus ``_day`` (its folder's day index)."""
    offices = population.make_offices(scale)
    staff = population.make_staff(seed, scale, cal, offices)
    products = population.make_products(scale)
    _, rural_patients = population.patient_split(scale, offices)
    places = population.make_places(seed, offices, rural_patients)
    customers = population.make_customers(seed, scale, cal, offices, staff, places)
    _say(progress, f"customers: {customers.height:,} rows")
    calls, arrivals = activity.consult_calls(seed, scale, cal, offices, staff)
    patients, events, spare_phones = population.make_patients(
        seed, scale, cal, offices, staff, products, places, arrivals
    )
    events = activity.name_events(cal, events)
    _say(progress, f"patients: {patients.height:,} rows")
    consults = activity.finish_consults(seed, cal, calls, patients, spare_phones, offices, staff)
    purchases = activity.make_purchases(seed, cal, patients, products, offices, staff, events)
    _say(progress, f"purchases: {purchases.height:,} rows")
    if scale.callbacks_by_demand:
        demand = visits.callback_demand(cal, patients, purchases, offices.height)
        staff, patients = population.staff_callbacks_by_demand(seed, staff, patients, demand)
        _say(progress, f"callback staff for the demand: {int((staff['role'] == 'callback').sum())}")
    rx, grades, first_month = activity.make_rx(seed, cal, customers, products)
    profile = activity.terminal_profile(seed, customers)
    made = visits.Visits.concat(
        [
            visits.rep_visits(seed, cal, staff, customers, products, grades, first_month, profile.vip),
            visits.callback_calls(seed, cal, staff, patients, purchases, scale.callbacks_by_demand),
            visits.home_visits(seed, cal, staff, patients, products, events),
        ]
    )
    visit_feed = visits.finish_visits(cal, made, staff, customers, patients, products)
    _say(progress, f"visits: {visit_feed.height:,} rows")
    orders = activity.make_orders(seed, cal, customers, products, profile)
    _say(progress, f"orders: {orders.height:,} rows")

    frames = {
        "offices": offices,
        "staff": staff,
        "products": products,
        "customers": customers,
        "patients": patients,
        "purchases": purchases,
        "visits": visit_feed,
        "consults": consults,
        "orders": orders,
        "rx_monthly": rx,
    }
    return {name: frame.select(*FEEDS[name].column_names, "_day") for name, frame in frames.items()}


def generate(
    scale: str,
    out: Path,
    *,
    seed: int = 42,
    start: date | None = None,
    days: int | None = None,
    dirty: float = 0.005,
    progress: Callable[[str], None] | None = None,
) -> GenerateSummary:
    """Write the synthetic inbox for ``scale`` into ``out`` and return what was written.

    ``out`` must be empty, missing, or hold an earlier generator run (its day folders and manifest
    are replaced). ``start`` and ``days`` default to the scale's fixed range.
    """
    began = time.perf_counter()
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
    if not 0 <= dirty < 1:
        raise ValueError(f"dirty must be a share in [0, 1), not {dirty}")
    spec = SCALES[scale]
    start = start or spec.start
    days = spec.days if days is None else days
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    out = Path(out)
    _prepare(out)
    cal = Calendar(start, days)

    feeds = build_feeds(spec, cal, seed, progress)
    injected = dirty_mod.Injected()
    parts: dict[str, writer.DayRows] = {}
    for name in list(feeds):
        frame = writer.prepare(name, feeds.pop(name))
        parts[name] = writer.DayRows(frame, dirty_mod.inject_rows(seed, name, frame, days, dirty, injected), days)

    files: list[writer.WrittenFile] = []
    dirty_rows: list[dict] = []
    step = max(1, days // 10)
    for day in range(days):
        if day % step == 0 or day == days - 1:
            _say(progress, f"writing day {day + 1}/{days}")
        written, marks = writer.write_day_files(out, cal, seed, dirty, parts, day)
        files += written
        dirty_rows += marks
    rows = dict.fromkeys(parts, 0)
    dirty_files: dict[str, int] = {}
    for f in files:
        rows[f.feed] += f.rows
        for kind in f.style.kinds:
            dirty_files[kind] = dirty_files.get(kind, 0) + 1
    summary = GenerateSummary(
        scale=scale,
        seed=seed,
        start=start,
        days=days,
        days_written=len({f.path.split("/")[0] for f in files}),
        files_written=len(files),
        rows_per_feed=rows,
        dirty_rows=injected.totals(),
        dirty_files=dict(sorted(dirty_files.items())),
    )
    manifest = _manifest(summary, cal, dirty, files, injected, dirty_rows if spec.list_dirty_rows else None)
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    summary.elapsed_seconds = round(time.perf_counter() - began, 2)
    _say(progress, f"done: {summary.files_written:,} files in {summary.elapsed_seconds:.1f} s")
    return summary


_DAY_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _prepare(out: Path) -> None:
    """Refuse to mix with foreign files; clear the day folders of an earlier run."""
    if not out.exists():
        out.mkdir(parents=True)
        return
    entries = list(out.iterdir())
    if not entries:
        return
    if not (out / "manifest.json").exists():
        raise FileExistsError(f"{out} is not empty and holds no generator manifest.json; choose an empty folder")
    for entry in entries:
        if entry.is_dir() and _DAY_FOLDER.match(entry.name):
            shutil.rmtree(entry)
    (out / "manifest.json").unlink()


def _manifest(
    summary: GenerateSummary,
    cal: Calendar,
    dirty: float,
    files: list[writer.WrittenFile],
    injected: dirty_mod.Injected,
    dirty_rows: list[dict] | None,
) -> dict:
    kinds = set(summary.dirty_rows) | set(summary.dirty_files)
    dirty_section: dict = {
        "share": dirty,
        "rows": summary.dirty_rows,
        "rows_by_feed": {feed: dict(sorted(k.items())) for feed, k in sorted(injected.by_feed.items())},
        "files": summary.dirty_files,
        "expected": {k: v for k, v in dirty_mod.EXPECTED.items() if k in kinds},
    }
    if dirty_rows is not None:
        dirty_section["row_list"] = dirty_rows
    return {
        "generator": "keqing.generate",
        "scale": summary.scale,
        "seed": summary.seed,
        "start": summary.start.isoformat(),
        "end": cal.end.isoformat(),
        "days": summary.days,
        "rows": summary.rows_per_feed,
        "files": [
            {
                "path": f.path,
                "feed": f.feed,
                "rows": f.rows,
                "format": "xlsx" if f.style.xlsx else "csv",
                "encoding": None if f.style.xlsx else f.style.encoding,
                "headers": "chinese" if f.style.chinese_headers else "english",
                "shuffled_columns": f.style.shuffle_seed is not None,
                "extra_columns": [writer.EXTRA_COLUMN] if f.style.extra_column else [],
            }
            for f in files
        ],
        "dirty": dirty_section,
    }
