"""api keys: when a key was revoked, and which key replaced it in a rotation

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_keys", sa.Column("rotated_to", sa.String(length=8), nullable=True))
    # Keys revoked before this column existed: their revocation time is unknown, the creation time bounds it.
    op.execute("UPDATE api_keys SET revoked_at = created_at WHERE NOT active")


def downgrade() -> None:
    op.drop_column("api_keys", "rotated_to")
    op.drop_column("api_keys", "revoked_at")
