"""Jobs of the `postgres` queue backend, claimed with FOR UPDATE SKIP LOCKED (D5)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from iep.kit.db import metadata

queue_jobs = Table(
    "queue_jobs",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("queue", String(50), nullable=False),
    Column("message_id", UUID(as_uuid=True), nullable=False),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("priority", SmallInteger, nullable=False, server_default=text("1")),
    Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deliveries", Integer, nullable=False, server_default=text("0")),
    Column("locked_by", String(64)),
    Column("locked_until", DateTime(timezone=True)),
    Column("payload", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_queue_jobs_ready", "queue", "priority", "available_at"),
    Index("ix_queue_jobs_tenant", "queue", "tenant_id", "priority", "available_at", "id"),
)
