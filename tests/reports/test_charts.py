"""The manager chart: bar heights and standard markers where the numbers put them."""

from __future__ import annotations

import io

from PIL import Image

from reports.charts import MONTHLY, QUARTERLY, STANDARD, coverage_chart, slots, y_of
from reports.views import GradeAttainment

WHITE = (255, 255, 255)


def _row(grade: str, monthly: float, quarterly: float, monthly_standard: float, quarterly_standard: float):
    return GradeAttainment(
        grade=grade,
        customers=10,
        required_visits=20,
        credited_visits=10,
        monthly_coverage=monthly,
        monthly_standard=monthly_standard,
        quarterly_coverage=quarterly,
        quarterly_standard=quarterly_standard,
    )


def test_bars_reach_their_coverage_and_the_standards_are_marked():
    rows = [_row("A", 0.5, 1.0, 0.8, 0.9), _row("B", 0.0, 0.25, 0.6, 0.7)]
    image = Image.open(io.BytesIO(coverage_chart(rows))).convert("RGB")
    assert image.size == (640, 280)
    (a, width_a), (b, _) = slots(2)
    monthly_a, quarterly_a = a - width_a / 2, a + width_a / 2  # the middle of each bar
    # A: monthly 50 % -- filled just below the 50 % line, white just above it (and the 80 % marker)
    assert image.getpixel((monthly_a, y_of(50) + 3)) == MONTHLY
    assert image.getpixel((monthly_a, y_of(50) - 3)) == WHITE
    assert image.getpixel((monthly_a, y_of(80))) == STANDARD
    # A: quarterly 100 % -- filled up to 100 %, with its 90 % marker drawn over the bar
    assert image.getpixel((quarterly_a, y_of(100) + 3)) == QUARTERLY
    assert image.getpixel((quarterly_a, y_of(100) - 3)) == WHITE
    assert image.getpixel((quarterly_a, y_of(90))) == STANDARD
    # B: no monthly coverage at all, a quarter quarterly
    assert image.getpixel((b - width_a / 2, y_of(30))) == WHITE
    assert image.getpixel((b + width_a / 2, y_of(25) + 3)) == QUARTERLY
    assert image.getpixel((b + width_a / 2, y_of(25) - 3)) == WHITE


def test_coverage_above_the_axis_is_clipped_to_it():
    assert y_of(250) == y_of(110)
    assert y_of(-5) == y_of(0)
