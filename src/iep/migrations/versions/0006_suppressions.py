"""suppressions: expiry, source and cause, lower-cased emails; consecutive hard-bounce counts

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Emails are compared lower-cased; where two spellings of one address exist, the oldest entry stays.
    op.execute(
        """
DELETE FROM suppression_list s USING suppression_list t
WHERE s.tenant_id = t.tenant_id AND lower(s.email) = lower(t.email) AND s.email <> t.email
  AND (s.created_at, s.id) > (t.created_at, t.id)
"""
    )
    op.execute("UPDATE suppression_list SET email = lower(email) WHERE email <> lower(email)")
    op.add_column("suppression_list", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "suppression_list",
        sa.Column("source", sa.String(length=50), server_default="manual", nullable=False),
    )
    op.add_column("suppression_list", sa.Column("message_id", sa.UUID(), nullable=True))
    op.add_column("suppression_list", sa.Column("diagnostic", sa.Text(), nullable=True))
    op.add_column(
        "suppression_list",
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    )
    op.create_check_constraint(op.f("ck_suppression_list_email_lower"), "suppression_list", "email = lower(email)")
    op.create_table(
        "bounce_counts",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("hard_bounces", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_bounce_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_bounce_counts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "email", name=op.f("pk_bounce_counts")),
    )


def downgrade() -> None:
    op.drop_table("bounce_counts")
    op.drop_constraint(op.f("ck_suppression_list_email_lower"), "suppression_list", type_="check")
    for column in ("updated_at", "diagnostic", "message_id", "source", "expires_at"):
        op.drop_column("suppression_list", column)
