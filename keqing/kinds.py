"""The kinds of email keqing sends (contract section 5): one a staff role, plus the ops summary."""

from __future__ import annotations

STAFF_KINDS: tuple[str, ...] = ("rep", "callback", "home_visit", "manager")  # a staff member's morning list
EMAIL_KINDS: tuple[str, ...] = (*STAFF_KINDS, "ops")  # every kind of the outbox
