"""provider events in: raw events stored once, per-recipient outcomes, webhook replay tokens

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_events",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("message_id", sa.UUID(), nullable=True),
        sa.Column("provider_msg_id", sa.String(length=255), nullable=True),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=True),
        sa.Column("bounce", sa.String(length=10), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_provider_events_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_provider_events_message_id_messages"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_events")),
        sa.UniqueConstraint("provider", "event_id", name=op.f("uq_provider_events_provider_event_id")),
    )
    op.create_index(op.f("ix_provider_events_message_id"), "provider_events", ["message_id"])
    op.create_index(op.f("ix_provider_events_tenant_id_received_at"), "provider_events", ["tenant_id", "received_at"])
    op.create_table(
        "message_recipients",
        sa.Column("message_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_message_recipients_message_id_messages"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("message_id", "email", name=op.f("pk_message_recipients")),
    )
    op.create_table(
        "provider_event_nonces",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "nonce", name=op.f("pk_provider_event_nonces")),
    )
    op.create_index(op.f("ix_provider_event_nonces_seen_at"), "provider_event_nonces", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_provider_event_nonces_seen_at"), table_name="provider_event_nonces")
    op.drop_table("provider_event_nonces")
    op.drop_table("message_recipients")
    op.drop_index(op.f("ix_provider_events_tenant_id_received_at"), table_name="provider_events")
    op.drop_index(op.f("ix_provider_events_message_id"), table_name="provider_events")
    op.drop_table("provider_events")
