"""The SMTP conversation: who is refused at RCPT, what is too big, when the answer is 451, and STARTTLS."""

from __future__ import annotations

import asyncio
import ssl
import uuid
from pathlib import Path

import aiosmtplib
import pytest

from iep.config import ConfigError, load_settings
from iep.inbound_mail.mailboxes import BounceMailbox, Mailboxes
from iep.inbound_mail.server import inbound_server
from iep.inbound_mail.sink import LoggingSink
from iep.kit.clock import SystemClock
from tests.inbound_mail.conftest import BOUNCE_DOMAIN, CORPUS, Inbound, SelfSigned, start_inbound, verp

REPORT = (CORPUS / "postfix-user-unknown.eml").read_bytes()
ID = "6f1c1d9e-0a5b-4c3e-9a77-5d2f0c1e8b41"

REFUSED = [
    f"postmaster@{BOUNCE_DOMAIN}",  # not a VERP address
    "ann.example@example.net",  # someone else's mail: we are no relay
    f"bounces@{BOUNCE_DOMAIN}",  # no message id
    f"bounces+not-a-uuid@{BOUNCE_DOMAIN}",
    f"bounces+{ID[:-1]}@{BOUNCE_DOMAIN}",  # one digit short
    f"bounces+{ID}0@{BOUNCE_DOMAIN}",  # one digit long
    f"bounces+{ID.replace('-', '')}@{BOUNCE_DOMAIN}",  # the digits without the dashes: not what we send
    f"bounces+{ID.replace('9', 'g')}@{BOUNCE_DOMAIN}",  # not hex
    f"bounces+{ID}@other.example.com",  # another domain
    f"bounces+{ID}@{BOUNCE_DOMAIN}.evil.example",
    f"bounces+{ID}+x@{BOUNCE_DOMAIN}",
]
ACCEPTED = [
    f"bounces+{ID}@{BOUNCE_DOMAIN}",
    f"bounces+{ID}@{BOUNCE_DOMAIN.upper()}",  # domains are case-insensitive
    f"bounces+{ID.upper()}@{BOUNCE_DOMAIN}",
    f"Bounces+{ID}@{BOUNCE_DOMAIN}",  # some MTAs capitalise the local part
]


@pytest.mark.parametrize("address", REFUSED)
async def test_anything_but_a_verp_address_is_refused_at_rcpt(inbound: Inbound, address: str) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientRefused) as refused:
        await inbound.send(REPORT, to=address)
    assert refused.value.code == 550
    assert "5.1.1" in refused.value.message
    assert inbound.sink.batches == []


@pytest.mark.parametrize("address", ACCEPTED)
async def test_verp_addresses_are_read_whatever_their_case(inbound: Inbound, address: str) -> None:
    reply = await inbound.send(REPORT, to=address)
    assert reply.code == 250
    assert [e.message_id for e in inbound.sink.events] == [uuid.UUID(ID)]


def test_mailboxes_without_a_bounce_domain_take_nothing() -> None:
    assert Mailboxes(bounce_domain=None).for_recipient(f"bounces+{ID}@{BOUNCE_DOMAIN}") is None
    assert Mailboxes(bounce_domain="Bounces.Example.COM.").for_recipient(f"bounces+{ID}@{BOUNCE_DOMAIN}") == (
        BounceMailbox(uuid.UUID(ID))
    )


async def test_a_refused_recipient_does_not_spoil_the_accepted_one(inbound: Inbound) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=inbound.port, timeout=10, start_tls=False) as client:
        await client.mail("")
        with pytest.raises(aiosmtplib.SMTPRecipientRefused):
            await client.rcpt(f"postmaster@{BOUNCE_DOMAIN}")
        await client.rcpt(verp(uuid.UUID(ID)))
        assert (await client.data(REPORT)).code == 250
    assert len(inbound.sink.events) == 1


async def test_a_report_over_the_size_limit_is_refused_with_552() -> None:
    small = await start_inbound(max_message_bytes=64 * 1024)
    try:
        padded = REPORT + b"\r\n" + b"x" * 78 + b"\r\n"
        huge = padded + (b"y" * 78 + b"\r\n") * 1000  # ~80 KB: a bounce quoting a big attachment
        with pytest.raises(aiosmtplib.SMTPResponseException) as refused:
            await small.send(huge, to=verp(uuid.uuid4()))
        assert refused.value.code == 552
        assert small.sink.batches == []
        # The same server still takes a report of ordinary size.
        assert (await small.send(REPORT, to=verp(uuid.uuid4()))).code == 250
    finally:
        await small.server.stop()


async def test_a_sink_failure_is_451_so_the_sender_retries(inbound: Inbound) -> None:
    inbound.sink.failures = 1
    with pytest.raises(aiosmtplib.SMTPResponseException) as deferred:
        await inbound.send(REPORT, to=verp(uuid.UUID(ID)))
    assert deferred.value.code == 451
    assert inbound.sink.batches == []  # nothing was claimed as stored
    # The sending server keeps the report and tries again later; now it is stored, once.
    assert (await inbound.send(REPORT, to=verp(uuid.UUID(ID)))).code == 250
    assert [e.recipient for e in inbound.sink.events] == ["ann.example@example.net"]


async def test_an_ignored_report_is_still_accepted(inbound: Inbound) -> None:
    reply = await inbound.send((CORPUS / "autoreply-out-of-office.eml").read_bytes(), to=verp(uuid.uuid4()))
    assert reply.code == 250
    inbound.sink.failures = 1  # not called for an auto-reply, so it cannot fail it
    reply = await inbound.send((CORPUS / "autoreply-exchange.eml").read_bytes(), to=verp(uuid.uuid4()))
    assert reply.code == 250
    assert inbound.sink.batches == []


async def test_starttls_with_a_self_signed_certificate(self_signed: SelfSigned) -> None:
    secured = await start_inbound(tls=self_signed.server_context())
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=secured.port, timeout=10, start_tls=False) as client:
            await client.ehlo()
            assert client.supports_extension("starttls")
        reply = await secured.send(REPORT, to=verp(uuid.UUID(ID)), tls=self_signed.client_context())
        assert reply.code == 250
        assert [e.recipient for e in secured.sink.events] == ["ann.example@example.net"]
        # A client that checks certificates and does not trust this one cannot be fooled into talking.
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=secured.port, timeout=10, start_tls=False) as client:
            with pytest.raises(ssl.SSLCertVerificationError):
                await client.starttls()
    finally:
        await secured.server.stop()


async def test_without_a_certificate_starttls_is_not_offered(inbound: Inbound) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=inbound.port, timeout=10, start_tls=False) as client:
        await client.ehlo()
        assert not client.supports_extension("starttls")


async def test_settings_build_the_server_with_tls(self_signed: SelfSigned) -> None:
    settings = load_settings(
        smtp_listen="127.0.0.1:0",
        smtp_tls_cert=self_signed.cert,
        smtp_tls_key=self_signed.key,
        bounce_domain=BOUNCE_DOMAIN,
    )
    server = inbound_server(settings, sink=LoggingSink(), clock=SystemClock())
    await server.start()
    try:
        assert server.port > 0
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, timeout=10, start_tls=False) as client:
            await client.starttls(tls_context=self_signed.client_context())
            await client.mail("")
            await client.rcpt(verp(uuid.UUID(ID)))
            assert (await client.data(REPORT)).code == 250  # LoggingSink: logged, acknowledged
    finally:
        await server.stop()


async def test_dev_falls_back_to_a_free_port_when_the_default_is_taken() -> None:
    taken = await start_inbound()
    try:
        settings = load_settings(smtp_listen=f"127.0.0.1:{taken.port}")
        server = inbound_server(settings, sink=LoggingSink(), clock=SystemClock(), dev=True)
        await server.start()
        assert server.port not in (0, taken.port)
        await server.stop()
        # Outside dev a taken SMTP_LISTEN is an error the operator must see.
        with pytest.raises(OSError, match="in use"):
            await inbound_server(settings, sink=LoggingSink(), clock=SystemClock()).start()
    finally:
        await taken.server.stop()


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"smtp_listen": "2525"}, "SMTP_LISTEN"),
        ({"smtp_listen": "127.0.0.1:99999"}, "SMTP_LISTEN"),
        ({"smtp_tls_cert": Path("/etc/cert.pem")}, "SMTP_TLS_KEY"),
    ],
)
def test_bad_smtp_settings_are_named(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(**overrides)


async def test_stopping_lets_a_report_being_stored_finish() -> None:
    """SIGTERM during DATA: the sink's work completes and is answered 250; no new connection is taken."""
    running = await start_inbound()
    port = running.port
    running.sink.hold = asyncio.Event()
    sending = asyncio.create_task(running.send(REPORT, to=verp(uuid.UUID(ID))))
    await asyncio.wait_for(running.sink.entered.wait(), 5)
    stopping = asyncio.create_task(running.server.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # waiting for the report in flight
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=2, start_tls=False).connect()
    running.sink.hold.set()
    assert (await asyncio.wait_for(sending, 5)).code == 250
    await asyncio.wait_for(stopping, 5)
    assert [e.recipient for e in running.sink.events] == ["ann.example@example.net"]
