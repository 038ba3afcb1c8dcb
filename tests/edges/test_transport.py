"""Transports: SMTP answers as outcomes, and the atomic, stable .eml file outbox."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import signal
from pathlib import Path

import pytest

from edges.transport import FileTransport, OutboxItem, Outcome, classify, eml_name


@pytest.mark.parametrize(
    ("code", "after_data", "status"),
    [
        (250, True, "sent"),
        (421, False, "retry"),
        (451, True, "retry"),
        (452, False, "retry"),
        (550, False, "failed"),
        (554, True, "failed"),
        (-1, False, "retry"),
        (-1, True, "unknown"),
    ],
)
def test_classify_smtp_answers(code, after_data, status):
    assert classify(code, b"some  text\r\nmore", after_data=after_data) == Outcome(status, f"{code} some text more")


def item(staff_id: str = "S001", message: bytes = b"Subject: x\r\n\r\nbody\r\n") -> OutboxItem:
    return OutboxItem(7, dt.date(2026, 11, 24), staff_id, "callback", "a@example.com", message)


def test_eml_names_are_stable_per_row_and_safe_for_any_staff_id():
    assert eml_name(item("S001")) == "callback-S001.eml"
    assert eml_name(item("../etc/passwd")) == "callback-..%2Fetc%2Fpasswd.eml"
    assert eml_name(item("张 伟")) == "callback-%E5%BC%A0%20%E4%BC%9F.eml"


def test_file_transport_writes_one_file_per_row_under_the_date_and_rewrites_it_in_place(tmp_path):
    transport = FileTransport(tmp_path / "outbox")
    first = transport.send(item(message=b"first"))
    transport.flush()
    path = tmp_path / "outbox" / "2026-11-24" / "callback-S001.eml"
    assert first == Outcome("sent", str(path))
    assert path.read_bytes() == b"first"
    transport.send(item(message=b"second"))
    assert path.read_bytes() == b"second"
    assert sorted(p.name for p in path.parent.iterdir()) == ["callback-S001.eml"]  # no temporary files left


def test_file_transport_reports_an_unwritable_outbox_as_retry(tmp_path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    outcome = FileTransport(blocker).send(item())
    assert outcome.status == "retry" and "cannot write" in (outcome.detail or "")


def _killed_while_writing(root: str) -> None:
    """Write one file and die with SIGKILL between writing and renaming it (a power cut, as it were)."""
    import os
    import signal

    os.replace = lambda *_: os.kill(os.getpid(), signal.SIGKILL)
    FileTransport(Path(root)).send(item(message=b"the whole message"))


def test_a_writer_killed_in_the_middle_leaves_no_eml_file_and_the_next_one_writes_it_whole(tmp_path):
    process = multiprocessing.get_context("spawn").Process(target=_killed_while_writing, args=(str(tmp_path),))
    process.start()
    process.join(60)
    assert process.exitcode == -signal.SIGKILL
    folder = tmp_path / "2026-11-24"
    assert list(folder.glob("*.eml")) == []  # any pickup of *.eml files, hidden ones included, finds none
    (leftover,) = folder.iterdir()
    assert leftover.name.startswith(".callback-S001.eml.") and leftover.name.endswith(".tmp")

    assert FileTransport(tmp_path).send(item(message=b"the whole message")).status == "sent"
    assert [p.read_bytes() for p in folder.glob("*.eml")] == [b"the whole message"]
