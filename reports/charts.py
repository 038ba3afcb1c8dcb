"""Charts for the manager email, drawn with matplotlib (Agg) into PNG bytes for an inline image."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import lru_cache

from reports.views import GradeAttainment

# Fonts that can draw Chinese, in order of preference; without one the labels are in English.
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "SimHei", "PingFang SC")
LABELS = {
    True: {"monthly": "月覆盖率", "quarterly": "季覆盖率", "standard": "标准", "title": "各级别覆盖率与标准"},
    False: {"monthly": "monthly", "quarterly": "quarterly", "standard": "standard", "title": "Coverage by grade"},
}


@lru_cache(maxsize=1)
def _cjk_font() -> str | None:
    from matplotlib import font_manager

    available = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in available), None)


def coverage_chart(rows: Sequence[GradeAttainment]) -> bytes:
    """Bars of monthly and quarterly coverage per grade, with each grade's standard as a marker."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    font = _cjk_font()
    labels = LABELS[font is not None]
    rc = {"font.family": [font, "DejaVu Sans"]} if font else {}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(6.4, 2.8), dpi=100)
        ax = fig.add_subplot()
        x = list(range(len(rows)))
        width = 0.36
        monthly = [r.monthly_coverage * 100 for r in rows]
        quarterly = [r.quarterly_coverage * 100 for r in rows]
        ax.bar([i - width / 2 for i in x], monthly, width, label=labels["monthly"], color="#2f6db5")
        ax.bar([i + width / 2 for i in x], quarterly, width, label=labels["quarterly"], color="#9cc3e6")
        for i, r in enumerate(rows):
            ax.hlines(r.monthly_standard * 100, i - width, i, colors="#c0392b", linewidth=2)
            ax.hlines(r.quarterly_standard * 100, i, i + width, colors="#c0392b", linewidth=2)
        ax.plot([], [], color="#c0392b", linewidth=2, label=labels["standard"])
        ax.set_xticks(x, [r.grade for r in rows])
        ax.set_ylim(0, 110)
        ax.set_ylabel("%")
        ax.set_title(labels["title"], fontsize=11)
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False, fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        # Fixed margins, not tight_layout(): that draws the whole figure once more to measure it
        # (40% of a chart's time, and a manager email's chart is most of its rendering).
        fig.subplots_adjust(left=0.09, right=0.98, top=0.88, bottom=0.24)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    return buf.getvalue()
