"""Generated data sets shared by the generator tests (each made once per test session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from keqing.generate import GenerateSummary, generate


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    """Tiny with the default share of dirty rows."""
    out = tmp_path_factory.mktemp("tiny")
    return out, generate("tiny", out)


@pytest.fixture(scope="session")
def small_clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("small-clean")
    return out, generate("small", out, dirty=0)


@pytest.fixture(scope="session")
def small_dirty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("small-dirty")
    return out, generate("small", out)
