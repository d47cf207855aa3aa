"""The monthly quota counter kept in PostgreSQL when there is no Redis (S4): one row per tenant and month."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, ForeignKey, PrimaryKeyConstraint, Table, func, text
from sqlalchemy.dialects.postgresql import UUID

from iep.kit.db import metadata

tenant_usage = Table(
    "tenant_usage",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    # The first day of the month (UTC) the count belongs to.
    Column("period", Date, nullable=False),
    # Messages taken from the quota: seeded from the count of accepted messages, then moved atomically.
    Column("used", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id", "period"),
)
