"""The address registry's own tables (seed 004's SMTP service), in a schema of their own: the registry reads and
writes only these, as a separate service with its own database would. Its view of the directory arrives only
through events."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

SCHEMA = "registry"
# Not the directory's metadata: the registry's tables are not part of the directory's declared schema.
registry_metadata = MetaData(schema=SCHEMA)

registry_users = Table(
    "users",
    registry_metadata,
    Column("user_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=False),
    Column("primary_address", Text, nullable=False),
    # The sequence number of the last event applied for this user: the next one applied is this + 1.
    Column("applied_sequence", Integer, nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

registry_addresses = Table(
    "addresses",
    registry_metadata,
    Column("address", Text, primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("deleted_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_registry_addresses_user", "user_id"),
)

# Every event applied (or seen as a repeat), by id: a second delivery of the same event is a no-op.
processed_events = Table(
    "processed_events",
    registry_metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(20), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Events that arrived before an earlier one of the same user: held here, applied when the gap closes.
parked_events = Table(
    "parked_events",
    registry_metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("document", JSONB, nullable=False),
    Column("parked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_registry_parked_user", "user_id", "sequence"),
)

# The dead-letter queue: events the registry cannot apply, with why, kept for inspection and requeue.
dead_events = Table(
    "dead_events",
    registry_metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("event_id", Text),
    Column("correlation_id", Text),
    Column("document", JSONB, nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("dead_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("requeued_at", DateTime(timezone=True)),
    Index("ix_registry_dead_waiting", "dead_at"),
)
