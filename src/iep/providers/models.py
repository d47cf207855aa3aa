"""A tenant's own provider accounts (S6): the configuration, credentials included, encrypted at rest."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, String, Table, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID

from iep.kit.db import metadata

tenant_providers = Table(
    "tenant_providers",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(50), nullable=False),
    Column("kind", String(20), nullable=False),
    # AES-GCM ciphertext (iep.kit.crypto) of the JSON configuration, bound to this tenant and name.
    Column("config_encrypted", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("tenant_id", "name"),
)
