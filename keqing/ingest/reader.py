"""Reading one inbox file into a frame of text cells, with a line number per row.

Pure functions of the file's bytes: no database, no logging. Every row of the file ends up either
in ``RawFile.rows`` or in ``RawFile.problems`` (a structural problem: an undecodable line, a
broken quote, a wrong number of fields), so nothing is lost silently.

Line numbers are physical lines of the file (header = line 1); a record whose quoted field spans
several lines is named by its first line. For ``.xlsx`` they are worksheet row numbers.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import polars as pl

from keqing.feeds import FEEDS, Feed

UTF8_BOM = b"\xef\xbb\xbf"
ZIP_MAGIC = b"PK\x03\x04"
MAX_QUOTED_SPAN = 20  # lines a quoted field may span before its opening line is called broken
LINE = "_line"
LINE_BREAK = re.compile(rb"\r\n|\r|\n")
# The csv module refuses fields over 128 KiB; a long field is read whole and judged by the length
# check of its column (``too_long``), as it is on the unquoted path, not called badly quoted.
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class Problem:
    """A row that cannot be read as a record of the feed."""

    line: int
    column: str | None
    reason: str
    message: str
    raw: dict[str, str | None]


@dataclass
class RawFile:
    feed: str
    encoding: str | None = None
    # Canonical column names (all String) plus ``_line``; absent optional columns are null.
    rows: pl.DataFrame | None = None
    problems: list[Problem] = field(default_factory=list)
    unknown_columns: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    # Set when the whole file is rejected (missing required column, empty, unreadable).
    rejected_reason: str | None = None
    rejected_column: str | None = None
    header_line: str | None = None
    data_rows: int = 0  # data records in the file, whatever became of them
    # A rejected file's data lines: (physical line number, text), each quarantined with the file's reason.
    rejected_lines: list[tuple[int, str]] = field(default_factory=list)

    @property
    def rows_read(self) -> int:
        return self.data_rows


# --- decoding --------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str, list[tuple[int, bytes]]]:
    """Text of ``data``: UTF-8 (with or without BOM) or GB18030, decided per file.

    Returns (text, encoding, undecodable lines). GB18030 can decode most byte strings, so it is not
    a safe fallback on its own: a file whose non-ASCII lines are mostly valid UTF-8 is UTF-8 with a
    few bad lines, not GB18030. Lines valid in neither encoding are returned (1-based number, raw
    bytes) and left empty in the text, so no character is ever guessed.
    """
    bom = data.startswith(UTF8_BOM)
    if bom:
        data = data[len(UTF8_BOM) :]
    try:
        return data.decode("utf-8"), "utf-8-sig" if bom else "utf-8", []
    except UnicodeDecodeError as exc:
        # A UTF-8 file cut in the middle of its last character is UTF-8 with a bad last line.
        cut = exc.reason == "unexpected end of data" and _decodes(data[: exc.start], "utf-8")
    # The same line breaks as ``_split_lines`` (\r\n, \n or \r), so that line numbers agree; neither
    # byte occurs inside a UTF-8 or GB18030 multi-byte character.
    lines = LINE_BREAK.split(data)
    utf8 = bom or cut or _mostly_utf8(lines)
    if not utf8:
        try:
            return data.decode("gb18030"), "gb18030", []
        except UnicodeDecodeError:
            pass
    encoding = "utf-8" if utf8 else "gb18030"
    bad: list[tuple[int, bytes]] = []
    out: list[str] = []
    for number, raw in enumerate(lines, start=1):
        try:
            out.append(raw.decode(encoding))
        except UnicodeDecodeError:
            bad.append((number, raw))
            out.append("")
    return "\n".join(out), encoding + "-mixed", bad


def _mostly_utf8(lines: list[bytes], sample: int = 500) -> bool:
    """Whether most non-ASCII lines (up to ``sample`` of them) are valid UTF-8."""
    valid = checked = 0
    for raw in lines:
        if raw.isascii():
            continue
        checked += 1
        valid += _decodes(raw, "utf-8")
        if checked >= sample:
            break
    return checked > 0 and valid * 2 > checked


def _decodes(raw: bytes, encoding: str) -> bool:
    try:
        raw.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


# --- headers ---------------------------------------------------------------------------------


def _header_key(name: str) -> str:
    return name.strip().strip("\ufeff").strip().lower().replace(" ", "_")


def header_aliases(feed: Feed) -> dict[str, str]:
    """Accepted header text (normalised) -> canonical column name."""
    aliases: dict[str, str] = {}
    for column in feed.columns:
        for alias in column.headers:
            aliases[_header_key(alias)] = column.name
    return aliases


def map_header(feed: Feed, header: list[str]) -> tuple[list[str | None], list[str], list[str]]:
    """Canonical name per header position (None = ignored), unknown headers, missing required columns."""
    aliases = header_aliases(feed)
    mapped: list[str | None] = []
    unknown: list[str] = []
    seen: set[str] = set()
    for name in header:
        canonical = aliases.get(_header_key(name))
        if canonical is None or canonical in seen:
            if name.strip():
                unknown.append(name.strip())
            mapped.append(None)
        else:
            seen.add(canonical)
            mapped.append(canonical)
    missing = [c for c in feed.required if c not in seen]
    return mapped, unknown, missing


# --- CSV -------------------------------------------------------------------------------------


def _split_lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _rows_unquoted(feed: Feed, lines: list[str], mapped: list[str | None]) -> tuple[pl.DataFrame, list[Problem], int]:
    """Fast path for text without quotes: count and split the fields of every line, vectorised."""
    width = len(mapped)
    frame = pl.DataFrame({"text": lines[1:]}, schema={"text": pl.String}).with_row_index(LINE, offset=2)
    frame = frame.with_columns(pl.col(LINE).cast(pl.Int64)).filter(pl.col("text").str.strip_chars() != "")
    counted = frame.with_columns(n=pl.col("text").str.count_matches(",", literal=True) + 1)
    bad = counted.filter(pl.col("n") != width)
    problems = [
        Problem(line, None, "wrong_field_count", f"line {line}: {n} fields where the header has {width}", {"_text": t})
        for line, t, n in bad.select(LINE, "text", "n").iter_rows()
    ]
    fields = counted.filter(pl.col("n") == width).select(
        pl.col(LINE), pl.col("text").str.split_exact(",", width - 1).alias("f")
    )
    names = [f"field_{i}" for i in range(width)]
    rows = fields.unnest("f").select(
        pl.col(LINE), *(pl.col(names[i]).alias(name) for i, name in enumerate(mapped) if name is not None)
    )
    return _complete(feed, rows), problems, frame.height


def _records_quoted(lines: list[str], width: int) -> tuple[pl.DataFrame, list[Problem], int]:
    """Careful path for text with quotes: RFC 4180, fields may span lines, broken quotes isolated.

    A line with an odd number of quotes is joined with the following lines only while the result
    parses strictly into the header's number of fields; otherwise that one line is reported as an
    unbalanced quote and reading resumes on the next line, so one stray quote never swallows the
    rest of the file.
    """
    numbers: list[int] = []
    texts: list[str] = []
    fields: list[list[str]] = []
    problems: list[Problem] = []
    records = 0
    i = 1
    while i < len(lines):
        line = lines[i]
        number = i + 1
        if not line.strip():
            i += 1
            continue
        records += 1
        if line.count('"') % 2 == 0:
            try:
                fields.append(next(csv.reader([line], strict=True)))
            except csv.Error as exc:
                problems.append(Problem(number, None, "bad_quoting", f"line {number}: {exc}", {"_text": line}))
            else:
                numbers.append(number)
                texts.append(line)
            i += 1
            continue
        joined = _join_quoted(lines, i, width)
        if joined is None:
            problems.append(
                Problem(
                    number,
                    None,
                    "unbalanced_quote",
                    f"line {number}: a quote is opened and never closed",
                    {"_text": line},
                )
            )
            i += 1
            continue
        end, parsed = joined
        numbers.append(number)
        texts.append("\n".join(lines[i : end + 1]))
        fields.append(parsed)
        i = end + 1
    frame = pl.DataFrame(
        {LINE: numbers, "text": texts, "fields": fields},
        schema={LINE: pl.Int64, "text": pl.String, "fields": pl.List(pl.String)},
    )
    return frame, problems, records


def _join_quoted(lines: list[str], start: int, width: int) -> tuple[int, list[str]] | None:
    """(last line, fields) of a record whose quoted field spans lines, or None if it never closes well."""
    buffer = lines[start]
    for end in range(start + 1, min(len(lines), start + MAX_QUOTED_SPAN)):
        buffer += "\n" + lines[end]
        if buffer.count('"') % 2 == 1:
            continue
        try:
            parsed = next(csv.reader([buffer], strict=True))
        except csv.Error:
            return None
        return (end, parsed) if len(parsed) == width else None
    return None


def _frame_from_records(
    feed: Feed, records: pl.DataFrame, mapped: list[str | None]
) -> tuple[pl.DataFrame, list[Problem]]:
    """Records with the header's number of fields become rows; the others become problems."""
    width = len(mapped)
    counted = records.with_columns(n=pl.col("fields").list.len())
    bad = counted.filter(pl.col("n") != width)
    problems = [
        Problem(
            line,
            None,
            "wrong_field_count",
            f"line {line}: {n} fields where the header has {width}",
            {"_text": text},
        )
        for line, text, n in bad.select(LINE, "text", "n").iter_rows()
    ]
    good = counted.filter(pl.col("n") == width)
    columns = [pl.col(LINE)]
    for position, name in enumerate(mapped):
        if name is not None:
            columns.append(pl.col("fields").list.get(position).alias(name))
    rows = good.select(columns)
    return _complete(feed, rows), problems


def _complete(feed: Feed, rows: pl.DataFrame) -> pl.DataFrame:
    """All of the feed's columns as trimmed text (absent optional columns null), plus ``_line``."""
    exprs = [pl.col(LINE).cast(pl.Int64)]
    for column in feed.columns:
        if column.name in rows.columns:
            value = pl.col(column.name).cast(pl.String).str.strip_chars()
            exprs.append(pl.when(value == "").then(None).otherwise(value).alias(column.name))
        else:
            exprs.append(pl.lit(None, dtype=pl.String).alias(column.name))
    return rows.select(exprs)


def read_csv_bytes(feed_name: str, data: bytes) -> RawFile:
    feed = FEEDS[feed_name]
    result = RawFile(feed=feed_name)
    text, result.encoding, undecodable = decode(data)
    if "\x00" in text:
        return _reject(result, "not_text", None, "the file is not text (it contains NUL bytes)")
    lines = _split_lines(text)
    if not lines or not lines[0].strip():
        if undecodable and undecodable[0][0] == 1:
            return _reject(result, "bad_encoding", None, "the header line is neither UTF-8 nor GB18030")
        return _reject(result, "empty_file", None, "the file is empty: no header line")
    result.header_line = lines[0]
    try:
        header = next(csv.reader([lines[0]], strict=True))
    except csv.Error as exc:
        return _reject(result, "bad_header", None, f"the header line cannot be read: {exc}", lines=lines)
    mapped, result.unknown_columns, missing = map_header(feed, header)
    if result.unknown_columns:
        result.messages.append(f"unknown columns ignored: {', '.join(result.unknown_columns)}")
    if missing:
        return _reject(
            result,
            "missing_column",
            missing[0],
            f"required column {', '.join(missing)} missing from the header",
            lines=lines,
        )

    bad_lines = [number for number, _ in undecodable]
    for number, raw in undecodable:
        result.problems.append(
            Problem(
                number,
                None,
                "bad_encoding",
                f"line {number}: bytes that are neither {result.encoding.removesuffix('-mixed')} "
                "nor another supported encoding",
                {"_bytes": raw.hex()},
            )
        )
    if '"' in text:
        records, quote_problems, count = _records_quoted(lines, len(mapped))
        result.problems.extend(quote_problems)
        result.rows, shape_problems = _frame_from_records(feed, records, mapped)
    else:
        result.rows, shape_problems, count = _rows_unquoted(feed, lines, mapped)
    result.problems.extend(shape_problems)
    result.data_rows = count + len(bad_lines)
    return result


def _reject(result: RawFile, reason: str, column: str | None, message: str, lines: list[str] | None = None) -> RawFile:
    result.rejected_reason = reason
    result.rejected_column = column
    result.messages.append(message)
    if lines is not None:
        result.rejected_lines = [(number, line) for number, line in enumerate(lines[1:], start=2) if line.strip()]
        result.data_rows = len(result.rejected_lines)
    result.rows = _complete(FEEDS[result.feed], pl.DataFrame({LINE: []}, schema={LINE: pl.Int64}))
    return result


# --- XLSX ------------------------------------------------------------------------------------


def read_xlsx_bytes(feed_name: str, data: bytes) -> RawFile:
    """The first worksheet; date cells become ISO text, numbers their shortest text (13812345678)."""
    import fastexcel

    feed = FEEDS[feed_name]
    result = RawFile(feed=feed_name, encoding="xlsx")
    try:
        reader = fastexcel.read_excel(data)
        sheet = reader.load_sheet(0, header_row=None, dtypes="string")
        grid = sheet.to_polars()
    except Exception as exc:  # the library raises its own error types for corrupt workbooks
        return _reject(result, "bad_workbook", None, f"the workbook cannot be read: {type(exc).__name__}: {exc}")
    if grid.height == 0:
        return _reject(result, "empty_file", None, "the first worksheet is empty")
    header = ["" if v is None else str(v) for v in grid.row(0)]
    result.header_line = ",".join(header)
    mapped, result.unknown_columns, missing = map_header(feed, header)
    if result.unknown_columns:
        result.messages.append(f"unknown columns ignored: {', '.join(result.unknown_columns)}")
    body = grid.slice(1).with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    cells = [c for c in body.columns if c != LINE]
    body = body.filter(~pl.all_horizontal(pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in cells))
    if missing:
        result.rejected_lines = [
            (line, ",".join("" if v is None else str(v) for v in cells))
            for line, *cells in body.select(LINE, *cells).iter_rows()
        ]
        result.data_rows = body.height
        return _reject(
            result,
            "missing_column",
            missing[0],
            f"required column {', '.join(missing)} missing from the header",
        )
    result.data_rows = body.height
    renames = {cells[i]: name for i, name in enumerate(mapped) if name is not None and i < len(cells)}
    rows = body.select([pl.col(LINE), *[pl.col(src).alias(dst) for src, dst in renames.items()]])
    rows = rows.with_columns(
        # fastexcel renders date cells as "YYYY-MM-DD 00:00:00"; a plain date reads better.
        pl.col(c).str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "$1")
        for c in renames.values()
    )
    result.rows = _complete(feed, rows)
    return result


def read_file_bytes(feed_name: str, filename: str, data: bytes) -> RawFile:
    """Read by content, not by name: a workbook renamed to ``.csv`` is still read as a workbook."""
    if data.startswith(ZIP_MAGIC):
        result = read_xlsx_bytes(feed_name, data)
        if filename.lower().endswith(".csv"):
            result.messages.append("the file is an Excel workbook despite its .csv name; read as .xlsx")
        return result
    if filename.lower().endswith(".xlsx"):
        result = RawFile(feed=feed_name)
        return _reject(result, "bad_workbook", None, "the .xlsx file is not an Excel workbook")
    return read_csv_bytes(feed_name, data)


__all__ = ["LINE", "Problem", "RawFile", "decode", "io", "map_header", "read_file_bytes"]
