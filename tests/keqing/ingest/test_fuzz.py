"""Fuzz (hypothesis) of the reader and the normaliser: arbitrary bytes and wrong-but-plausible CSV never
raise, and every data line ends as a row (a load candidate or a cell error) or a problem, none lost."""

from __future__ import annotations

import polars as pl
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from keqing.feeds import FEEDS
from keqing.ingest.batch import REASON_TEXT
from keqing.ingest.normalise import ROW, normalise
from keqing.ingest.reader import LINE, read_file_bytes

# Derandomized: the same examples on every machine and in CI, bounded to a few seconds.
FUZZ = settings(
    max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], database=None
)

FEED_NAMES = sorted(FEEDS)
TRICKY = (
    '"',
    '""',
    ",",
    "\r",
    "\n",
    "\r\n",
    "\t",
    "\ufeff",
    "赵敏",
    "高血压",
    "是",
    "否",
    "1.38E+10",
    "1.3812345678E10",
    "+86 138-1234-5678",
    "99999999999999999999999999",
    "-1",
    "1e400",
    "nan",
    "inf",
    "46316.5",
    "2026-02-30",
    "2026/1/5",
    "20261121",
    "2026-11-21 24:00",
    '=HYPERLINK("x")',
    "'; DROP TABLE t; --",
    "<script>",
    "x" * 1001,
)
ALPHABET = "aZ09.-+/: ,\"'\r\n\t\x07\x1f\u3000赵敏高血压是否１２E¥;；"
cells = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet=ALPHABET, max_size=12),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),
)


@st.composite
def csv_files(draw) -> tuple[str, bytes]:
    """A feed's header (canonical or Chinese names, shuffled, some missing or unknown) and rows of tricky cells."""
    feed = FEEDS[draw(st.sampled_from(FEED_NAMES))]
    # The required columns nearly always (else the file is rejected whole), some optional ones, in any order.
    optional = [c for c in feed.columns if not c.required]
    required = [c for c in feed.columns if c.required]
    if draw(st.integers(0, 9)) == 0:
        required = required[1:]
    some = draw(st.lists(st.sampled_from(optional), unique_by=lambda c: c.name)) if optional else []
    columns = draw(st.permutations(required + some))
    header = [draw(st.sampled_from(c.headers)) for c in columns]
    header += draw(st.lists(st.sampled_from(["备注", "", "note", *header[:1]]), max_size=2))
    width = len(header)
    rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), max_size=8))
    for row in rows:  # one row in ten a field short or long
        row[:] = row[:-1] if draw(st.integers(0, 19)) == 0 else row + ["x"] * (draw(st.integers(0, 19)) == 0)
    quote = draw(st.booleans())

    def field(text: str) -> str:
        return '"' + text.replace('"', '""') + '"' if quote and draw(st.booleans()) else text

    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(",".join(field(c) for c in row) for row in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
    data = text.encode(encoding, errors="replace")
    cut = draw(st.integers(min_value=0, max_value=len(data)))
    return feed.name, data[:cut] if draw(st.integers(0, 3)) == 0 else data


def check_accounted(feed: str, filename: str, data: bytes) -> None:
    raw = read_file_bytes(feed, filename, data)
    assert raw.rows is not None
    event(f"rejected: {raw.rejected_reason}" if raw.rejected_reason else f"read: {min(raw.rows.height, 3)}+ rows")
    if raw.rejected_reason is not None:
        assert raw.rejected_reason in REASON_TEXT
        assert raw.rows.height == 0 and raw.problems == []
        assert raw.rows_read == len(raw.rejected_lines)
        return
    lines = raw.rows[LINE].to_list() + [p.line for p in raw.problems]
    assert raw.rows_read == len(lines) == len(set(lines)), "a data line is lost or counted twice"
    assert all(line >= 2 for line in lines)
    assert {p.reason for p in raw.problems} <= set(REASON_TEXT)
    typed, errors = normalise(feed, raw.rows.with_row_index(ROW))
    assert typed.height == raw.rows.height, "the normaliser lost or added a row"
    assert errors.filter(~pl.col(ROW).is_in(typed[ROW].implode())).height == 0
    assert set(errors["reason"].to_list()) <= set(REASON_TEXT)


@FUZZ
@given(
    feed=st.sampled_from(FEED_NAMES),
    data=st.binary(max_size=600),
    headed=st.booleans(),
    name=st.sampled_from(["f.csv", "f.csv", "f.xlsx"]),
)
def test_arbitrary_bytes_never_raise_and_every_line_is_accounted_for(feed, data, headed, name):
    """Random bytes, alone or after a valid header (so that they become data lines)."""
    header = ",".join(FEEDS[feed].column_names).encode() + b"\n"
    check_accounted(feed, name, header + data if headed else data)


@FUZZ
@given(file=csv_files())
def test_wrong_csv_never_raises_and_every_line_is_accounted_for(file):
    feed, data = file
    check_accounted(feed, "f.csv", data)
