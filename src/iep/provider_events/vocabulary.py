"""One vocabulary for everything that comes back after a send (django-anymail's `EventType` is the model).

Every inbound source — a provider's signed webhook or a DSN / ARF report at the VERP address — is mapped to
`ProviderEvent` before IEP acts on it, so the rules that follow (status moves forward only, suppression,
tenant webhooks) are written once.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    DELIVERED = "delivered"  # the receiving server accepted it
    BOUNCED = "bounced"  # the receiving server refused it; `bounce` says hard or soft
    DEFERRED = "deferred"  # the provider is still trying (a temporary refusal on its side)
    COMPLAINED = "complained"  # the recipient marked it as spam (feedback loop, ARF)
    REJECTED = "rejected"  # the provider refused before trying (its own suppression, policy)
    OPENED = "opened"
    CLICKED = "clicked"
    UNSUBSCRIBED = "unsubscribed"
    UNKNOWN = "unknown"  # stored for the record, changes nothing


class BounceKind(StrEnum):
    HARD = "hard"  # permanent: the address does not exist, the domain does not accept mail (5.x.x)
    SOFT = "soft"  # temporary: mailbox full, greylisting, the server was busy (4.x.x)


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """One normalized event about one recipient of one message."""

    provider: str  # `ses`, `sendgrid`, `mailgun`, `postmark`, `resend`, or `smtp` for a DSN / ARF report
    event_id: str  # the provider's own id; a stable digest of the raw event where the provider gives none
    type: EventType
    occurred_at: datetime
    provider_message_id: str | None = None
    message_id: uuid.UUID | None = None  # IEP's own id, where the event carries it (VERP, custom args)
    recipient: str | None = None
    bounce: BounceKind | None = None
    diagnostic: str | None = None  # what the remote server said, e.g. "550 5.1.1 user unknown"
    raw: Mapping[str, Any] = field(default_factory=dict)
