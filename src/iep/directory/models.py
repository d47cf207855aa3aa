"""The directory (seed 004, SPEC R1-R4): a tenant's users, their addresses, and the events and audit owed.

An address belongs to one user for good (`directory_addresses.address` is the primary key, across tenants):
that constraint, not a check before the insert, is what keeps two concurrent creates from both winning.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from iep.kit.db import metadata

directory_users = Table(
    "directory_users",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("primary_address", Text, nullable=False),
    # The sequence number of the user's last event: each change bumps it, in the change's own UPDATE.
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A soft delete: the row and its addresses stay, so an address is never handed to someone else.
    Column("deleted_at", DateTime(timezone=True)),
    Index("ix_directory_users_tenant", "tenant_id", "id"),
)

directory_addresses = Table(
    "directory_addresses",
    metadata,
    # Lower-cased; unique across the platform (SPEC R2).
    Column("address", Text, primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", UUID(as_uuid=True), ForeignKey("directory_users.id", ondelete="CASCADE"), nullable=False),
    # primary | secondary; exactly one primary per user, kept by the service.
    Column("kind", String(10), nullable=False),
    # Order of arrival among a user's secondaries.
    Column("position", Integer, nullable=False, server_default=text("0")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_directory_addresses_user", "user_id"),
    Index("ix_directory_addresses_tenant", "tenant_id"),
)

# The directory's outbox: one row per change, written in the change's transaction. The relay publishes it
# (`published_at`) and the audit writer turns it into an audit row (`audited_at`): the row is both intents.
directory_events = Table(
    "directory_events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_type", String(20), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("correlation_id", String(100), nullable=False),
    # The event document as published (docs/directory.md): the registry sees exactly this.
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Column("audited_at", DateTime(timezone=True)),
    UniqueConstraint("user_id", "sequence", name="uq_directory_events_user_sequence"),
    Index("ix_directory_events_unpublished", "created_at", postgresql_where=text("published_at IS NULL")),
    Index("ix_directory_events_unaudited", "created_at", postgresql_where=text("audited_at IS NULL")),
    Index("ix_directory_events_tenant", "tenant_id"),
)

directory_audit_log = Table(
    "directory_audit_log",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    # One audit row per event, however often the writer sees it.
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("action", String(20), nullable=False),
    Column("correlation_id", String(100), nullable=False),
    Column("detail", JSONB, nullable=False),
    # When the change happened (the event's time), and when the audit row was written.
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("written_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_directory_audit_log_user", "tenant_id", "user_id", "id"),
)
