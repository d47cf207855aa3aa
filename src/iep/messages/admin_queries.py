"""Operator reads across tenants (CLI, later the dashboard). Deliberately unscoped: admin only."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.messages.models import messages
from iep.messages.repository import events_of
from iep.tenancy.models import tenants

_SUMMARY = (
    messages.c.id,
    tenants.c.slug.label("tenant"),
    messages.c.status,
    messages.c["to"],
    func.coalesce(messages.c.rendered_subject, messages.c.subject).label("subject"),
    messages.c.provider,
    messages.c.attempts,
    messages.c.last_error,
    messages.c.created_at,
    messages.c.sent_at,
    messages.c.dead_lettered_at,
)


async def recent(
    conn: AsyncConnection, *, tenant_slug: str | None, status: str | None, limit: int, dead_lettered: bool = False
) -> list[dict[str, Any]]:
    stmt = select(*_SUMMARY).join(tenants, tenants.c.id == messages.c.tenant_id)
    if dead_lettered:
        stmt = stmt.where(messages.c.dead_lettered_at.is_not(None))
    if tenant_slug:
        stmt = stmt.where(tenants.c.slug == tenant_slug)
    if status:
        stmt = stmt.where(messages.c.status == status)
    rows = await conn.execute(stmt.order_by(messages.c.created_at.desc()).limit(limit))
    return [dict(r._mapping) for r in rows]


async def one_with_events(conn: AsyncConnection, message_id: uuid.UUID) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            select(*_SUMMARY).join(tenants, tenants.c.id == messages.c.tenant_id).where(messages.c.id == message_id)
        )
    ).one_or_none()
    if row is None:
        return None
    found = dict(row._mapping)
    found["events"] = await events_of(conn, message_id)
    return found


async def tenant_of(conn: AsyncConnection, message_id: uuid.UUID) -> uuid.UUID | None:
    found: uuid.UUID | None = (
        await conn.execute(select(messages.c.tenant_id).where(messages.c.id == message_id))
    ).scalar_one_or_none()
    return found
