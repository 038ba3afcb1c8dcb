"""VIP terminals: the top 20% by net order amount over the last 12 months within each office."""

from __future__ import annotations

import datetime as dt

from keqing.grading.grades import vip_terminals
from keqing.rules import Rules, rules_from_mapping
from tests.keqing.grading.frames import customer, customers, orders

RUN = dt.date(2026, 11, 21)  # cutoff 2026-11-20; window 2025-11-21 .. 2026-11-20
IN_WINDOW = dt.date(2026, 6, 1)


def terminal(customer_id: str, office: str) -> dict:
    return customer(customer_id, kind="terminal", institution=f"诊所{customer_id}", department=None, office=office)


def test_top_fifth_of_each_office_by_net_amount_in_the_window():
    cust = customers(
        *(terminal(f"A{i:02d}", "OF1") for i in range(1, 11)),  # 10 terminals -> 2 VIPs
        terminal("B1", "OF2"),
        terminal("B2", "OF2"),
        terminal("B3", "OF2"),  # 3 terminals -> ceil(0.6) = 1 VIP
        customer("D1", kind="doctor", office="OF1"),  # not a terminal
    )
    frame = orders(
        *((f"A{i:02d}", 1100.0 - 100 * i, IN_WINDOW) for i in range(1, 11)),  # A01 1000 .. A10 100
        ("A10", 5000.0, dt.date(2025, 11, 20)),  # 12 months + 1 day before the cutoff: outside
        ("A09", 5000.0, dt.date(2026, 11, 21)),  # on run_date: after the cutoff
        ("A08", 750.0, dt.date(2025, 11, 21)),  # first day of the window: 300 + 750 = 1050, now first
        ("B1", 600.0, IN_WINDOW),
        ("B1", 200.0, IN_WINDOW, "return"),  # net 400
        ("B2", 450.0, IN_WINDOW),  # net 450 -> VIP
        ("D1", 9999.0, IN_WINDOW),
    )
    result = vip_terminals(frame, cust, RUN, Rules())
    assert result.rows() == [
        ("A08", "OF1", 1050.0, 1, 10, True),
        ("A01", "OF1", 1000.0, 2, 10, True),
        ("A02", "OF1", 900.0, 3, 10, False),
        ("A03", "OF1", 800.0, 4, 10, False),
        ("A04", "OF1", 700.0, 5, 10, False),
        ("A05", "OF1", 600.0, 6, 10, False),
        ("A06", "OF1", 500.0, 7, 10, False),
        ("A07", "OF1", 400.0, 8, 10, False),
        ("A09", "OF1", 200.0, 9, 10, False),
        ("A10", "OF1", 100.0, 10, 10, False),
        ("B2", "OF2", 450.0, 1, 3, True),
        ("B1", "OF2", 400.0, 2, 3, False),
        ("B3", "OF2", 0.0, 3, 3, False),
    ]
    assert result.columns == ["customer_id", "office_code", "order_amount", "office_rank", "office_terminals", "is_vip"]


def test_ties_at_the_boundary_are_all_vip_and_no_orders_is_never_vip():
    cust = customers(*(terminal(f"C{i}", "OF3") for i in range(1, 6)), terminal("E1", "OF4"))
    frame = orders(("C1", 100.0, IN_WINDOW), ("C2", 100.0, IN_WINDOW), ("C3", 50.0, IN_WINDOW))
    result = vip_terminals(frame, cust, RUN, Rules())
    vip = result.filter("is_vip")["customer_id"].to_list()
    assert vip == ["C1", "C2"]  # 5 terminals -> 1 VIP place, shared by the tie
    assert result.filter(customer_id="E1")["is_vip"].to_list() == [False]  # alone in its office, but no orders


def test_fifteen_terminals_give_three_vips_and_the_share_is_configurable():
    cust = customers(*(terminal(f"F{i:02d}", "OF5") for i in range(1, 16)))
    frame = orders(*((f"F{i:02d}", float(100 - i), IN_WINDOW) for i in range(1, 16)))
    assert vip_terminals(frame, cust, RUN, Rules()).filter("is_vip")["customer_id"].to_list() == ["F01", "F02", "F03"]
    wider = rules_from_mapping({"grading": {"vip_share": 0.4}})
    assert vip_terminals(frame, cust, RUN, wider)["is_vip"].sum() == 6
