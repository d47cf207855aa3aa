"""Operator reads across tenants (CLI and dashboard). Deliberately unscoped: admin only."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.messages.models import events, messages
from iep.messages.repository import attachments_of, events_of, normalized_recipient
from iep.messages.status import RETRYABLE
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


@dataclass(frozen=True, slots=True)
class Search:
    """The dashboard's message filter, across tenants. `q` is a message id, an exact recipient, or subject text."""

    tenant_slug: str | None = None
    status: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    q: str | None = None
    dead_lettered: bool = False


def _filtered(stmt: Any, flt: Search) -> Any:
    if flt.tenant_slug:
        stmt = stmt.where(tenants.c.slug == flt.tenant_slug)
    if flt.status:
        stmt = stmt.where(messages.c.status == flt.status)
    if flt.dead_lettered:
        stmt = stmt.where(messages.c.dead_lettered_at.is_not(None))
    if flt.date_from:
        stmt = stmt.where(messages.c.created_at >= flt.date_from)
    if flt.date_to:
        stmt = stmt.where(messages.c.created_at < flt.date_to)
    q = (flt.q or "").strip()
    if q:
        try:
            stmt = stmt.where(messages.c.id == uuid.UUID(q))
        except ValueError:
            if "@" in q:  # the GIN index on recipients, as the API's `to` filter
                stmt = stmt.where(messages.c.recipients.contains([normalized_recipient(q)]))
            else:  # subject text: a scan, bounded by the other filters; an operator's occasional question
                pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                subject = func.coalesce(messages.c.rendered_subject, messages.c.subject)
                stmt = stmt.where(subject.ilike(pattern, escape="\\"))
    return stmt


async def search(
    conn: AsyncConnection, flt: Search, *, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[dict[str, Any]]:
    """Newest first, keyset-paged after (created_at, id)."""
    stmt = _filtered(select(*_SUMMARY).join(tenants, tenants.c.id == messages.c.tenant_id), flt)
    if after is not None:
        stmt = stmt.where(tuple_(messages.c.created_at, messages.c.id) < tuple_(*after))
    stmt = stmt.order_by(messages.c.created_at.desc(), messages.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def retryable_ids(conn: AsyncConnection, flt: Search, *, limit: int) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(message id, tenant id) of what a bulk retry of this filter would move: failed or bounced only."""
    stmt = _filtered(
        select(messages.c.id, messages.c.tenant_id).join(tenants, tenants.c.id == messages.c.tenant_id), flt
    ).where(messages.c.status.in_([s.value for s in RETRYABLE]))
    rows = await conn.execute(stmt.order_by(messages.c.created_at, messages.c.id).limit(limit))
    return [(r.id, r.tenant_id) for r in rows]


async def full(conn: AsyncConnection, message_id: uuid.UUID) -> dict[str, Any] | None:
    """Every column of one message, its tenant's slug, events and attachments (the dashboard's message page)."""
    row = (
        await conn.execute(
            select(messages, tenants.c.slug.label("tenant"))
            .join(tenants, tenants.c.id == messages.c.tenant_id)
            .where(messages.c.id == message_id)
        )
    ).one_or_none()
    if row is None:
        return None
    found = dict(row._mapping)
    found["events"] = await events_of(conn, message_id)
    found["attachments"] = await attachments_of(conn, message_id)
    return found


CHARTED = ("sent", "delivered", "bounced", "failed")


async def outcomes_per_hour(conn: AsyncConnection, since: datetime) -> list[dict[str, Any]]:
    """How many messages reached each charted status per hour, from their events."""
    hour = func.date_trunc("hour", events.c.created_at).label("hour")
    stmt = (
        select(hour, events.c.type, func.count().label("n"))
        .where(events.c.created_at >= since, events.c.type.in_(CHARTED))
        .group_by(hour, events.c.type)
        .order_by(hour)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def latency_per_hour(conn: AsyncConnection, since: datetime) -> list[dict[str, Any]]:
    """Accept-to-sent time per hour of sending: the median and the 95th percentile, in seconds."""
    hour = func.date_trunc("hour", messages.c.sent_at).label("hour")
    seconds = func.extract("epoch", messages.c.sent_at - messages.c.created_at)
    stmt = (
        select(
            hour,
            func.percentile_cont(0.5).within_group(seconds).label("p50"),
            func.percentile_cont(0.95).within_group(seconds).label("p95"),
        )
        .where(messages.c.sent_at >= since)
        .group_by(hour)
        .order_by(hour)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]
