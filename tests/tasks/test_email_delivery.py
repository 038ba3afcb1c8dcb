"""Rendering into the outbox and delivering against a real SMTP server on 127.0.0.1 (aiosmtpd), and to
.eml files, on SQLite and PostgreSQL: exactly once, retries, failures, unknowns and resends."""

from __future__ import annotations

import email
import logging
from email import policy

import polars as pl
import pytest
import sqlalchemy as sa

from edges import outbox
from edges.db import get_engine
from tasks.deliver import deliver_pending, mark_for_resend
from tasks.render import render_emails, to_render
from tests.helpers import table
from tests.reports.factories import (
    RUN_DATE,
    call,
    callback_view,
    home_visit_view,
    rep_view,
    target,
    village,
)
from tests.smtp_server import LocalSmtpServer

REP, NURSE, HOME = "s001@example.com", "s002@example.com", "s003@example.com"


def views(extra_target: bool = False):
    targets = [target("C1", "赵医生", "市一医院", "心内科")]
    if extra_target:
        targets.append(target("C2", "钱主任", "县医院", "药剂科"))
    return [
        rep_view(targets),
        callback_view([call("P1", "赵敏", "13812345678")]),
        home_visit_view([village("横畈村", [("P7", "孙丽", "13712345678")])]),
    ]


@pytest.fixture
def smtp():
    with LocalSmtpServer() as server:
        yield server


@pytest.fixture
def smtp_settings(settings, smtp):
    return settings.model_copy(
        update={
            "smtp_host": smtp.host,
            "smtp_port": smtp.port,
            "smtp_security": "none",
            "smtp_timeout": 1.0,
            "smtp_retry_delay": 0.01,
            "smtp_retry_delay_max": 0.05,
            "smtp_max_attempts": 4,
            "mail_from": "客情 <keqing@corp.example>",
        }
    )


def rows(settings) -> pl.DataFrame:
    return table(settings, "outbox", order_by="id").select("staff_id", "kind", "status", "attempts", "resends")


def test_one_email_per_recipient_per_date_over_one_connection_and_a_rerun_sends_none(smtp_settings, smtp):
    first = render_emails.fn(smtp_settings, RUN_DATE, views())
    assert (first["emails"], first["new"], first["kept"]) == (3, 3, 0)
    report = deliver_pending.fn(smtp_settings, RUN_DATE)
    assert (report["sent"], report["failed"], report["unknown"], report["deferred"]) == (3, 0, 0, 0)
    assert (report["connections"], smtp.handler.connections) == (1, 1)
    assert [smtp.handler.delivered_to(a) for a in (REP, NURSE, HOME)] == [1, 1, 1]
    received = email.message_from_bytes(smtp.handler.messages[0].data, policy=policy.default)
    assert received["Subject"] == "[客情] 2026-11-24 今日拜访 1 位客户"
    assert smtp.handler.messages[0].mail_from == "keqing@corp.example"

    # The same night again: nothing rendered twice, nothing sent twice.
    again = render_emails.fn(smtp_settings, RUN_DATE, views(extra_target=True))
    assert (again["new"], again["replaced_pending"], again["kept"]) == (0, 0, 3)
    assert again["bytes"] == 0  # the kept emails are not even rendered
    report = deliver_pending.fn(smtp_settings, RUN_DATE)
    assert (report["pending"], report["sent"]) == (0, 0)
    assert len(smtp.handler.messages) == 3
    assert rows(smtp_settings).to_dicts() == [
        {"staff_id": "S001", "kind": "rep", "status": "sent", "attempts": 1, "resends": 0},
        {"staff_id": "S002", "kind": "callback", "status": "sent", "attempts": 1, "resends": 0},
        {"staff_id": "S003", "kind": "home_visit", "status": "sent", "attempts": 1, "resends": 0},
    ]
    with get_engine(smtp_settings.database_url).connect() as conn:
        unique = conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar_one()
    assert unique == 3


def test_a_recipient_whose_address_is_unusable_is_skipped_and_reported_not_everyone(settings):
    from reports.views import Recipient, RepView

    bad = RepView(run_date=RUN_DATE, recipient=Recipient("S044", "周强", "not an address\nBcc: x@y.com"))
    summary = render_emails.fn(settings, RUN_DATE, [*views(), bad])
    assert (summary["emails"], summary["bad_addresses"]) == (3, ["S044"])
    assert rows(settings)["staff_id"].to_list() == ["S001", "S002", "S003"]


def test_the_outbox_is_unique_per_run_date_recipient_and_kind_in_the_database(smtp_settings):
    render_emails.fn(smtp_settings, RUN_DATE, views())
    t = outbox.T
    with pytest.raises(sa.exc.IntegrityError), get_engine(smtp_settings.database_url).begin() as conn:
        conn.execute(
            sa.insert(t).values(
                run_date=RUN_DATE,
                staff_id="S001",
                kind="rep",
                recipient=REP,
                subject="x",
                message_id="<x@y>",
                message=b"x",
                size=1,
                status="pending",
                attempts=0,
                resends=0,
            )
        )


def test_resend_sends_again_all_or_the_recipients_asked_for(smtp_settings, smtp):
    render_emails.fn(smtp_settings, RUN_DATE, views())
    deliver_pending.fn(smtp_settings, RUN_DATE)
    assert mark_for_resend.fn(smtp_settings, RUN_DATE, ["S002"]) == 1
    assert deliver_pending.fn(smtp_settings, RUN_DATE)["sent"] == 1
    assert [smtp.handler.delivered_to(a) for a in (REP, NURSE, HOME)] == [1, 2, 1]
    assert mark_for_resend.fn(smtp_settings, RUN_DATE) == 3
    assert deliver_pending.fn(smtp_settings, RUN_DATE)["sent"] == 3
    assert [smtp.handler.delivered_to(a) for a in (REP, NURSE, HOME)] == [2, 3, 2]
    assert rows(smtp_settings)["resends"].to_list() == [1, 2, 1]


def test_451_twice_then_ok_is_sent_once(smtp_settings, smtp):
    smtp.handler.on_data[NURSE] = ["451 4.3.0 mailbox busy, try later", "451 4.3.0 mailbox busy, try later"]
    render_emails.fn(smtp_settings, RUN_DATE, views())
    report = deliver_pending.fn(smtp_settings, RUN_DATE)
    assert (report["sent"], report["deferred"], report["rounds"], report["attempts"]) == (3, 0, 3, 5)
    assert smtp.handler.delivered_to(NURSE) == 1
    assert rows(smtp_settings).filter(pl.col("staff_id") == "S002").row(0) == ("S002", "callback", "sent", 3, 0)
    assert report["connections"] == 1  # a 4xx answer does not cost the connection


def test_550_is_failed_not_retried_and_reported(smtp_settings, smtp):
    smtp.handler.on_rcpt[NURSE] = ["550 5.1.1 <s002@example.com>: no such user"]
    smtp.handler.on_data[HOME] = ["554 5.6.0 message refused"]
    render_emails.fn(smtp_settings, RUN_DATE, views())
    report = deliver_pending.fn(smtp_settings, RUN_DATE)
    assert (report["sent"], report["failed"], report["rounds"]) == (1, 2, 1)
    assert rows(smtp_settings)["status"].to_list() == ["sent", "failed", "failed"]
    problems = outbox.problems(get_engine(smtp_settings.database_url), RUN_DATE)
    assert [(p["staff_id"], p["status"], p["last_error"]) for p in problems] == [
        ("S002", "failed", "550 5.1.1 <s002@example.com>: no such user"),
        ("S003", "failed", "554 5.6.0 message refused"),
    ]
    # A rerun does not retry them; only a resend does.
    assert deliver_pending.fn(smtp_settings, RUN_DATE)["attempts"] == 0
    assert smtp.handler.delivered_to(NURSE) == 0


def test_a_stall_after_data_is_unknown_and_not_resent(smtp_settings, smtp):
    smtp.handler.on_data[NURSE] = ["stall 2.5"]
    render_emails.fn(smtp_settings, RUN_DATE, views())
    report = deliver_pending.fn(smtp_settings, RUN_DATE)
    assert (report["sent"], report["unknown"], report["deferred"]) == (2, 1, 0)
    assert report["connections"] == 2  # the stalled connection is dropped, the next message reconnects
    row = table(smtp_settings, "outbox").filter(pl.col("staff_id") == "S002").row(0, named=True)
    assert row["status"] == "unknown" and row["attempts"] == 1
    assert row["last_error"].startswith("no answer after the message data")

    data_commands = smtp.handler.data_commands
    assert smtp.handler.delivered_to(NURSE) == 1  # the server has it, though the sender cannot know
    assert deliver_pending.fn(smtp_settings, RUN_DATE)["attempts"] == 0
    assert smtp.handler.data_commands == data_commands  # not sent again by a rerun
    mark_for_resend.fn(smtp_settings, RUN_DATE, ["S002"])
    assert deliver_pending.fn(smtp_settings, RUN_DATE)["sent"] == 1
    assert smtp.handler.delivered_to(NURSE) == 2  # only because an operator asked


def test_a_refused_server_leaves_everything_pending_and_a_later_run_sends_it(smtp_settings):
    down = smtp_settings.model_copy(update={"smtp_port": 1})  # nothing listens there
    render_emails.fn(down, RUN_DATE, views())
    report = deliver_pending.fn(down, RUN_DATE)
    assert (report["sent"], report["deferred"], report["rounds"], report["attempts"]) == (0, 3, 4, 4)
    assert rows(down)["status"].to_list() == ["pending"] * 3
    assert deliver_pending.fn(smtp_settings, RUN_DATE)["sent"] == 3


def test_credentials_are_used_but_never_stored_or_logged(settings, caplog):
    password = "s3cret-Passw0rd"
    caplog.set_level(logging.DEBUG)
    with LocalSmtpServer(auth=("keqing", password)) as server:
        base = settings.model_copy(
            update={
                "smtp_host": server.host,
                "smtp_port": server.port,
                "smtp_security": "none",
                "smtp_user": "keqing",
                "smtp_retry_delay": 0.01,
            }
        )
        wrong = base.model_copy(update={"smtp_password": _secret("not-" + password)})
        render_emails.fn(wrong, RUN_DATE, views())
        refused = deliver_pending.fn(wrong, RUN_DATE)
        assert (refused["sent"], refused["failed"], refused["deferred"]) == (0, 0, 3)
        right = base.model_copy(update={"smtp_password": _secret(password)})
        assert deliver_pending.fn(right, RUN_DATE)["sent"] == 3
    stored = table(settings, "outbox")
    assert not any(password in (e or "") for e in stored["last_error"].to_list())
    assert password not in caplog.text and "not-" + password not in caplog.text
    assert password not in repr(right) and password not in str(right.model_dump())


def _secret(value: str):
    from pydantic import SecretStr

    return SecretStr(value)


def test_without_smtp_host_emails_are_eml_files_in_the_outbox_folder(settings):
    render_emails.fn(settings, RUN_DATE, views())
    report = deliver_pending.fn(settings, RUN_DATE)
    assert (report["transport"], report["written"], report["sent"]) == ("file", 3, 0)
    folder = settings.outbox / "2026-11-24"
    assert sorted(p.name for p in folder.iterdir()) == ["callback-S002.eml", "home_visit-S003.eml", "rep-S001.eml"]
    msg = email.message_from_bytes((folder / "rep-S001.eml").read_bytes(), policy=policy.default)
    assert msg["Subject"] == "[客情] 2026-11-24 今日拜访 1 位客户"
    assert [p.get_filename() for p in msg.iter_attachments()] == ["visits_2026-11-24.csv"]
    mtime = (folder / "rep-S001.eml").stat().st_mtime_ns
    assert deliver_pending.fn(settings, RUN_DATE)["written"] == 0  # a rerun writes nothing
    assert (folder / "rep-S001.eml").stat().st_mtime_ns == mtime
    assert rows(settings)["status"].to_list() == ["sent"] * 3


def test_a_pending_email_is_re_rendered_by_a_rerun_a_sent_one_is_kept(settings):
    render_emails.fn(settings, RUN_DATE, views())
    before = table(settings, "outbox", order_by="id").select("subject", "message_id")
    again = render_emails.fn(settings, RUN_DATE, views(extra_target=True))
    assert (again["new"], again["replaced_pending"], again["kept"]) == (0, 3, 0)
    after = table(settings, "outbox", order_by="id").select("subject", "message_id")
    assert after["subject"][0] == "[客情] 2026-11-24 今日拜访 2 位客户" != before["subject"][0]
    deliver_pending.fn(settings, RUN_DATE)
    third = render_emails.fn(settings, RUN_DATE, views())
    assert third["kept"] == 3
    assert table(settings, "outbox", order_by="id")["subject"][0] == "[客情] 2026-11-24 今日拜访 2 位客户"


def test_rows_left_sending_by_a_crash_are_unknown_over_smtp_and_rewritten_as_files(settings):
    render_emails.fn(settings, RUN_DATE, views())
    engine = get_engine(settings.database_url)
    t = outbox.T
    with engine.begin() as conn:
        conn.execute(sa.update(t).where(t.c.staff_id == "S001").values(status="sending", transport="smtp"))
        conn.execute(sa.update(t).where(t.c.staff_id == "S002").values(status="sending", transport="file"))
    report = deliver_pending.fn(settings, RUN_DATE)
    assert (report["interrupted"], report["written"]) == (2, 2)
    assert rows(settings)["status"].to_list() == ["unknown", "sent", "sent"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1, as a private CA would issue for an internal relay."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keqing test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    certfile, keyfile = folder / "relay.pem", folder / "relay.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(certfile), str(keyfile)


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_starttls_and_ssl_with_a_login_over_tls(settings, certificate, security):
    with LocalSmtpServer(auth=("keqing", "pw-over-tls"), tls=certificate, security=security) as server:
        tls = settings.model_copy(
            update={
                "smtp_host": server.host,
                "smtp_port": server.port,
                "smtp_security": security,
                "smtp_user": "keqing",
                "smtp_password": _secret("pw-over-tls"),
                "smtp_ca_file": certificate[0],
            }
        )
        render_emails.fn(tls, RUN_DATE, views())
        report = deliver_pending.fn(tls, RUN_DATE)
        assert (report["sent"], report["connections"], len(server.handler.messages)) == (3, 1, 3)


def test_an_untrusted_certificate_is_not_accepted(settings, certificate):
    with LocalSmtpServer(tls=certificate, security="starttls") as server:
        untrusted = settings.model_copy(
            update={
                "smtp_host": server.host,
                "smtp_port": server.port,
                "smtp_security": "starttls",
                "smtp_max_attempts": 1,
            }
        )
        render_emails.fn(untrusted, RUN_DATE, views())
        report = deliver_pending.fn(untrusted, RUN_DATE)
        assert (report["sent"], report["deferred"]) == (0, 3)
        assert not server.handler.messages
        errors = table(untrusted, "outbox", order_by="id")["last_error"].to_list()
        assert "CERTIFICATE_VERIFY_FAILED" in errors[0]


def test_one_regions_delivery_sends_and_sweeps_only_its_own_staffs_rows(settings):
    """Regional runs of a fan-out send at the same time: one must not touch another's rows."""
    render_emails.fn(settings, RUN_DATE, views())
    engine = get_engine(settings.database_url)
    t = outbox.T
    with engine.begin() as conn:  # S002's region is sending it right now
        conn.execute(sa.update(t).where(t.c.staff_id == "S002").values(status="sending", transport="smtp"))
    report = deliver_pending.fn(settings, RUN_DATE, ["rep", "callback", "home_visit"], ["S001", "S003"])
    assert (report["pending"], report["written"], report["interrupted"]) == (2, 2, 0)
    assert rows(settings)["status"].to_list() == ["sent", "sending", "sent"]
    assert sorted(p.name for p in (settings.outbox / "2026-11-24").iterdir()) == ["home_visit-S003.eml", "rep-S001.eml"]


def test_only_views_without_an_email_or_with_a_pending_one_are_rendered():
    rep, nurse, home = views()
    statuses = {("S001", "rep"): "sent", ("S002", "callback"): "pending", ("S003", "callback"): "failed"}
    assert to_render([rep, nurse, home], statuses) == [nurse, home]
    assert to_render([rep], {("S001", "rep"): "unknown"}) == []
