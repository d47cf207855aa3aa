"""A real inbound SMTP server on 127.0.0.1 (a free port), with a sink that records what it was handed."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from iep.inbound_mail.mailboxes import Mailboxes
from iep.inbound_mail.server import InboundHandler, InboundSmtpServer
from iep.provider_events.vocabulary import ProviderEvent

BOUNCE_DOMAIN = "bounces.example.com"
CORPUS = Path(__file__).parent / "corpus"


@dataclass
class RecordingSink:
    """Keeps every batch it accepted; told to, it raises instead (a database that is down)."""

    batches: list[list[ProviderEvent]] = field(default_factory=list)
    failures: int = 0  # how many of the next calls raise
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    hold: asyncio.Event | None = None  # when set, each call waits for it (a slow database)

    async def __call__(self, events: Sequence[ProviderEvent]) -> None:
        self.entered.set()
        if self.hold is not None:
            await self.hold.wait()
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the database went away")
        self.batches.append(list(events))

    @property
    def events(self) -> list[ProviderEvent]:
        return [e for batch in self.batches for e in batch]


@dataclass
class Inbound:
    server: InboundSmtpServer
    sink: RecordingSink

    @property
    def port(self) -> int:
        return self.server.port

    async def send(
        self, data: bytes, *, to: str | list[str], tls: ssl.SSLContext | None = None
    ) -> aiosmtplib.SMTPResponse:
        """One report over SMTP with the null sender, as a bounce comes: the server's answer to DATA.

        A refusal raises aiosmtplib's SMTPResponseException (SMTPRecipientRefused at RCPT), with its code.
        """
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1", port=self.port, timeout=10, local_hostname="mx.test", start_tls=False
        ) as client:
            if tls is not None:
                await client.starttls(tls_context=tls)
            await client.mail("")
            for rcpt in [to] if isinstance(to, str) else to:
                await client.rcpt(rcpt)
            return await client.data(data)


def verp(message_id: uuid.UUID) -> str:
    return f"bounces+{message_id}@{BOUNCE_DOMAIN}"


async def start_inbound(*, tls: ssl.SSLContext | None = None, max_message_bytes: int = 10 * 1024 * 1024) -> Inbound:
    sink = RecordingSink()
    handler = InboundHandler(mailboxes=Mailboxes(bounce_domain=BOUNCE_DOMAIN), sink=sink)
    server = InboundSmtpServer(
        handler, host="127.0.0.1", port=0, hostname=BOUNCE_DOMAIN, tls=tls, max_message_bytes=max_message_bytes
    )
    await server.start()
    return Inbound(server, sink)


@pytest.fixture
async def inbound() -> AsyncIterator[Inbound]:
    running = await start_inbound()
    yield running
    await running.server.stop()


@dataclass
class SelfSigned:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """Trusts this certificate only, and checks it names 127.0.0.1."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture
def self_signed(tmp_path: Path) -> SelfSigned:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.bounces.example.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = SelfSigned(tmp_path / "cert.pem", tmp_path / "key.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths
