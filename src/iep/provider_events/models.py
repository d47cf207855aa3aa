"""What came back from providers, stored raw and once; each recipient's outcome; webhook replay tokens."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from iep.kit.db import metadata

provider_events = Table(
    "provider_events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("provider", String(20), nullable=False),
    # The provider's own id for the event (or a stable digest where it gives none): the idempotency key.
    Column("event_id", String(255), nullable=False),
    # Both NULL when the event matched none of our messages: kept, so nothing a provider said is lost.
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE")),
    Column("message_id", UUID(as_uuid=True), ForeignKey("messages.id", ondelete="SET NULL")),
    Column("provider_msg_id", String(255)),
    Column("type", String(30), nullable=False),
    Column("recipient", String(320)),
    Column("bounce", String(10)),
    Column("diagnostic", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("raw", JSONB, nullable=False),
    UniqueConstraint("provider", "event_id"),
    Index(None, "message_id"),
    Index(None, "tenant_id", "received_at"),
)

# One row per recipient that a provider said something final about; the message's status derives from these.
message_recipients = Table(
    "message_recipients",
    metadata,
    Column("message_id", UUID(as_uuid=True), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("status", String(20), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("message_id", "email"),
)

# Mailgun signs (timestamp, token), not the body: a token seen once is refused again while it could be fresh.
provider_event_nonces = Table(
    "provider_event_nonces",
    metadata,
    Column("provider", String(20), nullable=False),
    Column("nonce", String(255), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("provider", "nonce"),
    Index(None, "seen_at"),
)
