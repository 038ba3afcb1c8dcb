"""The end-of-run summary names missing daily feeds and broken batches."""

from __future__ import annotations

from cli.main import format_summary
from keqing.summary import markdown


def test_the_summary_names_missing_feeds_and_broken_batches():
    summary = {
        "run_date": "2026-11-02",
        "ingest": {
            "missing_feeds": [{"feed": "purchases", "cutoff": "2026-11-01"}],
            "broken_batches": [
                {"path": "a/purchases.csv", "rows_read": 40, "rows_quarantined": 9, "quarantined_share": 0.225}
            ],
        },
    }
    lines = format_summary(summary).splitlines()
    assert lines[-2:] == [
        "missing daily feed: purchases (no record dated 2026-11-01; the emails say 数据未到)",
        "broken batch: a/purchases.csv: 9 of 40 rows quarantined (22.5%)",
    ]
    text = markdown(summary)
    assert "Missing daily feeds (数据未到): `purchases` (2026-11-01)" in text
    assert "- `a/purchases.csv`: 9 of 40 rows quarantined" in text
