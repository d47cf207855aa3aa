"""What an operator does to messages across tenants (the dashboard, the CLI): find, show, retry, requeue, count."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.kit.problems import Conflict, NotFound
from iep.messages import admin_queries, repository
from iep.messages.admin_queries import Search
from iep.messages.service import decode_cursor, encode_cursor

# A bulk retry moves at most this many messages per confirmation; the page says so when more matched.
BULK_LIMIT = 1000


async def search(
    engine: AsyncEngine, flt: Search, *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    after = decode_cursor(cursor) if cursor else None
    async with engine.connect() as conn:
        rows = await admin_queries.search(conn, flt, limit=limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (encode_cursor(rows[-1]["created_at"], rows[-1]["id"]) if more and rows else None)


async def message(engine: AsyncEngine, message_id: uuid.UUID) -> dict[str, Any]:
    async with engine.connect() as conn:
        row = await admin_queries.full(conn, message_id)
    if row is None:
        raise NotFound("no such message")
    return row


async def retry(engine: AsyncEngine, message_id: uuid.UUID, clock: Clock, *, dead_lettered_only: bool = False) -> None:
    """A6 retry or D-8 requeue on the operator's word: the same move as the tenant's own API call."""
    async with engine.begin() as conn:
        tenant_id = await admin_queries.tenant_of(conn, message_id)
        if tenant_id is not None and await repository.requeue(
            conn, tenant_id, message_id, clock.now(), dead_lettered_only=dead_lettered_only
        ):
            return
        row = await admin_queries.full(conn, message_id) if tenant_id else None
    if row is None:
        raise NotFound("no such message")
    if dead_lettered_only:
        raise NotFound("this message is not in the dead-letter queue")
    raise Conflict(f"only failed or bounced messages can be retried; this one is `{row['status']}`")


async def retryable(engine: AsyncEngine, flt: Search) -> int:
    async with engine.connect() as conn:
        return len(await admin_queries.retryable_ids(conn, flt, limit=BULK_LIMIT))


async def bulk_retry(engine: AsyncEngine, flt: Search, clock: Clock) -> int:
    """Retry every failed or bounced message the filter finds (up to BULK_LIMIT), in one transaction."""
    now = clock.now()
    moved = 0
    async with engine.begin() as conn:
        for message_id, tenant_id in await admin_queries.retryable_ids(conn, flt, limit=BULK_LIMIT):
            moved += await repository.requeue(conn, tenant_id, message_id, now)
    return moved


async def delivery_series(engine: AsyncEngine, now: datetime, hours: int) -> dict[str, Any]:
    """Per-hour outcome counts and accept-to-sent latency over the last `hours`, every hour present."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    async with engine.connect() as conn:
        outcomes = await admin_queries.outcomes_per_hour(conn, start)
        latency = await admin_queries.latency_per_hour(conn, start)
    slots = [start + timedelta(hours=i) for i in range(hours)]
    counts = {kind: [0] * hours for kind in admin_queries.CHARTED}
    index = {slot: i for i, slot in enumerate(slots)}
    for row in outcomes:
        if row["hour"] in index:
            counts[row["type"]][index[row["hour"]]] = int(row["n"])
    p50 = [0.0] * hours
    p95 = [0.0] * hours
    for row in latency:
        if row["hour"] in index:
            p50[index[row["hour"]]] = float(row["p50"] or 0)
            p95[index[row["hour"]]] = float(row["p95"] or 0)
    return {"hours": slots, "counts": counts, "p50": p50, "p95": p95}
