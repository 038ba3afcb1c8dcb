"""The manager email's coverage chart, as HTML bars with inline styles (no image).

One pair of horizontal bars per grade (monthly and quarterly coverage), each bar a one-row table of
segments whose widths are percentages of the track, with the bar's own standard as a red line at the
start of the segment where it falls. HTML rather than an image: it is in Chinese whatever fonts the
server has, its text is as large as the email's on a phone, it shrinks to any width, it needs no
image part (nor an image library), and it survives clients that strip ``<style>`` or block images.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from reports.views import GradeAttainment, grade_label

MONTHLY, QUARTERLY, TRACK, STANDARD = "#2f6db5", "#7fb0e0", "#e4e7eb", "#b42318"
TITLE = "各级别覆盖率与标准"


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of a bar: ``width`` in % of the track, its colour, and whether the standard line is
    drawn at its left (or right) edge."""

    width: float
    colour: str
    mark_left: bool = False
    mark_right: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    name: str  # 月 / 季
    value: float  # 0..1
    standard: float  # 0..1
    segments: list[Segment]

    @property
    def meets(self) -> bool:
        return self.value >= self.standard


@dataclass(frozen=True, slots=True)
class ChartRow:
    grade: str
    label: str
    bars: list[Bar]


def _percent(share: float) -> float:
    return round(min(max(share, 0.0), 1.0) * 100, 1)


def bar_segments(value: float, standard: float, colour: str) -> list[Segment]:
    """The segments of one bar: filled up to ``value``, track colour after it; the standard line at
    the start of the segment beginning at ``standard`` (at the right end when the standard is 100%).
    Shares are clipped to 0..1; widths add up to 100."""
    filled, mark = _percent(value), _percent(standard)
    cuts = sorted({0.0, filled, mark, 100.0})
    segments = [
        Segment(
            width=round(end - start, 1),
            colour=colour if end <= filled else TRACK,
            mark_left=start == mark,
            mark_right=end == mark == 100.0,
        )
        for start, end in itertools.pairwise(cuts)
    ]
    return segments


def coverage_chart(rows: Sequence[GradeAttainment]) -> list[ChartRow]:
    """Per grade, in the rows' order: the monthly bar over the quarterly bar, each with its standard."""
    return [
        ChartRow(
            grade=r.grade,
            label=grade_label(r.grade),
            bars=[
                Bar(
                    "月",
                    r.monthly_coverage,
                    r.monthly_standard,
                    bar_segments(r.monthly_coverage, r.monthly_standard, MONTHLY),
                ),
                Bar(
                    "季",
                    r.quarterly_coverage,
                    r.quarterly_standard,
                    bar_segments(r.quarterly_coverage, r.quarterly_standard, QUARTERLY),
                ),
            ],
        )
        for r in rows
    ]
