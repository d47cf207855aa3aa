"""All SQL of the retention sweep: expired attachment files, and the bodies and events of old finished messages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

# One sweep at a time across every relay replica: a transaction-scoped advisory lock ("iep_ret" in ASCII).
LOCK_ID = 0x6965705F726574

_TRY_LOCK = text("SELECT pg_try_advisory_xact_lock(:id)")

# The oldest files still stored, locked for this transaction: a second sweeper skips them, never deletes twice.
_EXPIRED_ATTACHMENTS = text(
    """
SELECT id, storage_key FROM attachments
WHERE purged_at IS NULL AND created_at < :cutoff
ORDER BY created_at
LIMIT :limit
FOR UPDATE SKIP LOCKED
"""
)

# Of these stored keys, the ones a row still names (a file whose row is purged or gone is no one's).
_NAMED_KEYS = text(
    "SELECT storage_key FROM attachments WHERE storage_key = ANY(:keys) AND purged_at IS NULL"
).bindparams(bindparam("keys", type_=ARRAY(Text)))

_MARK_PURGED = text("UPDATE attachments SET purged_at = :now WHERE id = ANY(:ids)").bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True)))
)

# Bodies (raw and rendered) and variables of finished messages accepted before the cutoff are blanked, and their
# events deleted; the row (ids, status, recipients, provider ids) stays for lookups and counts.
_PURGE_MESSAGES = text(
    """
WITH old AS (
  SELECT id FROM messages
  WHERE created_at < :cutoff AND status = ANY(:statuses)
    AND (html_body IS NOT NULL OR text_body IS NOT NULL OR rendered_html IS NOT NULL
         OR rendered_text IS NOT NULL OR variables IS NOT NULL)
  ORDER BY created_at
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
), blanked AS (
  UPDATE messages m SET html_body = NULL, text_body = NULL, rendered_html = NULL, rendered_text = NULL,
    variables = NULL
  FROM old WHERE m.id = old.id
  RETURNING m.id
), gone AS (
  DELETE FROM events e USING blanked b WHERE e.message_id = b.id RETURNING e.id
)
SELECT (SELECT count(id) FROM blanked) AS messages, (SELECT count(id) FROM gone) AS events
"""
).bindparams(bindparam("statuses", type_=ARRAY(Text)))


async def try_lock(conn: AsyncConnection) -> bool:
    return bool((await conn.execute(_TRY_LOCK, {"id": LOCK_ID})).scalar_one())


async def expired_attachments(conn: AsyncConnection, cutoff: datetime, limit: int) -> list[dict[str, Any]]:
    rows = await conn.execute(_EXPIRED_ATTACHMENTS, {"cutoff": cutoff, "limit": limit})
    return [dict(r._mapping) for r in rows]


async def named_keys(conn: AsyncConnection, keys: Sequence[str]) -> set[str]:
    return {r.storage_key for r in await conn.execute(_NAMED_KEYS, {"keys": list(keys)})}


async def mark_purged(conn: AsyncConnection, ids: Sequence[uuid.UUID], now: datetime) -> None:
    if ids:
        await conn.execute(_MARK_PURGED, {"ids": list(ids), "now": now})


async def purge_messages(
    conn: AsyncConnection, cutoff: datetime, statuses: Sequence[str], limit: int
) -> tuple[int, int]:
    row = (await conn.execute(_PURGE_MESSAGES, {"cutoff": cutoff, "statuses": list(statuses), "limit": limit})).one()
    return int(row.messages), int(row.events)
