"""Addresses a tenant must not send to (seed 003 §12), and the hard bounces counted towards that."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID

from iep.kit.db import metadata

suppression_list = Table(
    "suppression_list",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # Lower-cased: the accept statement and the send step compare against lower-cased recipients.
    Column("email", String(255), nullable=False),
    Column("reason", String(50), nullable=False),  # `manual`, `hard_bounce` or `complaint`
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # NULL = for good; past it, the entry is kept for the record but no longer suppresses.
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Column("source", String(50), nullable=False, server_default="manual"),  # `api`, `cli`, `provider_event`
    # What caused it, when a message's feedback did: the message and the remote server's words.
    Column("message_id", UUID(as_uuid=True), nullable=True),
    Column("diagnostic", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("tenant_id", "email"),
    CheckConstraint("email = lower(email)", name="email_lower"),
)

# Consecutive hard bounces per address: a delivery in between resets the count (see service.record_feedback).
bounce_counts = Table(
    "bounce_counts",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("email", String(255), nullable=False),
    Column("hard_bounces", Integer, nullable=False, server_default="0"),
    Column("last_bounce_at", DateTime(timezone=True), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id", "email"),
)
