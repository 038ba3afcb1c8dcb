"""Discovery on SQLite and PostgreSQL: new feed files in load order, the rest named, nothing twice."""

from __future__ import annotations

import datetime as dt

import polars as pl

from tasks.ingest.discover import discover_inbox
from tests.helpers import OFFICES, PRODUCTS, table, write

RUN = dt.date(2026, 11, 2)
PURCHASES = "purchase_id,patient_id,product_code,boxes,purchase_date\nPU1,P0001,PR01,3,2026-10-01\n"


def test_new_files_come_in_load_order_and_others_are_named_not_read(settings):
    write(settings, "2026-11-01/purchases.csv", PURCHASES)
    write(settings, "2026-11-01/products.csv", PRODUCTS)
    write(settings, "2026-11-01/offices.csv", OFFICES)
    write(settings, "2026-11-01/notes.txt", "not a feed")
    write(settings, "2026-11-01/~$purchases.xlsx", b"an Excel lock file")
    write(settings, "2026-11-01/.hidden.csv", "x")
    found = discover_inbox.fn(settings, RUN)
    assert [(f.path, f.feed) for f in found.files] == [
        ("2026-11-01/offices.csv", "offices"),  # master data first
        ("2026-11-01/products.csv", "products"),
        ("2026-11-01/purchases.csv", "purchases"),
    ]
    assert found.ignored == ["2026-11-01/notes.txt"]
    registered = table(settings, "ingest_files", order_by="id")
    assert registered.select("path", "status").rows() == [(f.path, "pending") for f in found.files]

    # Not loaded yet (still pending): found again under the same id, not registered twice.
    again = discover_inbox.fn(settings, RUN)
    assert [f.id for f in again.files] == [f.id for f in found.files]
    assert table(settings, "ingest_files").height == 3


def test_the_same_bytes_under_another_name_are_found_once(settings):
    write(settings, "2026-11-01/purchases.csv", PURCHASES)
    write(settings, "2026-11-02/purchases_resent.csv", PURCHASES)
    found = discover_inbox.fn(settings, RUN)
    assert [f.path for f in found.files] == ["2026-11-01/purchases.csv"]
    assert found.same_bytes == [("2026-11-02/purchases_resent.csv", "2026-11-01/purchases.csv")]
    assert table(settings, "ingest_files").select(pl.len()).item() == 1
