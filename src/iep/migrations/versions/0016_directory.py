"""Directory (seed 004): users, addresses, events (the directory's outbox), audit log; the registry's schema

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

UUID = postgresql.UUID(as_uuid=True)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "directory_users",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("primary_address", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("deleted_at", TS),
    )
    op.create_index("ix_directory_users_tenant", "directory_users", ["tenant_id", "id"])
    op.create_table(
        "directory_addresses",
        sa.Column("address", sa.Text(), primary_key=True),
        sa.Column("tenant_id", UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", UUID, sa.ForeignKey("directory_users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("position", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_directory_addresses_user", "directory_addresses", ["user_id"])
    op.create_index("ix_directory_addresses_tenant", "directory_addresses", ["tenant_id"])
    op.create_table(
        "directory_events",
        sa.Column("id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column("schema_version", sa.SmallInteger(), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", TS),
        sa.Column("audited_at", TS),
        sa.UniqueConstraint("user_id", "sequence", name="uq_directory_events_user_sequence"),
    )
    op.create_index(
        "ix_directory_events_unpublished",
        "directory_events",
        ["created_at"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_index(
        "ix_directory_events_unaudited",
        "directory_events",
        ["created_at"],
        postgresql_where=sa.text("audited_at IS NULL"),
    )
    op.create_index("ix_directory_events_tenant", "directory_events", ["tenant_id"])
    op.create_table(
        "directory_audit_log",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", UUID, nullable=False, unique=True),
        sa.Column("tenant_id", UUID, sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=False),
        sa.Column("detail", postgresql.JSONB(), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("written_at", TS, server_default=sa.func.now(), nullable=False),
    )
    op.create_index("ix_directory_audit_log_user", "directory_audit_log", ["tenant_id", "user_id", "id"])
    _registry()


def _registry() -> None:
    """The registry's tables, in its own schema: a separate service's database, sharing only the server."""
    op.execute("CREATE SCHEMA IF NOT EXISTS registry")
    op.create_table(
        "users",
        sa.Column("user_id", UUID, primary_key=True),
        sa.Column("tenant_id", UUID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("primary_address", sa.Text(), nullable=False),
        sa.Column("applied_sequence", sa.Integer(), nullable=False),
        sa.Column("deleted_at", TS),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        schema="registry",
    )
    op.create_table(
        "addresses",
        sa.Column("address", sa.Text(), primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("deleted_at", TS),
        sa.Column("updated_at", TS, server_default=sa.func.now(), nullable=False),
        schema="registry",
    )
    op.create_index("ix_registry_addresses_user", "addresses", ["user_id"], schema="registry")
    op.create_table(
        "processed_events",
        sa.Column("event_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(20), nullable=False),
        sa.Column("processed_at", TS, server_default=sa.func.now(), nullable=False),
        schema="registry",
    )
    op.create_table(
        "parked_events",
        sa.Column("event_id", UUID, primary_key=True),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        sa.Column("parked_at", TS, server_default=sa.func.now(), nullable=False),
        schema="registry",
    )
    op.create_index("ix_registry_parked_user", "parked_events", ["user_id", "sequence"], schema="registry")
    op.create_table(
        "dead_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), primary_key=True),
        sa.Column("event_id", sa.Text()),
        sa.Column("correlation_id", sa.Text()),
        sa.Column("document", postgresql.JSONB(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("dead_at", TS, server_default=sa.func.now(), nullable=False),
        sa.Column("requeued_at", TS),
        schema="registry",
    )
    op.create_index("ix_registry_dead_waiting", "dead_events", ["dead_at"], schema="registry")


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS registry CASCADE")
    op.drop_table("directory_audit_log")
    op.drop_table("directory_events")
    op.drop_table("directory_addresses")
    op.drop_table("directory_users")
