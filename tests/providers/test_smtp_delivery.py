"""SMTP delivery features at a real aiosmtpd server: DKIM that verifies, VERP return paths, command timeouts,
one pool per host + credentials, and bodies that try to smuggle a second message past end-of-data."""

from __future__ import annotations

import asyncio
import base64
import email
import uuid
from dataclasses import dataclass, field
from typing import Any

import dkim
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from iep.providers.base import Address, DkimKey, OutgoingEmail, PermanentProviderError, TransientProviderError
from iep.providers.smtp import SmtpProvider
from tests.support.smtp_sink import free_port


@dataclass
class Transactions:
    """Counts what the server saw, command by command: a smuggled message would show as a second MAIL/DATA."""

    mail_from: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    data_delay: float = 0.0

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self.mail_from.append(address)
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.data_delay)
        self.data.append(bytes(envelope.content))
        return "250 OK"


class Server:
    def __init__(self, handler: Transactions) -> None:
        self.port = free_port()
        self._controller = Controller(handler, hostname="127.0.0.1", port=self.port, ready_timeout=10)

    def __enter__(self) -> Server:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


def smtp(port: int, **kwargs: Any) -> SmtpProvider:
    options: dict[str, Any] = {
        "host": "127.0.0.1", "port": port, "tls": "none", "timeout": 5.0, "connect_timeout": 5.0,
        "pool_size": 2, "message_id_domain": "iep.test", "local_hostname": "client.iep.test",
    } | kwargs  # fmt: skip
    return SmtpProvider(**options)


def email_with(**overrides: Any) -> OutgoingEmail:
    base: dict[str, Any] = {
        "message_id": uuid.uuid4(),
        "sender": Address("noreply@product.example", "Product"),
        "to": ("ana@example.org",),
        "subject": "Hello",
        "html": "<p>Hello</p>",
        "text": "Hello",
    }
    return OutgoingEmail(**(base | overrides))


@pytest.fixture(scope="module")
def dkim_pair() -> tuple[DkimKey, bytes]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return DkimKey("product.example", "iep2026", pem), record


def _dns(records: dict[bytes, bytes]) -> Any:
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    return lookup


async def test_dkim_signature_verifies_against_the_public_key_with_d_equal_to_the_from_domain(
    dkim_pair: tuple[DkimKey, bytes],
) -> None:
    key, record = dkim_pair
    handler = Transactions()
    with Server(handler) as server:
        provider = smtp(server.port)
        await provider.send(email_with(dkim=key, list_unsubscribe="https://product.example/u?m=1"))
        await provider.close()
    (data,) = handler.data
    assert data.startswith(b"DKIM-Signature:")
    header = str(email.message_from_bytes(data)["DKIM-Signature"])
    tags = dict(t.strip().split("=", 1) for t in "".join(header.split()).split(";") if "=" in t)
    assert tags["d"] == "product.example"
    assert tags["s"] == "iep2026"
    assert "list-unsubscribe" in tags["h"].lower()
    dns = _dns({b"iep2026._domainkey.product.example.": record})
    assert dkim.verify(data, dnsfunc=dns)
    # The same bytes with one changed character no longer verify: the check can fail.
    assert not dkim.verify(data.replace(b"Hello", b"Hellp", 1), dnsfunc=dns)


async def test_a_key_for_another_domain_is_never_used(dkim_pair: tuple[DkimKey, bytes]) -> None:
    key, _ = dkim_pair
    handler = Transactions()
    with Server(handler) as server:
        provider = smtp(server.port)
        with pytest.raises(PermanentProviderError, match=r"DKIM key is for product\.example"):
            await provider.send(email_with(dkim=key, sender=Address("a@other.example")))
        await provider.close()
    assert handler.data == []


async def test_verp_return_path_names_the_message() -> None:
    handler = Transactions()
    message = email_with()
    with Server(handler) as server:
        provider = smtp(server.port, bounce_domain="bounces.iep.test")
        await provider.send(message)
        await provider.close()
    assert handler.mail_from == [f"bounces+{message.message_id}@bounces.iep.test"]


async def test_a_server_silent_after_data_times_out_on_the_command_timeout() -> None:
    handler = Transactions(data_delay=3)
    with Server(handler) as server:
        provider = smtp(server.port, timeout=0.5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TransientProviderError):
            await provider.send(email_with())
        elapsed = loop.time() - started
        await provider.close()
    assert elapsed < 2.5  # the 0.5 s command timeout fired, not the server's 3 s answer


async def test_each_host_and_credentials_pair_has_its_own_pool() -> None:
    first, second = Transactions(), Transactions()
    with Server(first) as a, Server(second) as b:
        pa, pb = smtp(a.port), smtp(b.port)
        for _ in range(3):
            await pa.send(email_with())
            await pb.send(email_with())
        await pa.close()
        await pb.close()
    assert (len(first.data), len(second.data)) == (3, 3)


SMUGGLING_BODIES = [
    "a\n.\nMAIL FROM:<evil@attacker.example>\nRCPT TO:<victim@example.org>\nDATA\nsmuggled\n.\n",
    "a\r.\rMAIL FROM:<evil@attacker.example>\r\nDATA\r\nsmuggled\r\n",
    "a\n.\r\nMAIL FROM:<evil@attacker.example>\r\nDATA\r\nsmuggled\r\n.\r\n",
    "a\r.\nMAIL FROM:<evil@attacker.example>\r\nDATA\r\nsmuggled\r\n.\r\n",
    "a\r\n.\nMAIL FROM:<evil@attacker.example>\r\nDATA\r\nsmuggled\r\n.\r\n",
    "a\r\n.\rMAIL FROM:<evil@attacker.example>\r\nDATA\r\nsmuggled\r\n.\r\n",
    "a\r\n.\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\nsmuggled\r\n.\r\n",
    "a\n.\n",
    "a\r\n.\r\n",
    ".\r\nMAIL FROM:<evil@attacker.example>\r\nDATA\r\n",
    "a\r\n..\r\n.\r\nQUIT\r\n",
    "a\x00\r\n.\r\nMAIL FROM:<evil@attacker.example>\r\n",
    "a\r\r\n.\r\r\nMAIL FROM:<evil@attacker.example>\r\n",
    "a\n\r.\n\rMAIL FROM:<evil@attacker.example>\n\r",
]


@pytest.mark.parametrize("where", ["text", "html"])
async def test_end_of_data_variants_in_bodies_make_exactly_one_transaction_per_message(where: str) -> None:
    handler = Transactions()
    with Server(handler) as server:
        provider = smtp(server.port)
        for body in SMUGGLING_BODIES:
            text = body.replace("\x00", "")  # NUL is refused at accept; the rest reaches the provider as is
            fields = {"text": text, "html": None} if where == "text" else {"html": text, "text": "plain"}
            await provider.send(email_with(**fields))
        await provider.close()
    assert len(SMUGGLING_BODIES) >= 10
    assert len(handler.mail_from) == len(SMUGGLING_BODIES)
    assert len(handler.data) == len(SMUGGLING_BODIES)
    assert "evil@attacker.example" not in handler.mail_from
    for data in handler.data:
        head, _, _ = data.partition(b"\r\n\r\n")
        assert b"Message-ID:" in head  # each DATA is a whole message of ours, not a smuggled fragment
