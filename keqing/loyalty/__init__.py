"""Loyalty points (积分) and third-terminal care: the ledger, quarter close and rewards, reorder reminders.

Pure Polars functions; the database side is in ``tasks/loyalty.py``.
"""
