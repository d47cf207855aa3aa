"""queue_jobs by tenant: the postgres queue takes due jobs round-robin across tenants

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Serves both halves of the fair claim: the walk over the tenants that have jobs (one probe each) and each
    # tenant's due jobs in its own priority order.
    op.create_index(
        "ix_queue_jobs_tenant", "queue_jobs", ["queue", "tenant_id", "priority", "available_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_queue_jobs_tenant", table_name="queue_jobs")
