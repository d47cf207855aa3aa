"""The outbox: a row per job to publish, written in the same transaction as the message (D4)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Identity, SmallInteger, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID

from iep.kit.db import metadata

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("topic", String(50), nullable=False),
    Column("message_id", UUID(as_uuid=True), nullable=False),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    # 0 = high, 1 = normal, 2 = low: sorts the way it is consumed.
    Column("priority", SmallInteger, nullable=False, server_default=text("1")),
    Column("available_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("payload", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
)
