"""attachments.purged_at: when the retention sweep deleted the file from storage (ATTACHMENT_RETENTION_DAYS)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("attachments", sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
    # The sweep reads the oldest files still stored: only those rows are in the index.
    op.create_index(
        "ix_attachments_unpurged", "attachments", ["created_at"], postgresql_where=sa.text("purged_at IS NULL")
    )


def downgrade() -> None:
    op.drop_index("ix_attachments_unpurged", table_name="attachments")
    op.drop_column("attachments", "purged_at")
