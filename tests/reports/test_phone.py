"""One email of each kind from a generated night, in headless Chromium in a 390 px frame (a phone):
none scrolls sideways (the document's scroll width is at most 390).

Slow: a generated `tiny` month goes through the nightly flow first. Skipped without Chromium outside
CI; in CI (`.ci/run` installs it) it fails instead.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from keqing.generate import generate
from keqing.kinds import STAFF_KINDS
from reports.screenshot import PHONE_WIDTH, html_with_inline_images, scroll_widths
from tests.helpers import chromium_or_skip, run_nightly

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.slow]

START = dt.date(2026, 10, 1)
DAYS = 67
RUN_DATE = START + dt.timedelta(days=DAYS)  # 2026-12-07, a Monday with a village visit: every kind
NIGHT_KINDS = {*STAFF_KINDS, "ops"}  # what a night sends; the alerts are measured from their samples below


def largest_email_of_each_kind(outbox: Path) -> dict[str, str]:
    """kind -> the HTML part of that kind's largest email (the most rows: the likeliest to overflow)."""
    largest: dict[str, Path] = {}
    for path in outbox.glob("*.eml"):
        kind = path.stem.rsplit("-", 1)[0]
        if kind not in largest or path.stat().st_size > largest[kind].stat().st_size:
            largest[kind] = path
    return {kind: html_with_inline_images(path.read_bytes()) for kind, path in sorted(largest.items())}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # rendering, not a database rule
def test_one_email_of_each_kind_of_a_generated_night_fits_a_390_px_phone(settings):
    chromium_or_skip()
    generate("tiny", settings.inbox, seed=5, start=START, days=DAYS)
    run_nightly(RUN_DATE)

    emails = largest_email_of_each_kind(settings.outbox / RUN_DATE.isoformat())
    assert set(emails) == NIGHT_KINDS
    widths = scroll_widths(emails, width=PHONE_WIDTH)
    assert set(widths) == NIGHT_KINDS
    assert {kind: w for kind, w in widths.items() if w > PHONE_WIDTH} == {}
    assert all(w == PHONE_WIDTH for w in widths.values())  # measured, not zero: each filled the frame
