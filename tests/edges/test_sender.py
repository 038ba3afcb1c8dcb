"""The retrying sender over a fake outbox and a scripted transport: rounds, backoff, what is retried."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest

from edges.sender import backoff, deliver
from edges.transport import OutboxItem, Outcome

DAY = dt.date(2026, 11, 24)


class FakeStore:
    """The outbox's statuses in a dict, with the claim/record protocol of the real one."""

    def __init__(self, ids: Sequence[int]) -> None:
        self.status = dict.fromkeys(ids, "pending")
        self.attempts = dict.fromkeys(ids, 0)
        self.errors: dict[int, str | None] = {}

    def load(self, ids: Sequence[int]) -> list[OutboxItem]:
        return [OutboxItem(i, DAY, f"S{i:03d}", "rep", f"s{i}@example.com", b"msg") for i in ids]

    def claim(self, row_id: int, transport: str) -> bool:
        if self.status[row_id] != "pending":
            return False
        self.status[row_id] = "sending"
        self.attempts[row_id] += 1
        return True

    def record(self, row_id: int, outcome: Outcome) -> None:
        assert self.status[row_id] == "sending"
        self.status[row_id] = {"retry": "pending"}.get(outcome.status, outcome.status)
        self.errors[row_id] = outcome.detail

    def claim_many(self, row_ids: Sequence[int], transport: str) -> set[int]:
        return {i for i in row_ids if self.claim(i, transport)}

    def record_many(self, outcomes: dict[int, Outcome]) -> None:
        for row_id, outcome in outcomes.items():
            self.record(row_id, outcome)


class ScriptedTransport:
    """Answers each row from a script (one outcome per attempt), else 'sent'."""

    def __init__(self, script: dict[int, list[Outcome]], name: str = "smtp", batched: bool = False) -> None:
        self.script = {k: list(v) for k, v in script.items()}
        self.name = name
        self.batched = batched
        self.connections = 1
        self.sent: list[int] = []
        self.flushes = 0
        self.closed = False

    def send(self, item: OutboxItem) -> Outcome:
        answers = self.script.get(item.id)
        outcome = answers.pop(0) if answers else Outcome("sent", "250 OK")
        if outcome.status == "sent":
            self.sent.append(item.id)
        return outcome

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.closed = True


RETRY = Outcome("retry", "451 4.3.0 try later")
FAILED = Outcome("failed", "550 5.1.1 no such user")
UNKNOWN = Outcome("unknown", "no answer after the message data: TimeoutError")
DOWN = Outcome("retry", "connection failed: ConnectionRefusedError", connection=True)


def run(store: FakeStore, transport: ScriptedTransport, ids: Sequence[int], max_attempts: int = 4):
    sleeps: list[float] = []
    report = deliver(
        ids, store, transport, max_attempts=max_attempts, first_delay=2, max_delay=5, batch=2, sleep=sleeps.append
    )
    return report, sleeps


def test_451_twice_then_ok_is_sent_once_after_three_attempts():
    store = FakeStore([1, 2, 3])
    transport = ScriptedTransport({2: [RETRY, RETRY]})
    report, sleeps = run(store, transport, [1, 2, 3])
    assert transport.sent == [1, 3, 2]
    assert store.status == {1: "sent", 2: "sent", 3: "sent"}
    assert store.attempts == {1: 1, 2: 3, 3: 1}
    assert (report.sent, report.failed, report.unknown, report.deferred, report.attempts, report.rounds) == (
        3,
        0,
        0,
        0,
        5,
        3,
    )
    assert sleeps == [2, 4]
    assert transport.closed


def test_5xx_is_failed_and_unknown_is_kept_neither_is_retried():
    store = FakeStore([1, 2, 3])
    report, sleeps = run(store, ScriptedTransport({1: [FAILED], 2: [UNKNOWN]}), [1, 2, 3])
    assert store.status == {1: "failed", 2: "unknown", 3: "sent"}
    assert store.attempts == {1: 1, 2: 1, 3: 1}
    assert store.errors[1] == "550 5.1.1 no such user"
    assert (report.sent, report.failed, report.unknown, report.rounds) == (1, 1, 1, 1)
    assert sleeps == []
    assert report.errors == ["550 5.1.1 no such user", "no answer after the message data: TimeoutError"]


def test_retries_are_bounded_and_what_is_left_stays_pending_as_deferred():
    store = FakeStore([1, 2])
    report, sleeps = run(store, ScriptedTransport({1: [RETRY] * 10}), [1, 2], max_attempts=3)
    assert store.status == {1: "pending", 2: "sent"}
    assert store.attempts[1] == 3
    assert store.errors[1] == "451 4.3.0 try later"
    assert (report.sent, report.deferred, report.rounds) == (1, 1, 3)
    assert sleeps == [2, 4]


def test_a_connection_failure_stops_the_round_so_a_dead_server_costs_one_try_per_round():
    store = FakeStore([1, 2, 3, 4, 5])
    transport = ScriptedTransport({1: [DOWN, DOWN]})
    report, sleeps = run(store, transport, [1, 2, 3, 4, 5])
    # Round 1 and 2 stop at row 1; round 3 sends everything.
    assert store.attempts == {1: 3, 2: 1, 3: 1, 4: 1, 5: 1}
    assert transport.sent == [1, 2, 3, 4, 5]
    assert (report.attempts, report.rounds, report.deferred) == (7, 3, 0)
    assert sleeps == [2, 4]


def test_a_refused_login_fails_no_message_and_stops_the_run():
    store = FakeStore([1, 2, 3])
    refused = Outcome("failed", "connecting: 535 5.7.8 authentication failed", connection=True)
    report, sleeps = run(store, ScriptedTransport({1: [refused]}), [1, 2, 3])
    assert store.status == {1: "pending", 2: "pending", 3: "pending"}
    assert store.attempts == {1: 1, 2: 0, 3: 0}
    assert store.errors[1] == "connecting: 535 5.7.8 authentication failed"
    assert (report.failed, report.deferred, report.rounds) == (0, 3, 1)
    assert sleeps == []


def test_rows_no_longer_pending_are_skipped():
    store = FakeStore([1, 2])
    store.status[1] = "sent"  # sent by another sender in the meantime
    transport = ScriptedTransport({})
    report, _ = run(store, transport, [1, 2])
    assert transport.sent == [2]
    assert (report.sent, report.attempts) == (1, 1)


def test_a_batched_transport_is_claimed_and_recorded_per_batch_after_a_flush():
    store = FakeStore([1, 2, 3])
    transport = ScriptedTransport({}, name="file", batched=True)
    report, _ = run(store, transport, [1, 2, 3])
    assert store.status == {1: "sent", 2: "sent", 3: "sent"}
    assert (report.written, report.sent, transport.flushes) == (3, 0, 2)  # batches of 2


@pytest.mark.parametrize(("round_number", "seconds"), [(1, 2), (2, 4), (3, 5), (10, 5)])
def test_backoff_doubles_and_is_capped(round_number, seconds):
    assert backoff(round_number, first=2, maximum=5) == seconds
