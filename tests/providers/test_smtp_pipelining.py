"""SMTP PIPELINING against real aiosmtpd servers on loopback: the envelope in one write, sendmail's outcomes kept.

Each server keeps every read it made, so "arrived in one packet" is what the server saw, not what the client meant.
"""

from __future__ import annotations

import asyncio
import copy
import ssl
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as AiosmtpdServer

from iep.providers.base import PermanentProviderError, TransientProviderError
from iep.providers.smtp_pipelining import sendmail
from tests.providers.test_smtp import make_email, parse, provider, smtp_server

SENDER = "sender@iep.example"
# Stands in for "no valid recipient" at a server that answers DATA with 354 all the same.
NOBODY = "nobody@invalid"
MESSAGE = (
    b"From: sender@iep.example\r\nTo: a@example.com\r\nSubject: dots\r\n\r\n"
    b".leading dot\r\n..two dots\r\n.\r\nbare LF line\nbare CR line\rlast line"
)


@dataclass
class Arrived:
    mail_from: str
    rcpt_tos: list[str]
    smtp_utf8: bool
    content: bytes


@dataclass
class Relay:
    """An aiosmtpd handler that offers PIPELINING (or not), answers as told and records what arrives."""

    pipelining: bool = True
    mail_reply: str | None = None
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    rcpt_delay: float = 0.0
    data_command_reply: str | None = None  # to DATA itself, instead of 354
    data_reply: str | None = None  # to the end of the data
    data_despite_no_recipients: bool = False  # 354 to DATA with no valid recipient: the case of RFC 2920 3.1
    reads: list[bytes] = field(default_factory=list)
    arrived: list[Arrived] = field(default_factory=list)
    connections: list[Any] = field(default_factory=list)

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if not any(c is server for c in self.connections):
            self.connections.append(server)
        if self.pipelining:
            return [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        await asyncio.sleep(self.rcpt_delay)
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.arrived.append(Arrived(envelope.mail_from, list(envelope.rcpt_tos), envelope.smtp_utf8, envelope.content))
        if NOBODY in envelope.rcpt_tos:
            return "554 5.5.1 Error: no valid recipients"
        return self.data_reply or "250 2.0.0 Ok: queued as TEST"

    def envelope_reads(self) -> list[bytes]:
        return [read for read in self.reads if read.startswith((b"MAIL", b"RCPT", b"DATA"))]


class RecordingServer(AiosmtpdServer):  # type: ignore[misc]
    """aiosmtpd's server, keeping each read it makes; it can refuse DATA itself, which no handler hook can."""

    def __init__(self, relay: Relay, **kwargs: Any) -> None:
        super().__init__(relay, **kwargs)
        self.relay = relay

    def data_received(self, data: bytes) -> None:
        self.relay.reads.append(bytes(data))
        super().data_received(data)

    async def smtp_DATA(self, arg: str) -> None:
        if self.relay.data_command_reply and self.envelope.mail_from:
            await self.push(self.relay.data_command_reply)
            return
        if self.relay.data_despite_no_recipients and not self.envelope.rcpt_tos:
            self.envelope.rcpt_tos.append(NOBODY)
        await super().smtp_DATA(arg)


class RecordingController(Controller):  # type: ignore[misc]
    def factory(self) -> RecordingServer:
        return RecordingServer(self.handler, **self.SMTP_kwargs)


def relay_at(relay: Relay, **kwargs: Any) -> AbstractAsyncContextManager[int]:
    return smtp_server(relay, controller_class=RecordingController, **kwargs)


@asynccontextmanager
async def client_of(port: int, *, reply_seconds: float = 5.0) -> AsyncIterator[aiosmtplib.SMTP]:
    client = aiosmtplib.SMTP(
        hostname="127.0.0.1", port=port, start_tls=False, timeout=reply_seconds, local_hostname="client.iep.test"
    )
    await client.connect()
    try:
        yield client
    finally:
        client.close()


def one_envelope_read(relay: Relay, recipients: Sequence[str]) -> bytes:
    """The first message's read that held MAIL, every RCPT and DATA; fails if they came in more than one."""
    read = relay.envelope_reads()[0]
    assert read.startswith(f"MAIL FROM:<{SENDER}>".encode())
    rcpts = b"".join(f"RCPT TO:<{r}>\r\n".encode() for r in recipients)
    assert read.endswith(rcpts + b"DATA\r\n")
    assert read.count(b"\r\n") == len(recipients) + 2
    return read


async def test_the_envelope_arrives_in_one_read_and_the_message_intact() -> None:
    relay = Relay()
    recipients = ["a@example.com", "b@example.com", "c@example.com"]
    async with relay_at(relay) as port, client_of(port) as client:
        refused, reply = await sendmail(client, SENDER, recipients, MESSAGE)

    assert (refused, reply) == ({}, "2.0.0 Ok: queued as TEST")
    one_envelope_read(relay, recipients)
    [got] = relay.arrived
    assert got.mail_from == SENDER
    assert got.rcpt_tos == recipients
    # What the server stored after undoing the transparency dots: the message, every line ending CRLF.
    assert got.content == MESSAGE.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n") + b"\r\n"
    wire = b"".join(relay.reads)
    assert b"\r\n..leading dot\r\n...two dots\r\n..\r\nbare LF line\r\n" in wire
    assert wire.count(b"\r\n.\r\n") == 1  # the end of the data, once


async def test_without_pipelining_each_command_waits_for_its_reply() -> None:
    relay = Relay(pipelining=False)
    recipients = ["a@example.com", "b@example.com"]
    async with relay_at(relay) as port, client_of(port) as client:
        await sendmail(client, SENDER, recipients, MESSAGE)

    commands = relay.envelope_reads()
    assert len(commands) == len(recipients) + 2
    assert all(read.count(b"\r\n") == 1 for read in commands)
    assert relay.arrived[0].rcpt_tos == recipients


@asynccontextmanager
async def scripted(envelope_replies: list[bytes]) -> AsyncIterator[tuple[int, list[bytes]]]:
    """A server that answers the pipelined group in the pieces given, as they leave its socket, then takes the data.

    Postfix answers a group in one packet; a busy server may split a reply across two. aiosmtpd does neither on
    purpose, so these pieces are written out here.
    """
    seen: list[bytes] = []

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        seen.append(await reader.readline())
        writer.write(b"250-scripted\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
        seen.append(await reader.readuntil(b"DATA\r\n"))
        for piece in envelope_replies:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.02)  # each piece in its own packet
        seen.append(await reader.readuntil(b"\r\n.\r\n"))
        writer.write(b"250 2.0.0 Ok: queued as SCRIPTED\r\n")
        while line := await reader.readline():
            writer.write(b"221 Bye\r\n" if line.startswith(b"QUIT") else b"250 Ok\r\n")
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], seen
    finally:
        server.close()


async def test_replies_that_share_a_packet_are_each_read() -> None:
    replies = b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250-2.1.5 Ok\r\n250 2.1.5 on two lines\r\n354 End data\r\n"
    async with scripted([replies]) as (port, seen), client_of(port) as client:
        result = await sendmail(client, SENDER, ["a@example.com", "b@example.com"], MESSAGE)
    assert result == ({}, "2.0.0 Ok: queued as SCRIPTED")
    assert seen[1].count(b"\r\n") == 4


async def test_a_reply_split_across_packets_is_read_whole() -> None:
    pieces = [b"250 2.1", b".0 Ok\r\n250 2.1.5 Ok\r\n55", b"0 5.1.1 no such user\r\n354 End", b" data\r\n"]
    async with scripted(pieces) as (port, _), client_of(port) as client:
        refused, reply = await sendmail(client, SENDER, ["a@example.com", "b@example.com"], MESSAGE)
    assert refused == {"b@example.com": aiosmtplib.SMTPResponse(550, "5.1.1 no such user")}
    assert reply == "2.0.0 Ok: queued as SCRIPTED"


def summary(exc: BaseException) -> tuple[str, Any]:
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return type(exc).__name__, [(type(r).__name__, r.args) for r in exc.recipients]
    return type(exc).__name__, exc.args


async def outcome(relay: Relay, recipients: list[str]) -> tuple[Any, ...]:
    """What sendmail ends with, whether the connection is still open, and what a second message on it gets."""
    async with relay_at(relay) as port, client_of(port, reply_seconds=0.5) as client:
        try:
            first: Any = ("sent", *await sendmail(client, SENDER, recipients, MESSAGE))
        except aiosmtplib.SMTPException as exc:
            first = summary(exc)
        still_open = client.is_connected
        relay.mail_reply = relay.data_command_reply = relay.data_reply = None
        relay.rcpt_replies.clear()
        relay.rcpt_delay = 0.0
        second = await sendmail(client, SENDER, recipients, MESSAGE) if still_open else None
    return first, still_open, second


SCENARIOS: dict[str, dict[str, Any]] = {
    "some recipients refused": {"rcpt_replies": {"b@example.com": "550 5.1.1 no such user"}},
    "every recipient refused": {
        "rcpt_replies": {"a@example.com": "550 5.1.1 no such user", "b@example.com": "450 4.2.0 mailbox busy"}
    },
    "sender refused permanently": {"mail_reply": "550 5.7.1 sender blocked"},
    "sender refused for now": {"mail_reply": "451 4.3.0 try again later"},
    "sender refused, server closing": {"mail_reply": "421 4.3.2 shutting down"},
    "a recipient refused, server closing": {"rcpt_replies": {"a@example.com": "421 4.3.2 shutting down"}},
    "the last recipient refused, server closing": {"rcpt_replies": {"b@example.com": "421 4.3.2 shutting down"}},
    "DATA refused": {"data_command_reply": "554 5.5.1 no data accepted here"},
    "end of data refused permanently": {"data_reply": "554 5.7.1 looks like spam"},
    "end of data refused for now": {"data_reply": "452 4.3.1 insufficient storage"},
    "a reply slower than the timeout": {"rcpt_delay": 1.0},
}


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_every_outcome_is_sendmails(scenario: str) -> None:
    recipients = ["a@example.com", "b@example.com"]
    pipelined = Relay(**copy.deepcopy(SCENARIOS[scenario]))
    one_by_one = Relay(pipelining=False, **copy.deepcopy(SCENARIOS[scenario]))

    assert await outcome(pipelined, recipients) == await outcome(one_by_one, recipients)
    one_envelope_read(pipelined, recipients)
    # The comparison was with the path that waits for each reply: one command per read.
    assert all(read.count(b"\r\n") == 1 for read in one_by_one.envelope_reads())


async def test_every_recipient_refused_never_sends_the_content() -> None:
    relay = Relay(rcpt_replies={"alice@example.com": "550 5.1.1 no such user"})
    mail = make_email(cc=(), bcc=(), text="the-content-marker")
    async with relay_at(relay) as port, provider(port) as p:
        with pytest.raises(PermanentProviderError) as caught:
            await p.send(mail)
        relay.rcpt_replies.clear()
        await p.send(make_email())

    assert caught.value.code == 550
    assert caught.value.about_recipients
    assert "alice@example.com 550 5.1.1 no such user" in str(caught.value)
    assert not any(b"the-content-marker" in read for read in relay.reads)
    assert b"DATA\r\n" in relay.envelope_reads()[0]  # DATA went out with the envelope, and was refused
    assert len(relay.arrived) == 1
    assert len(relay.connections) == 2  # the connection that saw the refusal was dropped, as before


async def test_data_accepted_without_a_valid_recipient_is_ended_with_a_lone_dot() -> None:
    relay = Relay(rcpt_replies={"a@example.com": "550 5.1.1 no such user"}, data_despite_no_recipients=True)
    async with relay_at(relay) as port, client_of(port) as client:
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as caught:
            await sendmail(client, SENDER, ["a@example.com"], MESSAGE)

    assert [r.code for r in caught.value.recipients] == [550]
    [got] = relay.arrived
    assert got.content == b""
    assert not any(b"leading dot" in read for read in relay.reads)


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [("550 5.7.1 sender blocked", PermanentProviderError, 550), ("451 4.3.0 try later", TransientProviderError, 451)],
)
async def test_a_refused_sender_is_classified_as_before(reply: str, error: type[Exception], code: int) -> None:
    relay = Relay(mail_reply=reply)
    async with relay_at(relay) as port, provider(port) as p:
        with pytest.raises(error) as caught:
            await p.send(make_email())
    assert getattr(caught.value, "code", None) == code
    assert reply in str(caught.value)
    assert relay.arrived == []
    one_envelope_read(relay, ["alice@example.com", "carol@example.com", "hidden@example.com"])


@pytest.mark.parametrize(
    ("settings", "error", "code"),
    [
        ({"data_command_reply": "554 5.5.1 no data accepted here"}, PermanentProviderError, 554),
        ({"data_command_reply": "451 4.3.0 not now"}, TransientProviderError, 451),
        ({"data_reply": "554 5.7.1 looks like spam"}, PermanentProviderError, 554),
        ({"data_reply": "452 4.3.1 insufficient storage"}, TransientProviderError, 452),
    ],
)
async def test_refused_data_is_classified_as_before(
    settings: dict[str, str], error: type[Exception], code: int
) -> None:
    relay = Relay(**settings)
    async with relay_at(relay) as port, provider(port) as p:
        with pytest.raises(error) as caught:
            await p.send(make_email())
    assert getattr(caught.value, "code", None) == code
    assert next(iter(settings.values())) in str(caught.value)


async def test_a_partial_refusal_sends_and_the_connection_takes_the_next_message() -> None:
    relay = Relay(rcpt_replies={"hidden@example.com": "550 5.1.1 no such user"})
    async with relay_at(relay) as port, provider(port) as p:
        first = await p.send(make_email())
        relay.rcpt_replies.clear()
        second = await p.send(make_email(subject="the second"))

    assert first.response == "2.0.0 Ok: queued as TEST (refused: hidden@example.com 550 5.1.1 no such user)"
    assert second.response == "250 2.0.0 Ok: queued as TEST"
    assert [a.rcpt_tos for a in relay.arrived] == [
        ["alice@example.com", "carol@example.com"],
        ["alice@example.com", "carol@example.com", "hidden@example.com"],
    ]
    assert parse(relay.arrived[1].content)["Subject"] == "the second"
    assert len(relay.connections) == 1
    assert len(relay.envelope_reads()) == 2  # one read per message


async def test_dot_lines_survive_the_provider() -> None:
    relay = Relay()
    mail = make_email(html=None, text=".leading dot\n..two dots\n.\nlast line")
    async with relay_at(relay) as port, provider(port) as p:
        await p.send(mail)
    body = parse(relay.arrived[0].content).get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n").rstrip("\n") == ".leading dot\n..two dots\n.\nlast line"


async def test_smtputf8_is_asked_for_in_the_pipelined_mail_command() -> None:
    relay = Relay()
    async with relay_at(relay) as port, provider(port) as p:
        await p.send(make_email(to=("jürgen@example.com",), cc=(), bcc=()))
    [got] = relay.arrived
    assert got.smtp_utf8
    assert got.rcpt_tos == ["jürgen@example.com"]
    [read] = relay.envelope_reads()
    assert b" SMTPUTF8" in read.split(b"\r\n")[0]
    assert "RCPT TO:<jürgen@example.com>\r\n".encode() in read


async def test_a_server_without_smtputf8_is_refused_as_before() -> None:
    mail = make_email(to=("jürgen@example.com",), cc=(), bcc=())
    outcomes = []
    for relay in (Relay(), Relay(pipelining=False)):
        async with relay_at(relay, enable_SMTPUTF8=False) as port, provider(port) as p:
            with pytest.raises(PermanentProviderError) as caught:
                await p.send(mail)
        outcomes.append(str(caught.value))
        assert relay.envelope_reads() == []  # refused before anything of the envelope was sent
    assert outcomes[0] == outcomes[1]
    assert "SMTPUTF8" in outcomes[0]


async def test_an_address_with_a_line_break_is_refused_before_anything_is_sent() -> None:
    relay = Relay()
    async with relay_at(relay) as port, client_of(port) as client:
        with pytest.raises(ValueError, match="not permitted"):
            await sendmail(client, SENDER, ["a@example.com", "b@example.com>\r\nRCPT TO:<c@example.com"], MESSAGE)
        with pytest.raises(ValueError, match="not permitted"):
            await sendmail(client, "s@example.com>\r\nRSET", ["a@example.com"], MESSAGE)
    assert relay.envelope_reads() == []


async def test_pipelining_over_tls(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    relay = Relay()
    async with (
        relay_at(relay, ssl_context=server_tls) as port,
        provider(port, tls="tls", tls_context=client_tls) as p,
    ):
        for _ in range(3):
            await p.send(make_email())
    assert len(relay.arrived) == 3
    assert len(relay.connections) == 1
    assert len(relay.envelope_reads()) == 3  # one read per message, as seen after decryption
