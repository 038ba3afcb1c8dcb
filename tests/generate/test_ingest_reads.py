"""Generated files through the project's own reader and normaliser: every file reads, and exactly the
rows the manifest calls unparseable fail (the alternative date, phone and boolean forms all parse)."""

from __future__ import annotations

from keqing.ingest.normalise import normalise
from keqing.ingest.reader import read_file_bytes
from tests.generate.reading import manifest

UNPARSEABLE = {"date_invalid", "phone_lost_digits"}


def test_reader_reads_every_file_and_only_unparseable_rows_fail(tiny):
    out, _ = tiny
    info = manifest(out)
    failed = set()
    for entry in info["files"]:
        raw = read_file_bytes(entry["feed"], entry["path"].rsplit("/", 1)[1], (out / entry["path"]).read_bytes())
        assert raw.rejected_reason is None, entry["path"]
        assert raw.rows_read == entry["rows"] and not raw.problems, entry["path"]
        assert raw.unknown_columns == entry["extra_columns"]
        typed, errors = normalise(entry["feed"], raw.rows)
        lines = typed.join(errors, on="_row")["_line"].to_list()
        failed |= {(entry["path"], line) for line in lines}
    expected = {(r["file"], r["line"]) for r in info["dirty"]["row_list"] if r["kind"] in UNPARSEABLE}
    assert expected and failed == expected
