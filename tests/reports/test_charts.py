"""The manager chart: HTML bars whose segments put each coverage and standard where the numbers say."""

from __future__ import annotations

import datetime as dt

from reports.charts import MONTHLY, QUARTERLY, STANDARD, TRACK, Segment, bar_segments, coverage_chart
from reports.render import render_bodies
from reports.views import GradeAttainment, ManagerView, Recipient


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


def test_a_bar_below_its_standard_is_filled_to_the_value_and_marked_at_the_standard():
    # 50 % against 80 %: filled 0-50, track 50-80, the line at 80, track 80-100
    assert bar_segments(0.5, 0.8, MONTHLY) == [
        Segment(50.0, MONTHLY),
        Segment(30.0, TRACK),
        Segment(20.0, TRACK, mark_left=True),
    ]


def test_a_bar_over_its_standard_has_the_line_inside_the_filled_part():
    # 95 % against 90 %: filled 0-90, the line at 90, filled 90-95, track 95-100
    assert bar_segments(0.95, 0.9, QUARTERLY) == [
        Segment(90.0, QUARTERLY),
        Segment(5.0, QUARTERLY, mark_left=True),
        Segment(5.0, TRACK),
    ]


def test_a_standard_of_100_percent_is_the_right_edge_and_zero_coverage_is_all_track():
    assert bar_segments(0.0, 1.0, MONTHLY) == [Segment(100.0, TRACK, mark_right=True)]
    assert bar_segments(1.0, 1.0, MONTHLY) == [Segment(100.0, MONTHLY, mark_right=True)]


def test_shares_outside_0_to_1_are_clipped_and_widths_add_up_to_100():
    assert bar_segments(1.7, 0.2, MONTHLY) == [Segment(20.0, MONTHLY), Segment(80.0, MONTHLY, mark_left=True)]
    assert bar_segments(-0.3, 0.0, MONTHLY) == [Segment(100.0, TRACK, mark_left=True)]
    assert [s.width for s in bar_segments(0.333, 0.667, MONTHLY)] == [33.3, 33.4, 33.3]


def test_each_grade_has_a_monthly_and_a_quarterly_bar_with_its_own_standard_and_a_chinese_label():
    chart = coverage_chart([_row("A", 0.5, 1.0, 0.8, 0.9), _row("U", 0.1, 0.2, 0.0, 0.0)])
    assert [(r.grade, r.label) for r in chart] == [("A", "A 级"), ("U", "未分级")]
    monthly, quarterly = chart[0].bars
    assert (monthly.name, monthly.standard, monthly.meets) == ("月", 0.8, False)
    assert (quarterly.name, quarterly.standard, quarterly.meets) == ("季", 0.9, True)
    assert [s.mark_left for s in monthly.segments] == [False, False, True]  # the line at 80 %, not 90 %


def test_the_manager_email_draws_the_chart_in_html_with_chinese_title_legend_and_axis():
    view = ManagerView(
        run_date=dt.date(2026, 11, 24),
        recipient=Recipient("M1", "经理", "m1@example.com"),
        team_attainment=[_row("A", 0.5, 1.0, 0.8, 0.9)],
    )
    html, _ = render_bodies(view)
    assert "各级别覆盖率与标准" in html and "月覆盖率" in html and "季覆盖率" in html and "红线：该项的标准" in html
    assert "横轴：覆盖率" in html and "<img" not in html
    assert f"border-left: 3px solid {STANDARD}" in html  # the standards, inline (no <style> needed)
    assert "width: 50.0%" in html and "width: 30.0%" in html
