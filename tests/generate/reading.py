"""Reading generated files back for the tests: any encoding, header language, column order, format."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import openpyxl
import polars as pl

from keqing.feeds import FEEDS

BOM = b"\xef\xbb\xbf"


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def decode(raw: bytes) -> tuple[str, str]:
    """The text of a CSV file and its encoding (UTF-8 with or without BOM, else GB18030)."""
    if raw.startswith(BOM):
        return raw[len(BOM) :].decode("utf-8"), "utf-8-sig"
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("gb18030"), "gb18030"


def _cell(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != datetime.min.time() else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_raw(path: Path) -> pl.DataFrame:
    """A file as strings, with its own headers."""
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        header = [str(h) for h in rows[0]]
        data = [[_cell(v) for v in row] for row in rows[1:]]
        return pl.DataFrame(data, schema=dict.fromkeys(header, pl.String), orient="row")
    text, _ = decode(path.read_bytes())
    return pl.read_csv(text.encode("utf-8"), infer_schema=False)


def read_feed(path: Path, feed: str) -> tuple[pl.DataFrame, list[str]]:
    """A file of ``feed`` with canonical column names, and its unknown columns (dropped)."""
    raw = read_raw(path)
    names = {c.chinese: c.name for c in FEEDS[feed].columns} | {c.name: c.name for c in FEEDS[feed].columns}
    unknown = [c for c in raw.columns if c not in names]
    frame = raw.drop(unknown).rename({c: names[c] for c in raw.columns if c in names})
    missing = [c for c in FEEDS[feed].column_names if c not in frame.columns]
    assert not missing, f"{path}: missing {missing}"
    return frame.select(FEEDS[feed].column_names), unknown


def load_feed(out: Path, feed: str) -> pl.DataFrame:
    """Every file of ``feed`` in the output, concatenated, with ``_file`` and ``_folder``."""
    frames = []
    for entry in manifest(out)["files"]:
        if entry["feed"] == feed:
            frame, _ = read_feed(out / entry["path"], feed)
            folder = entry["path"].split("/")[0]
            frames.append(frame.with_columns(_file=pl.lit(entry["path"]), _folder=pl.lit(folder)))
    return pl.concat(frames) if frames else pl.DataFrame(schema=dict.fromkeys(FEEDS[feed].column_names, pl.String))
