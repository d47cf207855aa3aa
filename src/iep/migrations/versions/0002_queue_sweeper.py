"""messages.requeued_at and the index the queue sweeper reads

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("messages", sa.Column("requeued_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_messages_unfinished",
        "messages",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('queued', 'scheduled', 'retry_scheduled', 'processing')"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unfinished", table_name="messages")
    op.drop_column("messages", "requeued_at")
