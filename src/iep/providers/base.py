"""The provider port (seed 003 §13): what every delivery backend takes and how it fails."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Address:
    email: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message. With a `content_id` it is an inline part the HTML shows as `cid:<id>`."""

    filename: str
    content: bytes
    content_type: str
    content_id: str | None = None

    @property
    def inline(self) -> bool:
        return self.content_id is not None


@dataclass(frozen=True, slots=True)
class DkimKey:
    """The sender domain's signing key: d= is `domain`, the public key is at `<selector>._domainkey.<domain>`."""

    domain: str
    selector: str
    private_key: bytes  # PEM

    def __repr__(self) -> str:  # never print the key
        return f"DkimKey(domain={self.domain!r}, selector={self.selector!r})"


@dataclass(frozen=True, slots=True)
class OutgoingEmail:
    """A rendered message, ready to leave. Bcc is envelope-only: it never becomes a header."""

    message_id: uuid.UUID
    sender: Address
    to: tuple[str, ...]
    subject: str
    html: str | None
    text: str | None
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tenant_id: uuid.UUID | None = None
    attachments: tuple[Attachment, ...] = ()
    # RFC 8058 one-click unsubscribe: an https URL the tenant enabled; IEP writes both List-Unsubscribe headers.
    list_unsubscribe: str | None = None
    # Set when the sender domain has a key; providers that speak SMTP sign with it.
    dkim: DkimKey | None = None

    @property
    def envelope_recipients(self) -> tuple[str, ...]:
        return self.to + self.cc + self.bcc


@dataclass(frozen=True, slots=True)
class SendResult:
    provider: str
    provider_message_id: str
    # The provider's own words (SMTP reply, HTTP status line), kept in the `sent` event.
    response: str = ""


class ProviderError(Exception):
    """A send that did not happen. `transient` says whether trying again later can help."""

    transient: bool = True

    def __init__(
        self, message: str, *, code: int | None = None, provider: str = "", about_recipients: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.provider = provider
        # The provider answered, about these recipients (a full mailbox, greylisting): its health is not in
        # question, so the answer stays out of the circuit breaker every tenant shares.
        self.about_recipients = about_recipients


class TransientProviderError(ProviderError):
    transient = True


class PermanentProviderError(ProviderError):
    transient = False


# Called by a provider once it holds what the send needs (a pooled connection), right before the send's first
# byte: it raises to call the send off. Waiting for a connection can outlast the caller's claim on the message.
Ready = Callable[[], None]


class Provider(Protocol):
    name: str

    async def send(self, email: OutgoingEmail, *, ready: Ready | None = None) -> SendResult: ...

    async def check_health(self) -> bool: ...

    async def close(self) -> None: ...
