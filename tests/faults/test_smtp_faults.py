"""SMTP trouble over one night, end to end: the server refusing connections, stalling, the sender killed
after the third email, 4xx and 5xx answers, a connection closed at the data, a stall after the data;
then the trouble clears. Every email reaches the server at most once; every email whose fate is known
to be fine goes out exactly once; the rest are in the status the contract gives them, and ops are told.

(tests/tasks/test_email_delivery.py covers each answer against the sender alone; here the whole
nightly run meets them, one attempt after another, in its own process.)
"""

from __future__ import annotations

import email
import socket
from collections import Counter
from email import policy

import pytest

from tests.faults.process import KILLED
from tests.faults.snapshot import differences, expected_outbox, message_digest, received
from tests.smtp_server import LocalSmtpServer

pytestmark = pytest.mark.e2e

STAFF_EMAILS = 16
EMAILS = STAFF_EMAILS + 1  # and the ops email
# Any answer takes a loaded CI machine well under 3 s; a stalled server takes longer than that.
TIMEOUT = "3"
STALL = "stall 6"


def by_status(night) -> dict[str, int]:
    return dict(night.query("SELECT status, count(*) FROM outbox GROUP BY status"))


def smtp_env(port: int, attempts: int = 2) -> dict[str, str]:
    return {
        "KEQING_SMTP_HOST": "127.0.0.1",
        "KEQING_SMTP_PORT": str(port),
        "KEQING_SMTP_SECURITY": "none",
        "KEQING_SMTP_TIMEOUT": TIMEOUT,
        "KEQING_SMTP_MAX_ATTEMPTS": str(attempts),
        "KEQING_SMTP_RETRY_DELAY": "0.1",
    }


def errors(night) -> set[str | None]:
    return {e for (e,) in night.query("SELECT DISTINCT last_error FROM outbox")}


def ops_lines(messages) -> list[str]:
    """The lines of the ops email's plain text (the one ops email the server accepted)."""
    ops = [m for m in messages if b"X-Keqing-Kind: ops" in m.data]
    assert len(ops) == 1
    body = email.message_from_bytes(ops[0].data, policy=policy.default).get_body(("plain",))
    return [line.strip() for line in body.get_content().splitlines()]


def test_a_night_of_smtp_trouble_sends_no_email_twice_and_loses_none(night, reference):
    rows = sorted(reference.rows("outbox"), key=lambda r: r["staff_id"])
    address = {r["staff_id"]: r["recipient"] for r in rows}

    # 1. Nothing listens on the port: connection refused. Every email stays pending; the run fails.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connecting is refused
        night.env = smtp_env(closed.getsockname()[1])
        assert night.run() == 1, night.log()
    assert by_status(night) == {"pending": EMAILS}
    assert "no email could be sent over SMTP: 17 email(s) not delivered" in night.log()
    # The first email tried tells why; the others were not tried (the same would have happened to them).
    assert errors(night) == {"connection failed: ConnectionRefusedError: [Errno 111] Connection refused", None}

    # 2. The server accepts the connection and never greets: a timeout. Still all pending.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever answers
        night.env = smtp_env(silent.getsockname()[1], attempts=1)
        assert night.run() == 1, night.log()
    assert by_status(night) == {"pending": EMAILS}
    assert errors(night) == {
        "connection failed: SMTPServerDisconnected: Connection unexpectedly closed: timed out",
        None,
    }

    with LocalSmtpServer() as smtp:
        night.env = smtp_env(smtp.port)

        # 3. The server works; the sender is killed after the server took the third email, before
        # recording it.
        assert night.run(failpoint="deliver:sent@3=kill") == KILLED, night.log()
        assert len(smtp.handler.messages) == 3
        assert by_status(night) == {"sent": 2, "sending": 1, "pending": EMAILS - 3}
        third = night.query("SELECT staff_id FROM outbox WHERE status = 'sending'")[0][0]
        assert smtp.handler.messages[2].rcpt_tos == [address[third]]

        # 4. Per recipient: 451 at every attempt (A), 550 to the recipient (B), the connection closed
        # at the data (C), no answer after the data (D). The killed sender's email is swept to unknown.
        first_three = {r for m in smtp.handler.messages for r in m.rcpt_tos}
        a, b, c, d = [r["staff_id"] for r in rows if r["kind"] != "ops" and r["recipient"] not in first_three][:4]
        smtp.handler.on_data[address[a]] = ["451 4.3.0 mailbox busy"] * 2
        smtp.handler.on_rcpt[address[b]] = ["550 5.1.1 no such user"]
        smtp.handler.on_data[address[c]] = ["close"]
        smtp.handler.on_data[address[d]] = [STALL]
        assert night.run() == 0, night.log()
        status = dict(night.query("SELECT staff_id, status FROM outbox WHERE status != 'sent'"))
        assert status == {a: "pending", b: "failed", c: "unknown", d: "unknown", third: "unknown"}
        lines = ops_lines(smtp.handler.messages)  # sent by this attempt, after the staff emails
        for staff_id, said in [(a, "待重试"), (b, "失败"), (c, "状态不明"), (d, "状态不明"), (third, "状态不明")]:
            assert any(line.startswith(staff_id) and said in line for line in lines), (staff_id, said)

        # 5. The trouble is over: A is sent. Failed and unknown emails are not sent again by a rerun.
        assert night.run() == 0, night.log()
        copies = received(smtp.handler.messages)
        digests = {
            (rcpt, kind_of(m.data)): message_digest(m.data) for m in smtp.handler.messages for rcpt in m.rcpt_tos
        }

    kind = {r["staff_id"]: r["kind"] for r in rows}
    never_accepted = {(address[b], kind[b]), (address[c], kind[c])}
    assert copies == Counter({(r["recipient"], r["kind"]): 1 for r in rows}) - Counter(never_accepted)
    for r in rows:  # and each is what an undisturbed night sends (the ops email reports this night)
        if r["kind"] != "ops" and (r["recipient"], r["kind"]) not in never_accepted:
            assert digests[(r["recipient"], r["kind"])] == r["message"]
    changed = {
        (kind[b], b): "failed",
        (kind[c], c): "unknown",
        (kind[d], d): "unknown",
        (kind[third], third): "unknown",
    }
    assert differences(night.snapshot(), expected_outbox(reference, transport="smtp", statuses=changed)) == []


def kind_of(message: bytes) -> str:
    return str(email.message_from_bytes(message, policy=policy.default)["X-Keqing-Kind"])
