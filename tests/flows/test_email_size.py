"""Every email of a generated `medium` night (124 days of history, 400 staff, a Monday: the managers'
ranking too) has an HTML part under 100 KB, the largest recipient's included: Gmail clips a body over
about 102 KB, and a phone should not scroll through a month's list.

End to end (generation, a whole night on SQLite, a few minutes on 2 cores): marker e2e (`make test-e2e`,
`.ci/run`). A rendering bound, not a database rule: SQLite only.
"""

from __future__ import annotations

import datetime as dt
import email
from email import policy
from pathlib import Path

import pytest

from keqing.generate import generate
from keqing.kinds import STAFF_KINDS
from tests.helpers import run_nightly

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.e2e]

START = dt.date(2026, 7, 1)
DAYS = 124
RUN_DATE = START + dt.timedelta(days=DAYS)  # 2026-11-02, a Monday
LIMIT = 100_000  # bytes of the HTML part, UTF-8


def html_sizes(outbox: Path) -> dict[str, int]:
    """File name -> bytes of the HTML part (UTF-8) of every email in the folder."""
    sizes = {}
    for path in outbox.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        sizes[path.name] = len(msg.get_body(preferencelist=("html",)).get_content().encode("utf-8"))
    return sizes


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_html_part_of_a_medium_night_is_under_100_kb(settings):
    generate("medium", settings.inbox, seed=3, start=START, days=DAYS)
    run_nightly(RUN_DATE)

    sizes = html_sizes(settings.outbox / RUN_DATE.isoformat())
    largest = {}
    for name, size in sizes.items():
        kind = name.rsplit("-", 1)[0]
        largest[kind] = max(largest.get(kind, 0), size)
    assert set(largest) == {*STAFF_KINDS, "ops"}  # what a night sends (the alerts come from Prefect automations)
    assert len(sizes) > 300
    assert {name: size for name, size in sizes.items() if size >= LIMIT} == {}, f"largest per kind: {largest}"
