"""messages.recipients: to + cc + bcc lower-cased, with a GIN index, for the exact recipient filter of the list

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "messages",
        sa.Column("recipients", postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'::text[]"), nullable=False),
    )
    # Existing messages: the same normalization the accept statement applies (trimmed, lower-cased, each once).
    op.execute(
        """
        UPDATE messages SET recipients = ARRAY(
          SELECT DISTINCT lower(btrim(r))
          FROM unnest("to" || coalesce(cc, '{}'::text[]) || coalesce(bcc, '{}'::text[])) AS r
          ORDER BY 1
        )
        """
    )
    op.create_index("ix_messages_recipients", "messages", ["recipients"], unique=False, postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_messages_recipients", table_name="messages", postgresql_using="gin")
    op.drop_column("messages", "recipients")
