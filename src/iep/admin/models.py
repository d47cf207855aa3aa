"""Operators (people who sign in to the dashboard), their server-side sessions, and what they did."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID

from iep.kit.db import metadata

admin_operators = Table(
    "admin_operators",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_login_at", DateTime(timezone=True)),
)

# A session is found by the SHA-256 of the cookie's token: a copy of this table opens no session.
admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", UUID(as_uuid=True), ForeignKey("admin_operators.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index(None, "operator_id"),
)

# Every admin action, and every sign-in attempt: who (the operator's email, kept if the operator goes), what, when.
admin_audit = Table(
    "admin_audit",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("actor", String(254), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", Text),
    Column("detail", JSONB),
    Column("client", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "created_at"),
    Index(None, "action", "actor", "created_at"),
)
