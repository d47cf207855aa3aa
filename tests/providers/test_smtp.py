"""SmtpProvider against a real aiosmtpd server on loopback: envelope, pooling, errors, TLS and AUTH."""

from __future__ import annotations

import asyncio
import email
import ssl
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from iep.providers import smtp as smtp_module
from iep.providers.base import Address, OutgoingEmail, PermanentProviderError, TransientProviderError
from iep.providers.smtp import SmtpProvider
from tests.support.smtp_sink import free_port

DOMAIN = "mail.iep.example"
USER, PASSWORD = "tenant-a", "s3cret-pass"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    smtp_utf8: bool
    content: bytes
    connection: Any
    tls: bool
    auth: Any


@dataclass
class Recorder:
    """An aiosmtpd handler that records what arrives, on which connection, and answers as told."""

    received: list[Received] = field(default_factory=list)
    connections: list[Any] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    data_delay: float = 0.0
    noop_reply: str | None = None
    noops: int = 0
    quits: int = 0
    mechanisms: list[str] = field(default_factory=list)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if not any(c is server for c in self.connections):  # EHLO comes again after STARTTLS
            self.connections.append(server)
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.data_delay)
        if self.data_reply:
            return self.data_reply
        self.received.append(
            Received(
                mail_from=envelope.mail_from,
                rcpt_tos=list(envelope.rcpt_tos),
                smtp_utf8=envelope.smtp_utf8,
                content=envelope.content,
                connection=server,
                tls=server.transport.get_extra_info("sslcontext") is not None,
                auth=session.auth_data,
            )
        )
        return "250 2.0.0 Ok: queued as TEST"

    async def handle_NOOP(self, server: Any, session: Any, envelope: Any, arg: str) -> str:
        self.noops += 1
        return self.noop_reply or "250 OK"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"

    def authenticator(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = isinstance(data, LoginPassword) and data == (USER.encode(), PASSWORD.encode())
        # handled=False: aiosmtpd then answers the failure itself (535); True would leave the client waiting.
        return AuthResult(success=ok, handled=False, auth_data=USER if ok else None)


@asynccontextmanager
async def smtp_server(
    handler: Any, *, controller_class: type[Controller] = Controller, **kwargs: Any
) -> AsyncIterator[int]:
    """A real aiosmtpd server on a free loopback port, for the test's duration; `kwargs` go to aiosmtpd's SMTP."""
    port = free_port()
    controller = controller_class(handler, hostname="127.0.0.1", port=port, ready_timeout=5, **kwargs)
    await asyncio.to_thread(controller.start)
    try:
        yield port
    finally:
        await asyncio.to_thread(controller.stop)


@asynccontextmanager
async def provider(port: int, **kwargs: Any) -> AsyncIterator[SmtpProvider]:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "tls": "none",
        "timeout": 5.0,
        "pool_size": 2,
        "message_id_domain": DOMAIN,
        "local_hostname": "client.iep.test",
    } | kwargs
    p = SmtpProvider(**settings)
    try:
        async with asyncio.timeout(20):
            yield p
    finally:
        await p.close()


def make_email(**overrides: Any) -> OutgoingEmail:
    base = OutgoingEmail(
        message_id=uuid.uuid4(),
        sender=Address("sender@iep.example", "IEP Sender"),
        to=("alice@example.com",),
        cc=("carol@example.com",),
        bcc=("hidden@example.com",),
        subject="Grüße — your receipt",
        html="<p>Danke, <b>Jürgen</b></p>",
        text="Danke, Jürgen",
    )
    return replace(base, **overrides)


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


async def test_envelope_headers_and_bodies_arrive() -> None:
    handler = Recorder()
    mail = make_email()
    async with smtp_server(handler) as port, provider(port) as p:
        result = await p.send(mail)

    [got] = handler.received
    assert got.mail_from == "sender@iep.example"
    assert got.rcpt_tos == ["alice@example.com", "carol@example.com", "hidden@example.com"]
    msg = parse(got.content)
    assert "Bcc" not in msg
    assert b"hidden@example.com" not in got.content
    assert msg["Subject"] == "Grüße — your receipt"
    assert msg["To"] == "alice@example.com"
    assert msg["Cc"] == "carol@example.com"
    assert msg["Message-ID"] == f"<{mail.message_id}@{DOMAIN}>"
    assert msg.get_body(("plain",)).get_content().rstrip("\r\n") == "Danke, Jürgen"  # type: ignore[union-attr]
    assert msg.get_body(("html",)).get_content().rstrip("\r\n") == "<p>Danke, <b>Jürgen</b></p>"  # type: ignore[union-attr]
    assert result.provider == "smtp"
    assert result.provider_message_id == f"{mail.message_id}@{DOMAIN}"
    assert "Ok: queued as TEST" in result.response


async def test_duplicate_recipients_get_one_rcpt() -> None:
    handler = Recorder()
    mail = make_email(to=("alice@example.com",), cc=("Alice@Example.com",), bcc=("alice@example.com",))
    async with smtp_server(handler) as port, provider(port) as p:
        await p.send(mail)
    assert handler.received[0].rcpt_tos == ["alice@example.com"]


async def test_utf8_mailbox_uses_smtputf8_and_idn_is_punycoded() -> None:
    handler = Recorder()
    mail = make_email(to=("jürgen@example.com",), cc=("user@münchen.example",), bcc=())
    async with smtp_server(handler) as port, provider(port) as p:
        await p.send(mail)
    [got] = handler.received
    assert got.smtp_utf8
    assert got.rcpt_tos == ["jürgen@example.com", "user@xn--mnchen-3ya.example"]


async def test_sequential_sends_reuse_one_connection() -> None:
    handler = Recorder()
    async with smtp_server(handler) as port, provider(port) as p:
        for _ in range(3):
            await p.send(make_email())
    assert len(handler.received) == 3
    assert len(handler.connections) == 1
    assert all(r.connection is handler.connections[0] for r in handler.received)
    assert handler.quits == 1  # close() said goodbye to the pooled connection


async def test_concurrent_sends_open_at_most_pool_size_connections() -> None:
    handler = Recorder(data_delay=0.05)
    async with smtp_server(handler) as port, provider(port, pool_size=2) as p:
        await asyncio.gather(*(p.send(make_email()) for _ in range(6)))
    assert len(handler.received) == 6
    assert len(handler.connections) == 2


async def test_idle_connection_is_probed_and_replaced_when_dead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smtp_module, "IDLE_CHECK_SECONDS", -1.0)  # every reuse counts as long idle
    handler = Recorder()
    async with smtp_server(handler) as port, provider(port) as p:
        await p.send(make_email())
        handler.noop_reply = "421 4.4.2 idle for too long"
        await p.send(make_email())
    assert handler.noops == 1
    assert len(handler.received) == 2
    assert len(handler.connections) == 2


async def test_connection_closed_by_the_server_is_not_reused() -> None:
    handler = Recorder()
    async with smtp_server(handler) as port, provider(port) as p:
        await p.send(make_email())
        server = handler.connections[0]
        server.loop.call_soon_threadsafe(server.transport.close)  # the server hangs up on the idle connection
        await asyncio.sleep(0.2)
        await p.send(make_email())
    assert len(handler.received) == 2
    assert len(handler.connections) == 2


async def test_temporary_refusal_is_transient_and_the_connection_is_dropped() -> None:
    handler = Recorder(data_reply="451 4.3.0 try later")
    async with smtp_server(handler) as port, provider(port) as p:
        with pytest.raises(TransientProviderError) as caught:
            await p.send(make_email())
        handler.data_reply = None
        await p.send(make_email())
    assert caught.value.code == 451
    assert "451 4.3.0 try later" in str(caught.value)
    assert caught.value.transient
    assert len(handler.connections) == 2


async def test_all_recipients_temporarily_refused_is_transient() -> None:
    handler = Recorder(rcpt_replies={"alice@example.com": "450 4.2.0 mailbox busy"})
    async with smtp_server(handler) as port, provider(port) as p:
        with pytest.raises(TransientProviderError) as caught:
            await p.send(make_email(cc=(), bcc=()))
    assert caught.value.code == 450


async def test_unknown_user_is_permanent_with_the_reply_text() -> None:
    handler = Recorder(rcpt_replies={"alice@example.com": "550 5.1.1 no such user"})
    async with smtp_server(handler) as port, provider(port) as p:
        with pytest.raises(PermanentProviderError) as caught:
            await p.send(make_email(cc=(), bcc=()))
    assert caught.value.code == 550
    assert "550 5.1.1 no such user" in str(caught.value)
    assert not caught.value.transient


async def test_rejected_data_is_permanent() -> None:
    handler = Recorder(data_reply="554 5.7.1 message rejected as spam")
    async with smtp_server(handler) as port, provider(port) as p:
        with pytest.raises(PermanentProviderError, match=r"554 5\.7\.1 message rejected as spam") as caught:
            await p.send(make_email())
    assert caught.value.code == 554


async def test_some_recipients_refused_still_sends_and_reports_them() -> None:
    handler = Recorder(rcpt_replies={"hidden@example.com": "550 5.1.1 no such user"})
    async with smtp_server(handler) as port, provider(port) as p:
        result = await p.send(make_email())
    assert handler.received[0].rcpt_tos == ["alice@example.com", "carol@example.com"]
    assert "hidden@example.com 550 5.1.1 no such user" in result.response


async def test_connection_refused_is_transient() -> None:
    async with provider(free_port()) as p:
        with pytest.raises(TransientProviderError) as caught:
            await p.send(make_email())
        assert not await p.check_health()
    assert caught.value.code is None


async def test_silent_greeting_times_out_within_the_connect_timeout() -> None:
    held: list[asyncio.StreamWriter] = []

    async def never_greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(never_greet, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with provider(port, timeout=5, connect_timeout=0.5) as p:
            with pytest.raises(TransientProviderError, match=r"Timeout|Timed out"):
                await p.send(make_email())
            assert not await p.check_health()
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_check_health_is_true_against_a_live_server() -> None:
    handler = Recorder()
    async with smtp_server(handler) as port, provider(port) as p:
        assert await p.check_health()
    assert handler.noops >= 1


async def test_send_after_close_is_refused() -> None:
    handler = Recorder()
    async with smtp_server(handler) as port, provider(port) as p:
        await p.close()
        with pytest.raises(TransientProviderError, match="closed"):
            await p.send(make_email())


async def test_starttls_with_a_trusted_certificate(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    async with (
        smtp_server(handler, tls_context=server_tls, require_starttls=True) as port,
        provider(port, tls="starttls", tls_context=client_tls) as p,
    ):
        await p.send(make_email())
    assert handler.received[0].tls


async def test_starttls_with_an_untrusted_certificate_is_transient(server_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    async with (
        smtp_server(handler, tls_context=server_tls, require_starttls=True) as port,
        provider(port, tls="starttls") as p,
    ):
        with pytest.raises(TransientProviderError, match=r"(?i)certificate"):
            await p.send(make_email())
    assert handler.received == []


async def test_plain_client_against_a_starttls_only_server_is_refused(server_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    async with (
        smtp_server(handler, tls_context=server_tls, require_starttls=True) as port,
        provider(port, tls="none") as p,
    ):
        with pytest.raises(PermanentProviderError) as caught:
            await p.send(make_email())
    assert caught.value.code == 530
    assert handler.received == []


async def test_implicit_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    async with (
        smtp_server(handler, ssl_context=server_tls) as port,
        provider(port, tls="tls", tls_context=client_tls) as p,
    ):
        await p.send(make_email())
        assert await p.check_health()
    assert handler.received[0].tls


# The plain-port AUTH tests are deliberate; aiosmtpd warns about exactly that.
PLAIN_PORT_AUTH = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@PLAIN_PORT_AUTH
@pytest.mark.parametrize(("excluded", "used"), [(["LOGIN"], "PLAIN"), (["PLAIN"], "LOGIN")])
async def test_auth_on_a_plain_port(excluded: list[str], used: str) -> None:
    handler = Recorder()
    async with (
        smtp_server(
            handler,
            authenticator=handler.authenticator,
            auth_required=True,
            auth_require_tls=False,
            auth_exclude_mechanism=excluded,
        ) as port,
        provider(port, username=USER, password=PASSWORD) as p,
    ):
        await p.send(make_email())
        await p.send(make_email())
    assert handler.mechanisms == [used]  # once: the pooled connection stays logged in
    assert [r.auth for r in handler.received] == [USER, USER]


@PLAIN_PORT_AUTH
async def test_wrong_password_is_permanent() -> None:
    handler = Recorder()
    async with (
        smtp_server(handler, authenticator=handler.authenticator, auth_required=True, auth_require_tls=False) as port,
        provider(port, username=USER, password="wrong") as p,
    ):
        with pytest.raises(PermanentProviderError) as caught:
            await p.send(make_email())
    assert caught.value.code == 535
    assert handler.received == []


async def test_auth_after_starttls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    handler = Recorder()
    async with (
        smtp_server(
            handler,
            tls_context=server_tls,
            require_starttls=True,
            authenticator=handler.authenticator,
            auth_required=True,
        ) as port,
        provider(port, tls="starttls", tls_context=client_tls, username=USER, password=PASSWORD) as p,
    ):
        await p.send(make_email())
    assert handler.received[0].tls
    assert handler.received[0].auth == USER


async def test_invalid_tls_mode_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="tls must be one of"):
        SmtpProvider(host="127.0.0.1", port=25, tls="ssl", message_id_domain=DOMAIN)
