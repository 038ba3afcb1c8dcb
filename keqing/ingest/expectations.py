"""Great Expectations 1.x suites, built in code from the feed spec, and the failing rows they find.

One suite per feed: required columns not null, enum value sets, numeric ranges (within what the
schema stores), plausible dates, phone/e-mail/product-code regexes, and the feed's key unique within
each file. Text lengths are checked before, in the normaliser, so a 50 MB cell never reaches the
suite. Great Expectations has no Polars data source, so the typed rows go in as pandas. It is
imported only here (it takes seconds to import).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import polars as pl

from keqing.feeds import FEEDS, Feed, Kind
from keqing.ingest.normalise import CODES_PATTERN, EMAIL_PATTERN, PHONE_PATTERN, ROW

FILE = "_file_id"


@dataclass(frozen=True)
class Check:
    """One expectation and the reason code its failing rows get."""

    expectation: str
    column: str | None
    reason: str
    kwargs: tuple[tuple[str, Any], ...]


def checks_for(feed: Feed, earliest: dt.date, latest: dt.date) -> list[Check]:
    """The expectations of a feed, in the order their reasons are reported."""
    checks: list[Check] = []
    for c in feed.columns:
        if c.required:
            checks.append(Check("ExpectColumnValuesToNotBeNull", c.name, "missing_value", (("column", c.name),)))
    for c in feed.columns:
        base = (("column", c.name),)
        if c.kind is Kind.ENUM and c.values:
            checks.append(
                Check(
                    "ExpectColumnValuesToBeInSet",
                    c.name,
                    "bad_value",
                    (*base, ("value_set", tuple(c.values))),
                )
            )
        elif c.kind in (Kind.INT, Kind.DECIMAL):
            checks.append(
                Check(
                    "ExpectColumnValuesToBeBetween",
                    c.name,
                    "out_of_range",
                    (
                        *base,
                        ("min_value", c.minimum),
                        ("max_value", c.upper),
                        ("strict_min", c.exclusive_minimum),
                    ),
                )
            )
        elif c.kind in (Kind.DATE, Kind.DATETIME, Kind.MONTH):
            checks.append(
                Check(
                    "ExpectColumnValuesToBeBetween",
                    c.name,
                    "implausible_date",
                    (*base, ("min_value", earliest), ("max_value", latest)),
                )
            )
        elif c.kind is Kind.PHONE:
            checks.append(
                Check("ExpectColumnValuesToMatchRegex", c.name, "bad_phone", (*base, ("regex", PHONE_PATTERN)))
            )
        elif c.kind is Kind.EMAIL:
            checks.append(
                Check("ExpectColumnValuesToMatchRegex", c.name, "bad_email", (*base, ("regex", EMAIL_PATTERN)))
            )
        elif c.kind is Kind.CODES:
            checks.append(
                Check("ExpectColumnValuesToMatchRegex", c.name, "bad_codes", (*base, ("regex", CODES_PATTERN)))
            )
    key_column = feed.key[0] if len(feed.key) == 1 else ",".join(feed.key)
    checks.append(
        Check(
            "ExpectCompoundColumnsToBeUnique",
            key_column,
            "duplicate_id",
            (("column_list", (FILE, *feed.key)),),
        )
    )
    return checks


_CONTEXT_LOCK = threading.Lock()


def warm_up() -> threading.Thread:
    """Import Great Expectations and build its context in a background thread, and return the thread.

    The import alone takes seconds; started when a run begins, it overlaps discovery and reading
    (which mostly wait on disk or run in Polars' threads) instead of coming after them.
    """
    thread = threading.Thread(target=_context, name="gx-warm-up", daemon=True)
    thread.start()
    return thread


def _context() -> Any:
    with _CONTEXT_LOCK:  # the warm-up thread and the first validation may both ask for it
        return _new_context()


@lru_cache(maxsize=1)
def _new_context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # Great Expectations fingerprints every pandas batch (an md5 over pandas' hash of every row) for
    # its batch markers, which keqing never reads: half of the validation time on a night's rows.
    # Frames at or above this size are not fingerprinted; 0 means none is. A private attribute:
    # tests/keqing/ingest/test_expectations.py fails on the Great Expectations release that drops it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    return context


def _validation(feed: Feed, checks: list[Check], tag: str) -> Any:
    """A validation definition for the feed (created once per process and date range)."""
    return validation_definition(f"{feed.name}_{tag}", [(c.expectation, _gx_kwargs(c)) for c in checks])


def _gx_kwargs(check: Check) -> dict[str, Any]:
    kwargs = {k: (list(v) if isinstance(v, tuple) else _gx_value(v)) for k, v in check.kwargs}
    return {k: v for k, v in kwargs.items() if v is not None}


def validation_definition(name: str, expectations: list[tuple[str, dict[str, Any]]]) -> Any:
    """A validation definition over a whole pandas dataframe with these (expectation class, arguments),
    created once per process and ``name`` (one per feed and date range)."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _context()
    try:
        return context.validation_definitions.get(name)
    except Exception:
        pass
    try:
        source = context.data_sources.get("keqing")
    except Exception:
        source = context.data_sources.add_pandas("keqing")
    batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("whole")
    suite = gx.ExpectationSuite(name=name)
    for expectation, kwargs in expectations:
        suite.add_expectation(getattr(gxe, expectation)(**kwargs))
    suite = context.suites.add(suite)
    return context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch, suite=suite))


def failing_keys(definition: Any, frame: pl.DataFrame, key: str) -> dict[tuple[str, str], list[Any]]:
    """Run ``definition`` on ``frame``: for each failed expectation (its ``result_key``), the ``key`` values of
    its failing rows. An expectation that could not run raises."""
    result = definition.run(
        batch_parameters={"dataframe": frame.to_pandas()},
        result_format={
            "result_format": "COMPLETE",
            "unexpected_index_column_names": [key],
            "return_unexpected_index_query": False,
        },
    )
    failed: dict[tuple[str, str], list[Any]] = {}
    for outcome in result.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"expectation {config.type} on {result_key(config.type, config.kwargs)[1]} could not run: "
                f"{outcome.exception_info.get('exception_message')}"
            )
        rows = outcome.result.get("unexpected_index_list") or []
        failed[result_key(config.type, config.kwargs)] = [row[key] for row in rows]
    return failed


def result_key(expectation: str, kwargs: dict[str, Any]) -> tuple[str, str]:
    """(snake_case expectation type, its column or column list), to match results to checks."""
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", expectation).lower()
    columns = kwargs.get("column") or kwargs.get("column_A") or ",".join(kwargs.get("column_list") or ())
    return snake, str(columns)


def _gx_value(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        import pandas as pd

        return pd.Timestamp(value)
    return value


def validate(feed_name: str, typed: pl.DataFrame, earliest: dt.date, latest: dt.date) -> pl.DataFrame:
    """Rows of ``typed`` that fail the feed's suite: a frame of ``_row``, ``column``, ``reason``.

    ``typed`` carries ``_row`` (unique) and ``_file_id`` besides the feed's columns.
    """
    feed = FEEDS[feed_name]
    schema = {
        ROW: typed.schema[ROW] if ROW in typed.columns else pl.UInt32,
        "column": pl.String,
        "reason": pl.String,
    }
    if typed.height == 0:
        return pl.DataFrame(schema=schema)
    checks = checks_for(feed, earliest, latest)
    definition = _validation(feed, checks, f"{earliest:%Y%m%d}_{latest:%Y%m%d}")
    columns = [ROW, FILE, *(c.name for c in feed.columns)]
    # Nanosecond datetimes: Great Expectations vectorises range checks only for datetime64[ns]
    # (for other units it falls back to a Python call per value).
    frame = typed.select(
        pl.col(c).cast(pl.Datetime("ns"))
        if typed.schema[c] in (pl.Date, pl.Datetime) or isinstance(typed.schema[c], pl.Datetime)
        else pl.col(c)
        for c in columns
    )
    by_key = {result_key(check.expectation, dict(check.kwargs)): check for check in checks}
    failures = [
        pl.DataFrame({ROW: rows, "column": by_key[k].column, "reason": by_key[k].reason})
        for k, rows in failing_keys(definition, frame, ROW).items()
        if rows
    ]
    if not failures:
        return pl.DataFrame(schema=schema)
    return pl.concat(failures).cast(schema)
