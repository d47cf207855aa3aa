"""All SQL of the outbox: claim a batch (SKIP LOCKED, so relays never double-publish) and remove it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.outbox.models import outbox


async def claim_batch(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    stmt = (
        select(outbox)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def remove(conn: AsyncConnection, ids: list[int]) -> None:
    await conn.execute(delete(outbox).where(outbox.c.id.in_(ids)))
