"""D-9 SMTP submission: smtplib and swaks submit over STARTTLS + AUTH (the API key as the password); the mail
takes the API's durable accept and reaches the SMTP sink intact; every refusal is a clear reply."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import shutil
import smtplib
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from iep.bootstrap import Container
from iep.config import load_settings
from iep.inbound_mail.mailboxes import Mailboxes
from iep.inbound_mail.server import InboundHandler, InboundSmtpServer, inbound_server
from iep.inbound_mail.submission import Submission
from iep.kit.clock import FakeClock
from iep.messages.models import messages
from tests.conftest import TenantKey
from tests.inbound_mail.conftest import BOUNCE_DOMAIN, RecordingSink, SelfSigned
from tests.limits.conftest import limited_tenant
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink, free_port

IEP = str(Path(sys.executable).with_name("iep"))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    # The provider side speaks SMTPUTF8 here, so internationalized addresses can be delivered.
    server = SmtpSink(smtputf8=True).start()
    yield server
    server.stop()


class Listener:
    def __init__(self, server: InboundSmtpServer, certs: SelfSigned) -> None:
        self.server = server
        self.certs = certs

    def client(self, *, tls: bool = True) -> smtplib.SMTP:
        client = smtplib.SMTP("127.0.0.1", self.server.port, local_hostname="app.test", timeout=10)
        client.ehlo()
        if tls:
            client.starttls(context=self.certs.client_context())
            client.ehlo()
        return client


@pytest.fixture
async def listener(container: Container, self_signed: SelfSigned) -> AsyncIterator[Listener]:
    handler = InboundHandler(
        mailboxes=Mailboxes(bounce_domain=BOUNCE_DOMAIN), sink=RecordingSink(), submission=Submission(container)
    )
    server = InboundSmtpServer(
        handler, host="127.0.0.1", port=0, hostname=BOUNCE_DOMAIN, tls=self_signed.server_context(),
        max_message_bytes=2 * 1024 * 1024,
    )  # fmt: skip
    await server.start()
    yield Listener(server, self_signed)
    await server.stop()


def _submit(listener: Listener, key: str, message: EmailMessage, **kwargs: Any) -> dict[str, Any]:
    with listener.client() as client:
        client.login("anything", key)
        refused: dict[str, Any] = client.send_message(message, **kwargs)
        return refused


def _lf(text: str) -> str:
    """What the sink reads is SMTP's CRLF text; compared as written."""
    return text.replace("\r\n", "\n")


async def _count(container: Container) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(messages))).scalar_one())


async def test_plain_text_over_starttls_reaches_the_sink(
    listener: Listener, tenant: TenantKey, container: Container, sink: SmtpSink
) -> None:
    message = EmailMessage()
    message["From"] = "Acme <app@product.example>"
    message["To"] = "ann@example.com"
    message["Subject"] = "Plain"
    message["X-Campaign"] = "spring"
    message.set_content("Hello Ann,\nline two.\n")
    assert await asyncio.to_thread(_submit, listener, tenant.key, message) == {}
    assert await _count(container) == 1
    await drain(container)
    [received] = sink.handler.received
    mail = received.message
    assert received.rcpt_tos == ["ann@example.com"]
    assert mail["From"] == "Acme <app@product.example>"
    assert mail["Subject"] == "Plain"
    assert mail["X-Campaign"] == "spring"
    assert _lf(mail.get_body(("plain",)).get_content()) == "Hello Ann,\nline two.\n"


async def test_html_attachments_and_bcc_only_in_the_envelope(
    listener: Listener, tenant: TenantKey, container: Container, sink: SmtpSink
) -> None:
    message = EmailMessage()
    message["From"] = "app@product.example"
    message["To"] = "ann@example.com"
    message["Cc"] = "carl@example.com"
    message["Subject"] = "Report"
    message.set_content("See the report.")
    message.add_alternative("<p>See the <b>report</b>.</p>", subtype="html")
    message.add_attachment(b"id,total\n1,10\n", maintype="text", subtype="csv", filename="report.csv")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="chart.png")
    recipients = ["ann@example.com", "carl@example.com", "hidden@example.com"]
    await asyncio.to_thread(_submit, listener, tenant.key, message, to_addrs=recipients)
    await drain(container)
    [received] = sink.handler.received
    assert sorted(received.rcpt_tos) == recipients
    assert b"hidden@example.com" not in received.data
    mail = received.message
    assert mail["Cc"] == "carl@example.com"
    assert "<b>report</b>" in mail.get_body(("html",)).get_content()
    files = {p.get_filename(): p.get_payload(decode=True) for p in mail.iter_attachments()}
    assert files == {"report.csv": b"id,total\n1,10\n", "chart.png": PNG}


async def test_8bit_and_smtputf8_addresses_arrive_intact(
    listener: Listener, tenant: TenantKey, container: Container, sink: SmtpSink
) -> None:
    message = EmailMessage()
    message["From"] = "Zoë Café <app@product.example>"
    message["To"] = "josé@example.com"
    message["Subject"] = "Grüße aus Köln ☕"
    message.set_content("Schöne Grüße — 你好\n", cte="8bit")
    await asyncio.to_thread(_submit, listener, tenant.key, message, mail_options=["SMTPUTF8"])
    await drain(container)
    [received] = sink.handler.received
    assert received.rcpt_tos == ["josé@example.com"]
    mail = received.message
    assert mail["Subject"] == "Grüße aus Köln ☕"
    # Delivered with SMTPUTF8, the headers are raw UTF-8 (RFC 6532): read them as text.
    headers = email.message_from_string(received.data.decode("utf-8"), policy=email.policy.default)
    assert headers["From"].addresses[0].display_name == "Zoë Café"
    assert headers["To"].addresses[0].addr_spec == "josé@example.com"
    assert _lf(mail.get_body(("plain",)).get_content()) == "Schöne Grüße — 你好\n"


async def test_a_wrong_key_is_535_and_auth_needs_starttls(listener: Listener, tenant: TenantKey) -> None:
    def wrong() -> int:
        with listener.client() as client:
            try:
                client.login("app", tenant.key[:-2] + "xx")
            except smtplib.SMTPAuthenticationError as exc:
                return exc.smtp_code
        return 0

    assert await asyncio.to_thread(wrong) == 535

    def before_tls() -> tuple[bool, int]:
        with listener.client(tls=False) as client:
            advertised = client.has_extn("auth")
            code, _ = client.docmd("AUTH", "PLAIN AGFwcABrZXk=")
            return advertised, code

    assert await asyncio.to_thread(before_tls) == (False, 538)


async def test_an_unverified_sender_domain_is_550_with_a_reason(
    listener: Listener, tenant: TenantKey, container: Container
) -> None:
    message = EmailMessage()
    message["From"] = "app@unverified.example"
    message["To"] = "ann@example.com"
    message["Subject"] = "Nope"
    message.set_content("x")
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        await asyncio.to_thread(_submit, listener, tenant.key, message)
    assert refused.value.smtp_code == 550
    assert b"unverified.example" in refused.value.smtp_error
    # The envelope sender is allowed but the From header is not: refused at DATA, with the field named.
    with pytest.raises(smtplib.SMTPDataError) as header:
        await asyncio.to_thread(_submit, listener, tenant.key, message, from_addr="app@product.example")
    assert header.value.smtp_code == 550
    assert b"from" in header.value.smtp_error
    assert await _count(container) == 0


async def test_size_is_advertised_and_a_bounce_still_goes_to_the_bounce_mailbox(listener: Listener) -> None:
    def ehlo_and_bounce() -> tuple[str, int]:
        with listener.client() as client:
            size = client.esmtp_features.get("size", "")
            code, _ = client.rcpt("bounces+00000000-0000-7000-8000-000000000000@" + BOUNCE_DOMAIN)
            return size, code

    def bounce() -> int:
        with listener.client() as client:
            client.mail("")
            code, _ = client.rcpt("bounces+00000000-0000-7000-8000-000000000000@" + BOUNCE_DOMAIN)
            stranger, _ = client.rcpt("someone@example.com")
            assert stranger == 550
            return code

    size, _ = await asyncio.to_thread(ehlo_and_bounce)
    assert size == str(2 * 1024 * 1024)
    assert await asyncio.to_thread(bounce) == 250


async def test_swaks_submits_with_an_attachment(
    listener: Listener, tenant: TenantKey, container: Container, sink: SmtpSink, tmp_path: Path
) -> None:
    assert shutil.which("swaks") is not None, "swaks (Debian package swaks) is needed: `make programs` installs it"
    attachment = tmp_path / "notes.txt"
    attachment.write_text("swaks attachment\n")
    proc = await asyncio.create_subprocess_exec(
        "swaks", "--server", f"127.0.0.1:{listener.server.port}", "--tls", "--auth", "PLAIN",
        "--auth-user", "ci", "--auth-password", tenant.key,
        "--from", "app@product.example", "--to", "ann@example.com", "--header", "Subject: From swaks",
        "--body", "Body from swaks", "--attach", f"@{attachment}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode()
    assert b"250 2.0.0 OK queued as" in out
    await drain(container)
    [received] = sink.handler.received
    mail = received.message
    assert mail["Subject"] == "From swaks"
    assert "Body from swaks" in mail.get_body(("plain",)).get_content()
    assert [(p.get_filename(), _lf(p.get_content())) for p in mail.iter_attachments()] == [
        ("notes.txt", "swaks attachment\n")
    ]

    wrong = await asyncio.create_subprocess_exec(
        "swaks", "--server", f"127.0.0.1:{listener.server.port}", "--tls", "--auth", "LOGIN",
        "--auth-user", "ci", "--auth-password", "iep_wrong_key", "--from", "app@product.example",
        "--to", "ann@example.com", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(wrong.communicate(), timeout=60)
    assert wrong.returncode != 0
    assert b"535 5.7.8" in out


async def test_a_kill_of_the_role_right_after_its_250_loses_nothing(
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    clock: FakeClock,
    database_url: str,
    tmp_path: Path,
    self_signed: SelfSigned,
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BOUNCE_DOMAIN": BOUNCE_DOMAIN,
        "SMTP_LISTEN": f"127.0.0.1:{port}",
        "SMTP_TLS_CERT": str(self_signed.cert),
        "SMTP_TLS_KEY": str(self_signed.key),
        "STATE_DIR": str(tmp_path),
        "LOG_JSON": "true",
    }
    proc = subprocess.Popen([IEP, "run", "--role", "smtp"], env=env, stderr=subprocess.PIPE, text=True)  # noqa: ASYNC220

    def submit_then_kill() -> list[str]:
        for _ in range(300):
            try:
                client = smtplib.SMTP("127.0.0.1", port, local_hostname="app.test", timeout=10)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("the smtp role never listened")
        replies = []
        with client:
            client.starttls(context=self_signed.client_context())
            client.login("app", tenant.key)
            for n in range(3):
                message = EmailMessage()
                message["From"] = "app@product.example"
                message["To"] = f"user{n}@example.com"
                message["Subject"] = f"Kill {n}"
                message.set_content(f"body {n}")
                client.send_message(message)
                replies.append(f"user{n}@example.com")
            proc.kill()  # SIGKILL straight after the last 250: no drain, no clean shutdown
        return replies

    try:
        acknowledged = await asyncio.to_thread(submit_then_kill)
    finally:
        proc.kill()
        proc.communicate(timeout=20)
    assert await _count(container) == 3
    # The role stamped the messages with the real time; the test's clock catches up before the worker runs.
    clock.advance((datetime.now(UTC) - clock.now()).total_seconds() + 1)
    await drain(container)
    assert sorted(r.rcpt_tos[0] for r in sink.handler.received) == acknowledged


@pytest.mark.parametrize("dev", [True, False], ids=["dev", "production"])
async def test_without_tls_only_dev_on_loopback_takes_auth(
    container: Container, tenant: TenantKey, dev: bool, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=container.settings.database_url, smtp_listen="127.0.0.1:0", bounce_domain=BOUNCE_DOMAIN,
        state_dir=tmp_path,
    )  # fmt: skip
    server = inbound_server(settings, sink=RecordingSink(), clock=container.clock, dev=dev,
                            submission=Submission(container))  # fmt: skip
    await server.start()

    def try_login() -> tuple[bool, int]:
        with smtplib.SMTP("127.0.0.1", server.port, local_hostname="app.test", timeout=10) as client:
            client.ehlo()
            if not client.has_extn("auth"):
                return False, 0
            code, _ = client.login("app", tenant.key)
            return True, code

    try:
        assert await asyncio.to_thread(try_login) == ((True, 235) if dev else (False, 0))
    finally:
        await server.stop()


async def test_the_tenants_rate_limit_is_a_451(listener: Listener, container: Container, clock: FakeClock) -> None:
    limited = await limited_tenant(container, "limited", clock, max_per_minute=1)

    def two() -> tuple[int, bytes]:
        with listener.client() as client:
            client.login("app", limited.key)
            for n in range(2):
                message = EmailMessage()
                message["From"] = "app@product.example"
                message["To"] = "ann@example.com"
                message["Subject"] = f"Limited {n}"
                message.set_content("x")
                try:
                    client.send_message(message)
                except smtplib.SMTPDataError as exc:
                    return exc.smtp_code, exc.smtp_error
        return 250, b""

    code, reply = await asyncio.to_thread(two)
    assert code == 451
    assert b"rate limit" in reply
    assert await _count(container) == 1
