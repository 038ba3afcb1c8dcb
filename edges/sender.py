"""Send pending outbox rows through a transport, retrying 4xx answers and lost connections in rounds.

Round 1 sends every pending row once; rows that got a 4xx answer or lost their connection before
the message data went out are tried again in the next round, after a delay that doubles each round
(bounded by ``max_delay``), up to ``max_attempts`` rounds. A row still not through then stays
``pending`` with its last error ("deferred"): nothing is lost, the next run for the date sends it.
5xx answers are ``failed`` and ``unknown`` rows are never retried here.

When the failure is the connection itself (connect or login), the rest of the round is not tried:
they wait for the next round, so a dead server costs one timeout per round, not one per message. A
5xx answer to the connection or the login (wrong credentials) is not the message's fault: every row
stays pending and no further round is tried; the next run for the date sends them once it is fixed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from edges import failpoints
from edges.transport import OutboxItem, Outcome, Transport


class Store(Protocol):
    """The outbox as the sender sees it (``edges.outbox`` on an engine, or a fake)."""

    def load(self, ids: Sequence[int]) -> list[OutboxItem]: ...

    def claim(self, row_id: int, transport: str) -> bool: ...

    def record(self, row_id: int, outcome: Outcome) -> None: ...

    def claim_many(self, row_ids: Sequence[int], transport: str) -> set[int]: ...

    def record_many(self, outcomes: dict[int, Outcome]) -> None: ...


@dataclass
class DeliveryReport:
    sent: int = 0  # accepted by the SMTP server
    written: int = 0  # written to the file outbox
    failed: int = 0
    unknown: int = 0
    deferred: int = 0  # still pending after the last round
    attempts: int = 0
    rounds: int = 0
    connections: int = 0
    transport: str = ""
    errors: list[str] = field(default_factory=list)  # distinct error texts, for the run log

    def as_dict(self) -> dict:
        return {
            "transport": self.transport,
            "sent": self.sent,
            "written": self.written,
            "failed": self.failed,
            "unknown": self.unknown,
            "deferred": self.deferred,
            "attempts": self.attempts,
            "rounds": self.rounds,
            "connections": self.connections,
        }


def backoff(round_number: int, first: float, maximum: float) -> float:
    """Seconds to wait before round ``round_number + 1``: first, 2 x first, 4 x first, ... capped."""
    return min(maximum, first * 2 ** (round_number - 1))


def deliver(
    ids: Sequence[int],
    store: Store,
    transport: Transport,
    *,
    max_attempts: int,
    first_delay: float,
    max_delay: float,
    batch: int = 100,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryReport:
    """Send the rows ``ids`` (pending) and record each outcome; see the module docstring."""
    report = DeliveryReport(transport=transport.name)
    queue = list(ids)
    try:
        for round_number in range(1, max_attempts + 1):
            if not queue:
                break
            if round_number > 1:
                sleep(backoff(round_number - 1, first_delay, max_delay))
            report.rounds = round_number
            queue, refused = _round(queue, store, transport, report, batch)
            if refused:
                break
    finally:
        transport.close()
    report.deferred = len(queue)
    report.connections = transport.connections
    return report


def _round(
    queue: list[int], store: Store, transport: Transport, report: DeliveryReport, batch: int
) -> tuple[list[int], bool]:
    """One pass over ``queue``: the ids to try again (in queue order), and whether the server refused us."""
    again: set[int] = set()
    stop = refused = False
    for start in range(0, len(queue), batch):
        chunk = queue[start : start + batch]
        if stop:
            again.update(chunk)
            continue
        items = store.load(chunk)
        if transport.batched:
            outcomes = _send_batch(items, store, transport)
        else:
            outcomes = {}
            for item in items:
                if stop:
                    again.add(item.id)
                    continue
                if not store.claim(item.id, transport.name):
                    continue  # no longer pending: someone else has it
                outcome = transport.send(item)
                if outcome.connection and outcome.status == "failed":
                    # The server refused us (e.g. 535 to the login), not this message: it stays pending
                    # and nothing more is tried this run.
                    outcome = Outcome("retry", outcome.detail, connection=True)
                    refused = True
                outcomes[item.id] = outcome
                _sent(outcome)
                store.record(item.id, outcome)
                # Connecting or logging in failed: the same would happen to every other row now.
                stop = outcome.connection
        for row_id, outcome in outcomes.items():
            report.attempts += 1
            _count(report, transport, outcome)
            if outcome.status == "retry":
                again.add(row_id)
    return [row_id for row_id in queue if row_id in again], refused


def _send_batch(items: list[OutboxItem], store: Store, transport: Transport) -> dict[int, Outcome]:
    """For a transport where doing it twice is harmless (files): claim, write and record a batch at once.

    The outcomes are recorded only after ``flush`` made the batch durable; a crash before that leaves
    the rows ``sending``, and the next run writes them again.
    """
    claimed = store.claim_many([item.id for item in items], transport.name)
    outcomes: dict[int, Outcome] = {}
    for item in items:
        if item.id in claimed:
            outcomes[item.id] = transport.send(item)
            _sent(outcomes[item.id])
    try:
        transport.flush()
    except OSError as exc:
        outcomes = {row_id: Outcome("retry", f"flush failed: {exc}") for row_id in outcomes}
    store.record_many(outcomes)
    return outcomes


def _sent(outcome: Outcome) -> None:
    """The ``deliver:sent`` failpoint: the transport has taken an email, its outcome is not recorded yet."""
    if outcome.status == "sent":
        failpoints.check("deliver:sent")


def _count(report: DeliveryReport, transport: Transport, outcome: Outcome) -> None:
    if outcome.detail and outcome.status != "sent" and outcome.detail not in report.errors:
        report.errors.append(outcome.detail)
    if outcome.status == "sent":
        if transport.name == "file":
            report.written += 1
        else:
            report.sent += 1
    elif outcome.status == "failed":
        report.failed += 1
    elif outcome.status == "unknown":
        report.unknown += 1
