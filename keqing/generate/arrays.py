"""Vectorised helpers over numpy arrays and polars series: codes to labels, weighted draws, fast
sorting by packed int64 keys, ranks within groups, random picks within groups."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


def strs(values: np.ndarray) -> pl.Series:
    """A string series from a numpy array (object arrays may hold None for null)."""
    return pl.Series(values.tolist() if values.dtype == object else values, dtype=pl.String)


def pick_or_null(values: pl.Series, index: np.ndarray) -> pl.Series:
    """``values[index]``, null where ``index`` is -1."""
    padded = values.extend_constant(None, 1)
    return padded.gather(np.where(index >= 0, index, len(values)))


def ids(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    """String ids with leading zeros, e.g. ``ids("P", [123], 7)`` -> ``P0000123``."""
    digits = pl.Series(numbers, dtype=pl.Int64).cast(pl.String).str.zfill(width)
    return (prefix + digits) if prefix else digits


def split_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainders)."""
    raw = total * weights / weights.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - out.sum()
    out[np.argsort(-(raw - out), kind="stable")[:rest]] += 1
    return out


def pick_within(r: np.random.Generator, group_of_item: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """For each entry of ``groups``, a random item whose group equals it (-1 when the group is empty).

    ``group_of_item`` lists the group of each item; items are chosen uniformly within a group.
    """
    order = np.argsort(group_of_item, kind="stable")
    sorted_groups = group_of_item[order]
    lo = np.searchsorted(sorted_groups, groups, side="left")
    hi = np.searchsorted(sorted_groups, groups, side="right")
    count = hi - lo
    pos = lo + np.floor(r.random(len(groups)) * np.maximum(count, 1)).astype(np.int64)
    return np.where(count > 0, order[np.minimum(pos, len(order) - 1)], -1)


def labels(options: Sequence[str | None], codes: np.ndarray) -> pl.Series:
    """Values from integer codes into ``options`` (None gives null), as a compact enum column."""
    categories = pl.Enum(list(dict.fromkeys(o for o in options if o is not None)))
    return pl.Series(list(options), dtype=categories).gather(codes)


def draw(r: np.random.Generator, p: Sequence[float], n: int) -> np.ndarray:
    """``n`` codes drawn with the (unnormalised) probabilities ``p``."""
    cdf = np.cumsum(np.asarray(p, dtype=float))
    u = r.random(n) * cdf[-1]
    codes = np.zeros(n, dtype=np.int8 if len(cdf) < 127 else np.int64)
    for edge in cdf[:-1]:
        codes += u >= edge
    return codes


def sort_order(*columns: np.ndarray) -> np.ndarray:
    """The permutation that sorts rows by ``columns`` (first most significant), ties by position.

    Packs the non-negative integer columns and the row number into one int64 and sorts that, which
    is much faster than ``np.lexsort`` on millions of rows; falls back to it when the bits run out.
    """
    n = len(columns[0])
    index_bits = max(1, (n - 1).bit_length())
    key = np.zeros(n, dtype=np.int64)
    bits = 0
    for column in columns:
        c = np.asarray(column, dtype=np.int64)
        width = max(1, int(c.max(initial=0)).bit_length())
        key = (key << width) | c
        bits += width
    if bits + index_bits > 62:
        return np.lexsort(columns[::-1])
    return np.sort((key << index_bits) | np.arange(n)) & ((1 << index_bits) - 1)


def group_rank(groups: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of equal values (``groups`` sorted)."""
    n = len(groups)
    idx = np.arange(n)
    new = np.ones(n, dtype=bool)
    new[1:] = groups[1:] != groups[:-1]
    return idx - np.maximum.accumulate(np.where(new, idx, 0))


def distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values (``np.unique`` without its slow hash path)."""
    s = np.sort(keys)
    keep = np.ones(len(s), dtype=bool)
    keep[1:] = s[1:] != s[:-1]
    return s[keep]


class Shuffle:
    """Encodes (group, item) pairs as int64 keys that sort the items of a group in random order.

    The order is a random permutation of the items rotated by the group, so it differs between
    groups; ``decode`` gives the pairs back.
    """

    def __init__(self, r: np.random.Generator, n_items: int) -> None:
        self.perm = r.permutation(n_items).astype(np.int64)
        self.inverse = np.argsort(self.perm)
        self.m = np.int64(n_items)

    def encode(self, group: np.ndarray, item: np.ndarray) -> np.ndarray:
        g = group.astype(np.int64)
        return g * self.m + (self.perm[item] + (g * 7919) % self.m) % self.m

    def decode(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = keys // self.m
        return g, self.inverse[(keys % self.m - (g * 7919) % self.m) % self.m]
