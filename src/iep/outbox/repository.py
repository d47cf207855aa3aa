"""All SQL of the outbox: claim a batch (SKIP LOCKED, so relays never double-publish), remove it, sweep."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.outbox.models import outbox
from iep.queue.port import SEND_QUEUE


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


# A message that should have been worked on `stale` ago, has no outbox row waiting, no job in the postgres queue
# (a table cannot forget its rows: a backlog there is only slow) and was not re-published within `stale` either:
# its job is gone (a broker restarted without persistence, a purge). Publish it again; the send step is
# idempotent, so a job that was merely slow costs a no-op.
_SWEEP = text(
    """
WITH stuck AS (
  SELECT m.id FROM messages m
  WHERE m.status IN ('queued', 'scheduled', 'retry_scheduled', 'processing')
    AND CASE WHEN m.status = 'processing' THEN m.lease_until
             ELSE coalesce(m.next_attempt_at, m.created_at) END < :cutoff
    AND (m.requeued_at IS NULL OR m.requeued_at < :cutoff)
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id)
    AND NOT EXISTS (SELECT 1 FROM queue_jobs j WHERE j.message_id = m.id AND j.queue = :queue)
  ORDER BY m.created_at
  LIMIT :limit
  FOR UPDATE OF m SKIP LOCKED
), marked AS (
  UPDATE messages SET requeued_at = :now FROM stuck WHERE messages.id = stuck.id
  RETURNING messages.id, messages.tenant_id, messages.priority
), noted AS (
  INSERT INTO events (id, message_id, type, payload, created_at)
  SELECT gen_random_uuid(), id, 'requeued', '{"by": "sweeper"}'::jsonb, :now FROM marked
)
INSERT INTO outbox (topic, message_id, tenant_id, priority, available_at, created_at)
SELECT 'mail.send', id, tenant_id, CASE priority WHEN 'high' THEN 0 WHEN 'low' THEN 2 ELSE 1 END, :now, :now
FROM marked
RETURNING message_id
"""
)


async def requeue_stuck(conn: AsyncConnection, now: datetime, stale: timedelta, limit: int) -> int:
    rows = await conn.execute(_SWEEP, {"now": now, "cutoff": now - stale, "limit": limit, "queue": SEND_QUEUE})
    return len(rows.all())


async def lag(conn: AsyncConnection, now: datetime) -> tuple[float, int]:
    """Age in seconds of the oldest unpublished outbox row (0 when empty), and how many rows wait."""
    oldest, pending = (await conn.execute(select(func.min(outbox.c.created_at), func.count()))).one()
    return (max(0.0, (now - oldest).total_seconds()) if oldest else 0.0), int(pending)
