"""sender domain verification: when and how each domain last checked out, and the DKIM public key

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("allowed_sender_domains", sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("allowed_sender_domains", sa.Column("checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "allowed_sender_domains",
        sa.Column("check_results", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    # Existing keys keep a NULL here; their public half is derived from the private key when shown.
    op.add_column("dkim_keys", sa.Column("public_key", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("dkim_keys", "public_key")
    op.drop_column("allowed_sender_domains", "check_results")
    op.drop_column("allowed_sender_domains", "checked_at")
    op.drop_column("allowed_sender_domains", "verified_at")
