"""The fault suite's yardstick: a message digest ignores only what changes at every rendering."""

from __future__ import annotations

import dataclasses
import datetime as dt

from reports.render import render_email
from reports.views import ManagerView
from tests.faults.snapshot import message_digest
from tests.reports.factories import RUN_DATE, attainment, recipient, rep_view, target

NOW = dt.datetime(2026, 11, 23, 17, 30, tzinfo=dt.UTC)


def manager_view() -> ManagerView:
    """A manager's email: its chart is HTML (it once was an image with a Content-ID random at each rendering)."""
    return ManagerView(
        run_date=RUN_DATE, recipient=recipient("S009", "王强"), team_attainment=[attainment("A", 0.8, 0.9)]
    )


def test_two_renderings_of_one_view_have_one_digest_though_their_bytes_differ():
    for view in (rep_view([target("C1", "赵医生", "市一医院", "心内科")]), manager_view()):
        first = render_email(view, now=NOW)
        second = render_email(view, now=NOW + dt.timedelta(minutes=5))
        assert first.message != second.message  # Date, Message-ID, boundaries
        assert first.message_id != second.message_id
        assert message_digest(first.message) == message_digest(second.message)


def test_any_other_difference_changes_the_digest():
    view = rep_view([target("C1", "赵医生", "市一医院", "心内科")])
    digest = message_digest(render_email(view, now=NOW).message)
    other_target = rep_view([target("C1", "赵医生", "市一医院", "神经科")])
    other_recipient = dataclasses.replace(view, recipient=recipient("S001", "张伟", "zw@corp.example"))
    other_sender = render_email(view, now=NOW, mail_from="ops <ops@corp.example>").message
    assert message_digest(render_email(other_target, now=NOW).message) != digest
    assert message_digest(render_email(other_recipient, now=NOW).message) != digest
    assert message_digest(other_sender) != digest
