"""Messages, their attachments and lifecycle events (seed 003 §7, plus the columns delivery needs)."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from iep.kit.db import metadata

messages = Table(
    "messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("to", ARRAY(Text), nullable=False),
    Column("cc", ARRAY(Text)),
    Column("bcc", ARRAY(Text)),
    Column("from_email", String(255), nullable=False),
    Column("from_name", String(255)),
    Column("reply_to", String(255)),
    # Empty when a named template gives the subject.
    Column("subject", Text, nullable=False),
    Column("html_body", Text),
    Column("text_body", Text),
    Column("rendered_subject", Text),
    Column("rendered_html", Text),
    Column("rendered_text", Text),
    Column("variables", JSONB),
    # The named template as resolved at accept (`<tenant-slug>/NAME` or `_shared/NAME`); its data is `variables`.
    Column("template", String(255)),
    Column("metadata", JSONB),
    Column("tags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("headers", JSONB),
    Column("status", String(20), nullable=False),
    Column("provider", String(50)),
    Column("provider_msg_id", String(255)),
    Column("priority", String(10), nullable=False, server_default=text("'normal'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("max_attempts", Integer, nullable=False, server_default=text("5")),
    Column("last_error", Text),
    Column("idempotency_key", String(255)),
    # SHA-256 of the canonical request, so a reused key with another payload is told apart (A3).
    Column("request_hash", String(64)),
    Column("suppressed_recipients", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    # to + cc + bcc, lower-cased, each once: what `GET /v1/messages?to=` matches exactly, through a GIN index.
    Column("recipients", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    Column("trace_id", String(32)),
    Column("scheduled_at", DateTime(timezone=True)),
    Column("next_attempt_at", DateTime(timezone=True)),
    # The worker holding the message and until when (D6): an expired lease means the holder died.
    Column("lease_owner", String(64)),
    Column("lease_until", DateTime(timezone=True)),
    Column("dead_lettered_at", DateTime(timezone=True)),
    # When the sweeper last re-published the message because no job for it had turned up (outbox.sweeper).
    Column("requeued_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Every index gets an entry at each of a message's three writes (accepted, claimed, sent): none that another
    # one covers (migration 0017).
    Index(None, "status"),
    Index(None, "created_at"),
    Index(None, "tenant_id", "status"),
    Index(None, "tenant_id", "created_at"),
    Index("ix_messages_provider_msg_id", "provider_msg_id", postgresql_where=text("provider_msg_id IS NOT NULL")),
    Index("ix_messages_recipients", "recipients", postgresql_using="gin"),
    Index(
        "ix_messages_unfinished",
        "created_at",
        postgresql_where=text("status IN ('queued', 'scheduled', 'retry_scheduled', 'processing')"),
    ),
    Index(
        "uq_messages_tenant_id_idempotency_key",
        "tenant_id",
        "idempotency_key",
        unique=True,
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
)

attachments = Table(
    "attachments",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("message_id", UUID(as_uuid=True), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("filename", String(255), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("storage_key", Text, nullable=False),
    # Set for an inline part the HTML shows as cid:<content_id>.
    Column("content_id", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Set when the retention sweep deleted the file (ATTACHMENT_RETENTION_DAYS); the row stays as the record.
    Column("purged_at", DateTime(timezone=True)),
    Index(None, "message_id"),
    Index("ix_attachments_unpurged", "created_at", postgresql_where=text("purged_at IS NULL")),
)

events = Table(
    "events",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("message_id", UUID(as_uuid=True), ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
    Column("type", String(30), nullable=False),
    Column("payload", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "message_id", "created_at"),
)
