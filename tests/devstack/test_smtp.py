"""The mail sink keeps what real SMTP clients send and shows it through its HTTP API."""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from devstack.mailbox import Mailbox, MailTimeout
from devstack.procs import free_port
from devstack.smtp import smtp_process
from tests.fixtures.smtp import SmtpSink


def send(
    sink: SmtpSink,
    *,
    to: list[str],
    subject: str,
    body: str,
    html: str | None = None,
    bcc: list[str] | None = None,
) -> None:
    message = EmailMessage()
    message["From"] = "Tenantry <noreply@tenantry.test>"
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    with smtplib.SMTP(sink.host, sink.smtp_port, timeout=10) as smtp:
        smtp.send_message(message, to_addrs=to + (bcc or []))


def test_message_is_kept_with_envelope_headers_body_and_links(
    smtp_sink: SmtpSink, mailbox: Mailbox
) -> None:
    send(
        smtp_sink,
        to=["Alice@Example.test"],
        subject="Welcome to Tenantry",
        body="Join here: https://app.tenantry.test/join?token=abc123\n",
        html="<p><a href='https://app.tenantry.test/join?token=abc123'>Join</a></p>",
    )
    mail = mailbox.wait_for(to="alice@example.test", subject_contains="welcome", timeout=5)
    assert mail.sender == "noreply@tenantry.test"
    assert mail.to == ["Alice@Example.test"]
    assert mail.subject == "Welcome to Tenantry"
    assert mail.headers.from_ == "Tenantry <noreply@tenantry.test>"
    assert "token=abc123" in mail.body
    assert mail.html is not None and "<a href" in mail.html
    assert mail.link("/join") == "https://app.tenantry.test/join?token=abc123"


def test_filter_by_recipient_includes_bcc_and_clear_empties(
    smtp_sink: SmtpSink, mailbox: Mailbox
) -> None:
    send(smtp_sink, to=["a@x.test"], subject="one", body="1", bcc=["ops@x.test"])
    send(smtp_sink, to=["b@x.test"], subject="two", body="2")
    mailbox.wait_for(count=2, timeout=5)
    assert [m.subject for m in mailbox.messages(to="a@x.test")] == ["one"]
    assert [m.subject for m in mailbox.messages(to="ops@x.test")] == ["one"]
    assert [m.subject for m in mailbox.messages()] == ["one", "two"]
    assert mailbox.clear() == 2
    assert mailbox.messages() == []


def test_wait_for_times_out_saying_what_arrived(smtp_sink: SmtpSink, mailbox: Mailbox) -> None:
    send(smtp_sink, to=["a@x.test"], subject="something else", body="1")
    with pytest.raises(MailTimeout, match="something else"):
        mailbox.wait_for(to="a@x.test", subject_contains="invoice", timeout=0.3)


def test_wait_for_sees_a_message_that_arrives_later(smtp_sink: SmtpSink, mailbox: Mailbox) -> None:
    timer = threading.Timer(
        0.3, lambda: send(smtp_sink, to=["late@x.test"], subject="late", body="x")
    )
    timer.start()
    try:
        assert mailbox.wait_for(to="late@x.test", timeout=5).subject == "late"
    finally:
        timer.join()


async def test_wait_for_async(smtp_sink: SmtpSink, mailbox: Mailbox) -> None:
    send(smtp_sink, to=["async@x.test"], subject="async", body="x")
    mail = await mailbox.wait_for_async(to="async@x.test", timeout=5)
    assert mail.subject == "async"


def test_single_message_raw_and_delete(smtp_sink: SmtpSink, mailbox: Mailbox) -> None:
    send(smtp_sink, to=["raw@x.test"], subject="raw", body="raw body")
    mail = mailbox.wait_for(to="raw@x.test", timeout=5)
    raw = httpx.get(f"{smtp_sink.api_url}/messages/{mail.id}/raw", timeout=5)
    assert raw.status_code == 200 and b"Subject: raw" in raw.content
    assert httpx.delete(f"{smtp_sink.api_url}/messages/{mail.id}", timeout=5).json() == {
        "deleted": 1
    }
    assert httpx.get(f"{smtp_sink.api_url}/messages/{mail.id}", timeout=5).status_code == 404


def test_messages_survive_a_restart_as_eml_files(tmp_path: Path) -> None:
    """`tenantry dev` reuses .tenantry/mail: a restarted sink still shows old mail."""
    host, smtp_port, api_port = "127.0.0.1", free_port(), free_port()

    def start() -> SmtpSink:
        process = smtp_process(
            host=host,
            smtp_port=smtp_port,
            api_port=api_port,
            mail_dir=tmp_path / "mail",
            log_path=tmp_path / "smtp.log",
        ).start()
        return SmtpSink(host, smtp_port, f"http://{host}:{api_port}", process)

    sink = start()
    try:
        send(sink, to=["keep@x.test"], subject="kept", body="still here", bcc=["hidden@x.test"])
        with Mailbox(sink.api_url) as box:
            box.wait_for(to="keep@x.test", timeout=5)
    finally:
        sink.process.stop()
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1

    sink = start()
    try:
        with Mailbox(sink.api_url) as box:
            (mail,) = box.messages(to="hidden@x.test")
            assert mail.subject == "kept" and "still here" in mail.body
            assert sorted(mail.to) == ["hidden@x.test", "keep@x.test"]
            box.clear()
        assert list((tmp_path / "mail").glob("*.eml")) == []
    finally:
        sink.process.stop()
