"""Fewer indexes to write per message: drop the two that others already cover, and keep NULLs out of one

`ix_messages_tenant_id` is the leading column of `(tenant_id, created_at)` and `(tenant_id, status)`; every lookup
by `idempotency_key` is a tenant's and uses the unique `(tenant_id, idempotency_key)`; `provider_msg_id` is NULL
until a message is sent, and no query looks a NULL up; the outbox's partial index on `id` held every row, since a
published row is deleted at once. Each message row is written three times (accepted, claimed, sent), and every
index gets an entry each time, so each index dropped saves three index writes per email.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_messages_tenant_id", table_name="messages")
    op.drop_index("ix_messages_idempotency_key", table_name="messages")
    op.drop_index("ix_messages_provider_msg_id", table_name="messages")
    op.create_index(
        "ix_messages_provider_msg_id",
        "messages",
        ["provider_msg_id"],
        postgresql_where=sa.text("provider_msg_id IS NOT NULL"),
    )
    op.drop_index("ix_outbox_unpublished", table_name="outbox")


def downgrade() -> None:
    op.create_index("ix_outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL"))
    op.drop_index("ix_messages_provider_msg_id", table_name="messages")
    op.create_index("ix_messages_provider_msg_id", "messages", ["provider_msg_id"])
    op.create_index("ix_messages_idempotency_key", "messages", ["idempotency_key"])
    op.create_index("ix_messages_tenant_id", "messages", ["tenant_id"])
