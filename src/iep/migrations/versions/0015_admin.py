"""The dashboard's operators, sessions and audit log

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_operators",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_operators")),
        sa.UniqueConstraint("email", name=op.f("uq_admin_operators_email")),
    )
    op.create_table(
        "admin_sessions",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("operator_id", sa.UUID(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_admin_sessions")),
        sa.ForeignKeyConstraint(
            ["operator_id"],
            ["admin_operators.id"],
            name=op.f("fk_admin_sessions_operator_id_admin_operators"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_admin_sessions_operator_id"), "admin_sessions", ["operator_id"])
    op.create_table(
        "admin_audit",
        sa.Column("id", sa.UUID(), nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.Text(), nullable=True),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_audit")),
    )
    op.create_index(op.f("ix_admin_audit_created_at"), "admin_audit", ["created_at"])
    op.create_index(op.f("ix_admin_audit_action_actor_created_at"), "admin_audit", ["action", "actor", "created_at"])


def downgrade() -> None:
    op.drop_table("admin_audit")
    op.drop_table("admin_sessions")
    op.drop_table("admin_operators")
