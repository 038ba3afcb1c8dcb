"""The run summary for people: the CLI's text, and the markdown of the Prefect artifact.

A summary holds counts, file paths and reason codes only, never personal data.
"""

from __future__ import annotations


def ingest_table(summary: dict) -> list[dict]:
    """One row per feed: files, rows read, loaded, quarantined, duplicates, released, waiting."""
    feeds = summary.get("ingest", {}).get("feeds", {})
    return [{"feed": feed, **counts} for feed, counts in feeds.items()]


def markdown(summary: dict) -> str:
    ingest = summary.get("ingest", {})
    lines = [
        f"# keqing nightly run for {summary.get('run_date')}",
        "",
        f"- files: {ingest.get('files_new', 0)} new, {ingest.get('files_already_ingested', 0)} already ingested, "
        f"{len(ingest.get('files_same_bytes', []))} with the same bytes as another, "
        f"{len(ingest.get('files_ignored', []))} not a feed",
        f"- rows: {ingest.get('rows_read', 0):,} read, {ingest.get('rows_loaded', 0):,} loaded, "
        f"{ingest.get('rows_quarantined', 0):,} quarantined, {ingest.get('rows_duplicate', 0):,} exact duplicates, "
        f"{ingest.get('rows_released', 0):,} released from quarantine, {ingest.get('rows_waiting', 0):,} waiting",
        "",
        "| feed | files | read | loaded | quarantined | duplicates | released | waiting |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ingest_table(summary):
        lines.append(
            f"| {row['feed']} | {row['files']} | {row['rows_read']:,} | {row['loaded']:,} | {row['quarantined']:,} "
            f"| {row['duplicates']:,} | {row['released']:,} | {row['waiting']:,} |"
        )
    reasons = ingest.get("quarantined_by_reason", {})
    if reasons:
        lines += ["", "Quarantined by reason: " + ", ".join(f"`{r}` {n:,}" for r, n in reasons.items())]
    rejected = [f for f in ingest.get("files", []) if f.get("status") == "rejected"]
    if rejected:
        lines += ["", "Rejected files:"] + [f"- `{f['path']}`: {'; '.join(f['messages'])}" for f in rejected]
    missing = ingest.get("missing_feeds", [])
    if missing:
        lines += ["", "Missing daily feeds (数据未到): " + ", ".join(f"`{m['feed']}` ({m['cutoff']})" for m in missing)]
    broken = ingest.get("broken_batches", [])
    if broken:
        lines += ["", "Broken batches:"] + [
            f"- `{b['path']}`: {b['rows_quarantined']:,} of {b['rows_read']:,} rows quarantined" for b in broken
        ]
    return "\n".join(lines)
