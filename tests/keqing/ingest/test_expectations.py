"""The patch of Great Expectations' private fingerprint threshold (keqing/ingest/expectations.py)
still works: these fail on the Great Expectations release that renames or stops reading it."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from great_expectations.execution_engine import pandas_execution_engine

from keqing.ingest import expectations
from tests.keqing.ingest.test_checks import _typed


def _purchases() -> pl.DataFrame:
    return _typed(
        "purchases",
        [{"purchase_id": "A", "patient_id": "P1", "product_code": "PR", "boxes": "3", "purchase_date": "2026-11-01"}],
    )


def test_the_private_threshold_is_still_there_and_read_where_batches_are_fingerprinted():
    import inspect

    assert isinstance(pandas_execution_engine.HASH_THRESHOLD, int | float)
    source = inspect.getsource(pandas_execution_engine.PandasExecutionEngine.get_batch_data_and_markers)
    assert "< HASH_THRESHOLD" in source and "hash_pandas_dataframe(" in source


def test_a_validation_fingerprints_no_batch(monkeypatch: pytest.MonkeyPatch):
    expectations._context()
    assert pandas_execution_engine.HASH_THRESHOLD == 0
    calls: list[int] = []
    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", lambda df: calls.append(len(df)) or "x")
    bad = expectations.validate("purchases", _purchases(), dt.date(2020, 1, 1), dt.date(2027, 1, 1))
    assert bad.height == 0
    assert calls == []
    # The same validation with the threshold as Great Expectations ships it does fingerprint: the
    # check above would notice a release that fingerprints by other means.
    monkeypatch.setattr(pandas_execution_engine, "HASH_THRESHOLD", 1e9)
    expectations.validate("purchases", _purchases(), dt.date(2020, 1, 1), dt.date(2027, 1, 1))
    assert calls == [1]
