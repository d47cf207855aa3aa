"""All SQL of suppressions. Tenant-owned statements start from `iep.kit.scoping`; emails arrive lower-cased."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ColumnElement, bindparam, or_, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.ids import uuid7
from iep.kit.scoping import scoped_delete, scoped_select
from iep.suppressions.models import bounce_counts, suppression_list

COLUMNS = (
    suppression_list.c.id,
    suppression_list.c.email,
    suppression_list.c.reason,
    suppression_list.c.source,
    suppression_list.c.message_id,
    suppression_list.c.diagnostic,
    suppression_list.c.expires_at,
    suppression_list.c.created_at,
    suppression_list.c.updated_at,
)


def active(now: datetime) -> ColumnElement[bool]:
    """An entry suppresses until it expires; the accept statement spells the same rule in its own SQL."""
    return or_(suppression_list.c.expires_at.is_(None), suppression_list.c.expires_at > now)


# Insert or replace the entry, and say whether the address was suppressed just before (`was_active`): `old`
# reads the row as it was, since every part of one statement sees the same snapshot. Feedback does not replace
# an active complaint (`keep_complaint`): that is the stronger reason, and it never expires.
_UPSERT = text(
    """
WITH old AS (
  SELECT expires_at FROM suppression_list WHERE tenant_id = :tenant_id AND email = :email
), up AS (
  INSERT INTO suppression_list (id, tenant_id, email, reason, source, message_id, diagnostic, expires_at,
    created_at, updated_at)
  VALUES (:id, :tenant_id, :email, :reason, :source, :message_id, :diagnostic, :expires_at, :now, :now)
  ON CONFLICT (tenant_id, email) DO UPDATE SET reason = EXCLUDED.reason, source = EXCLUDED.source,
    message_id = EXCLUDED.message_id, diagnostic = EXCLUDED.diagnostic, expires_at = EXCLUDED.expires_at,
    updated_at = EXCLUDED.updated_at
  WHERE NOT :keep_complaint OR suppression_list.reason <> 'complaint'
    OR (suppression_list.expires_at IS NOT NULL AND suppression_list.expires_at <= :now)
  RETURNING id, email, reason, source, message_id, diagnostic, expires_at, created_at, updated_at
)
SELECT up.id, up.email, up.reason, up.source, up.message_id, up.diagnostic, up.expires_at, up.created_at,
  up.updated_at,
  EXISTS (SELECT 1 FROM old WHERE old.expires_at IS NULL OR old.expires_at > :now) AS was_active
FROM (SELECT 1) AS one LEFT JOIN up ON true
"""
).bindparams(
    bindparam("id", type_=UUID(as_uuid=True)),
    bindparam("tenant_id", type_=UUID(as_uuid=True)),
    bindparam("message_id", type_=UUID(as_uuid=True)),
    bindparam("keep_complaint", type_=Boolean),
)


async def upsert(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    email: str,
    *,
    reason: str,
    source: str,
    now: datetime,
    expires_at: datetime | None = None,
    message_id: uuid.UUID | None = None,
    diagnostic: str | None = None,
    keep_complaint: bool = False,
) -> dict[str, Any]:
    """The entry as written (`id` None when an active complaint was kept) and `was_active` before."""
    params = {
        "id": uuid7(),
        "tenant_id": tenant_id,
        "email": email,
        "reason": reason,
        "source": source,
        "message_id": message_id,
        "diagnostic": diagnostic,
        "expires_at": expires_at,
        "now": now,
        "keep_complaint": keep_complaint,
    }
    return dict((await conn.execute(_UPSERT, params)).one()._mapping)


async def delete(conn: AsyncConnection, tenant_id: uuid.UUID, email: str) -> bool:
    stmt = scoped_delete(suppression_list, tenant_id).where(suppression_list.c.email == email)
    return (await conn.execute(stmt.returning(suppression_list.c.id))).one_or_none() is not None


async def page(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    *,
    email: str | None,
    reason: str | None,
    limit: int,
    after: uuid.UUID | None,
) -> list[dict[str, Any]]:
    """Newest first by id (uuid7: creation order); keyset after `after`."""
    stmt = scoped_select(suppression_list, tenant_id, *COLUMNS)
    if email is not None:
        stmt = stmt.where(suppression_list.c.email == email)
    if reason is not None:
        stmt = stmt.where(suppression_list.c.reason == reason)
    if after is not None:
        stmt = stmt.where(suppression_list.c.id < after)
    stmt = stmt.order_by(suppression_list.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def suppressed_among(
    conn: AsyncConnection, tenant_id: uuid.UUID, emails: Sequence[str], now: datetime
) -> set[str]:
    if not emails:
        return set()
    stmt = scoped_select(suppression_list, tenant_id, suppression_list.c.email).where(
        suppression_list.c.email.in_(list(emails)), active(now)
    )
    return set((await conn.execute(stmt)).scalars())


async def bump_hard_bounces(conn: AsyncConnection, tenant_id: uuid.UUID, email: str, now: datetime) -> int:
    """One more consecutive hard bounce for the address; the count after it."""
    stmt = text(
        """
INSERT INTO bounce_counts (tenant_id, email, hard_bounces, last_bounce_at, updated_at)
VALUES (:tenant_id, :email, 1, :now, :now)
ON CONFLICT (tenant_id, email) DO UPDATE SET hard_bounces = bounce_counts.hard_bounces + 1,
  last_bounce_at = EXCLUDED.last_bounce_at, updated_at = EXCLUDED.updated_at
RETURNING hard_bounces
"""
    ).bindparams(bindparam("tenant_id", type_=UUID(as_uuid=True)))
    return int((await conn.execute(stmt, {"tenant_id": tenant_id, "email": email, "now": now})).scalar_one())


async def reset_hard_bounces(conn: AsyncConnection, tenant_id: uuid.UUID, email: str) -> None:
    await conn.execute(scoped_delete(bounce_counts, tenant_id).where(bounce_counts.c.email == email))


async def hard_bounces(conn: AsyncConnection, tenant_id: uuid.UUID, email: str) -> int:
    stmt = scoped_select(bounce_counts, tenant_id, bounce_counts.c.hard_bounces).where(bounce_counts.c.email == email)
    return int((await conn.execute(stmt)).scalar() or 0)
