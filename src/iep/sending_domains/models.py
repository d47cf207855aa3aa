"""DKIM keys of a tenant's sender domains (D-10, S6): the private key encrypted at rest."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, String, Table, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import UUID

from iep.kit.db import metadata

dkim_keys = Table(
    "dkim_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("domain", String(255), nullable=False),
    Column("selector", String(63), nullable=False),
    Column("private_key_encrypted", Text, nullable=False),
    # base64 DER SubjectPublicKeyInfo, what the DKIM TXT record's p= carries (public: not encrypted).
    Column("public_key", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("tenant_id", "domain"),
)
