"""A night that delivers no email fails: there were emails to deliver and not one was sent or written."""

from __future__ import annotations

import datetime as dt

import pytest

from tasks.deliver import DeliveryFailed, check_delivered, delivery_failure

DAY = dt.date(2026, 11, 24)


def test_every_email_deferred_by_the_file_outbox_fails_with_the_first_error_and_how_to_recover():
    deliver = {"transport": "file", "written": 0, "deferred": 17, "first_error": "cannot write /x/2026-11-24/a.eml"}
    assert delivery_failure(deliver, DAY) == (
        "no email could be written to the outbox folder: 17 email(s) not delivered (first error: cannot write "
        "/x/2026-11-24/a.eml). They stay in the outbox; fix the cause and rerun `keqing run --date 2026-11-24`, "
        "which delivers each of them once."
    )
    with pytest.raises(DeliveryFailed, match="17 email"):
        check_delivered.fn(deliver, DAY)


def test_smtp_refusing_every_message_fails():
    deliver = {"transport": "smtp", "sent": 0, "failed": 2, "unknown": 1, "deferred": 1, "first_error": "550 no"}
    assert delivery_failure(deliver, DAY).startswith("no email could be sent over SMTP: 4 email(s) not delivered")


@pytest.mark.parametrize(
    "deliver",
    [
        {"transport": "smtp", "sent": 1, "deferred": 16},  # some got through: the email section tells ops
        {"transport": "file", "written": 17},
        {"transport": "file", "written": 0, "deferred": 0},  # nothing to deliver (a rerun, or no recipient)
        {},
    ],
)
def test_a_night_that_delivered_something_or_had_nothing_to_deliver_does_not_fail(deliver):
    assert delivery_failure(deliver, DAY) is None
    check_delivered.fn(deliver, DAY)
