"""Same seed and arguments give byte-identical files (CSV and Excel); another seed gives others."""

from __future__ import annotations

from pathlib import Path

from keqing.generate import generate


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_including_excel(tiny, tmp_path: Path):
    first, _ = tiny
    generate("tiny", tmp_path)
    a, b = _files(first), _files(tmp_path)
    assert any(name.endswith(".xlsx") for name in a), "tiny should include Excel files"
    assert a.keys() == b.keys()
    different = [name for name in a if a[name] != b[name]]
    assert different == []


def test_another_seed_differs(tmp_path: Path):
    generate("tiny", tmp_path / "one", seed=1, days=3)
    generate("tiny", tmp_path / "two", seed=2, days=3)
    one, two = _files(tmp_path / "one"), _files(tmp_path / "two")
    assert one["2026-10-01/patients.csv"] != two["2026-10-01/patients.csv"]
