"""Tenant webhooks (seed 003 §6.5, §14; SPEC F4): endpoint → event → delivery attempt, as Polar and Svix keep them.

An event row is one notification owed to one endpoint; it is the source of truth for what still has to be
delivered (`status = 'pending'` and `next_attempt_at` due). A delivery row is one HTTP attempt, kept for the
tenant's delivery log.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from iep.kit.db import metadata

webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("url", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    # AES-GCM ciphertext (iep.kit.crypto) of the `whsec_…` secret, bound to this tenant and endpoint.
    Column("secret_encrypted", Text, nullable=False),
    Column("description", Text),
    # False when the tenant switched it off or IEP disabled it after persistent failure (`disabled_reason`).
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("disabled_at", DateTime(timezone=True)),
    Column("disabled_reason", Text),
    # Failed attempts since the last 2xx, and when that run of failures began.
    Column("consecutive_failures", Integer, nullable=False, server_default=text("0")),
    Column("failing_since", DateTime(timezone=True)),
    Column("last_success_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "tenant_id"),
)

webhook_events = Table(
    "webhook_events",
    metadata,
    # Also the `webhook-id` header (`evt_<hex>`), the same on every attempt.
    Column("id", UUID(as_uuid=True), primary_key=True),
    # Creation order: events of one message reach an endpoint in this order.
    Column("seq", BigInteger, Identity(always=True), nullable=False),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("endpoint_id", UUID(as_uuid=True), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("message_id", UUID(as_uuid=True), nullable=False),
    Column("event_type", String(40), nullable=False),
    # The payload's `data` object (seed 003 §14), frozen when the event happened.
    Column("data", JSONB, nullable=False),
    Column("status", String(20), nullable=False, server_default=text("'pending'")),  # pending|delivered|failed
    Column("attempts", SmallInteger, nullable=False, server_default=text("0")),
    Column("max_attempts", SmallInteger, nullable=False, server_default=text("8")),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    # When the dispatcher last handed it to the webhook queue; NULL = owed to the queue.
    Column("published_at", DateTime(timezone=True)),
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    # A manual replay: delivered once even to a disabled endpoint, never counted toward disabling it.
    Column("replay", Boolean, nullable=False, server_default=text("false")),
    Column("last_error", Text),
    Column("delivered_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_webhook_events_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
    Index("ix_webhook_events_line", "endpoint_id", "message_id", "seq"),
    Index(None, "tenant_id"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("endpoint_id", UUID(as_uuid=True), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", UUID(as_uuid=True), ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False),
    Column("attempt", SmallInteger, nullable=False),
    Column("replay", Boolean, nullable=False, server_default=text("false")),
    Column("success", Boolean, nullable=False),
    Column("status_code", SmallInteger),
    Column("latency_ms", Integer, nullable=False),
    # The first 1 KB of the answer, and what went wrong when there was no usable answer.
    Column("response_body", Text),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at", "id"),
    Index(None, "event_id"),
)
