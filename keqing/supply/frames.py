"""Small Polars helpers shared by the supply modules: day numbers, runs in sorted frames, id keys.

Sorting, grouping and joining on string ids is the slow part of ten-million-row frames, so the hot
paths work on u64 keys: ``Expr.hash(seed)`` of the id, with a seed checked to give every distinct
id its own key (a collision would merge two patients; the check makes that impossible, not just
unlikely).
"""

from __future__ import annotations

import polars as pl


def day_number(expr: pl.Expr) -> pl.Expr:
    """A date as days since 1970-01-01 (Int32), the unit of the hot paths."""
    return expr.cast(pl.Int32)


def as_date(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.Int32).cast(pl.Date)


def position_in_runs(*keys: str) -> pl.Expr:
    """0, 1, 2, ... within each run of equal ``keys`` in a sorted frame (nulls equal); no hashing."""
    idx = pl.int_range(pl.len(), dtype=pl.Int64)
    new = idx == 0
    for key in keys:
        new = new | pl.col(key).ne_missing(pl.col(key).shift(1))
    return idx - pl.when(new).then(idx).forward_fill()


def injective_seed(ids: pl.Series) -> int:
    """A seed under which ``ids.hash(seed)`` differs for every distinct id in ``ids``.

    ``ids`` should be distinct already (a primary key); duplicates are removed first otherwise.
    """
    if ids.len() == 0:
        return 1
    for attempt in range(2):
        values = ids if attempt == 0 else ids.unique()
        for seed in range(1, 9):
            if values.hash(seed).n_unique() == values.len():
                return seed
    raise ValueError("no hash seed separates these ids")  # never in practice: 8 independent 64-bit hashes


def key(column: str, seed: int) -> pl.Expr:
    """The u64 key of an id column under ``seed`` (see ``injective_seed``)."""
    return pl.col(column).hash(seed)
