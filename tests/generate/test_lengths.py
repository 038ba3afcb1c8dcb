"""Any --days at any scale: the feeds are built for ranges longer and shorter than the scale's default."""

from __future__ import annotations

import pytest

from keqing.generate import build_feeds
from keqing.generate.population import _consult_phone_reserve
from keqing.generate.scales import SCALES, Calendar


@pytest.mark.parametrize(
    ("scale", "days", "seed"),
    [("tiny", 1, 1), ("tiny", 90, 7), ("tiny", 250, 11), ("tiny", 400, 42), ("small", 250, 1)],
)
def test_feeds_build_for_any_length(scale: str, days: int, seed: int):
    # Before the fix a range longer than the scale's default ran out of phones for its consults
    # (ShapeError in finish_consults): tiny's 31-day reserve held 379 phones for about 500 consults at 90 days.
    spec = SCALES[scale]
    feeds = build_feeds(spec, Calendar(spec.start, days), seed)
    consults = feeds["consults"]
    assert consults.height > 0
    assert consults["phone"].null_count() == 0
    assert consults["consult_id"].n_unique() == consults.height
    assert feeds["purchases"]["_day"].max() < days


def test_every_consult_call_gets_a_spare_phone():
    tiny = SCALES["tiny"]
    # The estimate follows the generated range, and never falls below the calls actually made.
    assert _consult_phone_reserve(tiny, Calendar(tiny.start, 400), 0) == int(2 * 400 * 3.0 * 1.5) + 100
    assert _consult_phone_reserve(tiny, Calendar(tiny.start, 10), 5_000) == 5_000
