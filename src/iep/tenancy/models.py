"""Tenants, their API keys and allowed sender domains (seed 003 §7)."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from iep.kit.db import metadata

tenants = Table(
    "tenants",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("slug", String(100), nullable=False, unique=True),
    Column("settings", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255)),
    Column("key_hash", String(255), nullable=False),
    Column("key_prefix", String(8), nullable=False, unique=True),
    Column("scopes", ARRAY(Text), nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set with `active = false` by a revocation; `active` stays the flag authentication reads.
    Column("revoked_at", DateTime(timezone=True)),
    # The prefix of the key a rotation issued in this one's place; this one then expires after the grace.
    Column("rotated_to", String(8)),
    Index(None, "tenant_id"),
)

allowed_sender_domains = Table(
    "allowed_sender_domains",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("verified", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The last DNS verification (S5, iep.sending_domains): when, and its result per record.
    Column("verified_at", DateTime(timezone=True)),
    Column("checked_at", DateTime(timezone=True)),
    Column("check_results", JSONB),
    UniqueConstraint("tenant_id", "domain"),
)
