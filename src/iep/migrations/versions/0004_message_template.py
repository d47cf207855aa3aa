"""messages.template: the named template a message renders with

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable with no default: adding it rewrites nothing and locks the table only for a moment (expand step).
    op.add_column("messages", sa.Column("template", sa.String(length=255), nullable=True))


def downgrade() -> None:
    op.drop_column("messages", "template")
