"""The kinds of email keqing sends (contract section 5): one a staff role, the ops summary, and the
two ops alerts that Prefect automations start (flows/alert.py)."""

from __future__ import annotations

STAFF_KINDS: tuple[str, ...] = ("rep", "callback", "home_visit", "manager")  # a staff member's morning list
ALERT_KINDS: tuple[str, ...] = ("alert_failed", "alert_late")  # a nightly run failed / not completed in time
EMAIL_KINDS: tuple[str, ...] = (*STAFF_KINDS, "ops", *ALERT_KINDS)  # every kind of the outbox
