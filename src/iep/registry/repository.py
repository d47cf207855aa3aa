"""All SQL of the registry, on its own schema only (it never reads the directory's tables)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.registry.models import dead_events, parked_events, processed_events, registry_addresses, registry_users


async def lock_user(conn: AsyncConnection, user_id: uuid.UUID) -> None:
    """Events of one user are handled one at a time, whatever the consumer's concurrency, until commit."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:u, 5))"), {"u": str(user_id)})


async def seen(conn: AsyncConnection, event_id: uuid.UUID) -> bool:
    done = select(processed_events.c.event_id).where(processed_events.c.event_id == event_id)
    waiting = select(parked_events.c.event_id).where(parked_events.c.event_id == event_id)
    return (await conn.execute(done.union_all(waiting).limit(1))).first() is not None


async def applied_sequence(conn: AsyncConnection, user_id: uuid.UUID) -> int:
    stmt = select(registry_users.c.applied_sequence).where(registry_users.c.user_id == user_id)
    found = (await conn.execute(stmt)).scalar_one_or_none()
    return int(found or 0)


async def mark_processed(conn: AsyncConnection, event: dict[str, Any]) -> None:
    await conn.execute(
        pg_insert(processed_events)
        .values(
            event_id=event["event_id"], user_id=event["user_id"], sequence=event["sequence"], event_type=event["type"]
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


async def park(conn: AsyncConnection, event: dict[str, Any], document: dict[str, Any]) -> None:
    await conn.execute(
        pg_insert(parked_events)
        .values(event_id=event["event_id"], user_id=event["user_id"], sequence=event["sequence"], document=document)
        .on_conflict_do_nothing(index_elements=["event_id"])
    )


async def take_parked(conn: AsyncConnection, user_id: uuid.UUID, sequence: int) -> dict[str, Any] | None:
    """The parked event of this user with this sequence number, removed from the parking (one transaction)."""
    stmt = (
        delete(parked_events)
        .where(parked_events.c.user_id == user_id, parked_events.c.sequence == sequence)
        .returning(parked_events.c.document)
    )
    rows = (await conn.execute(stmt)).scalars().all()
    return dict(rows[0]) if rows else None


async def save_user(conn: AsyncConnection, values: dict[str, Any]) -> None:
    stmt = pg_insert(registry_users).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id"], set_={k: stmt.excluded[k] for k in values if k != "user_id"}
    )
    await conn.execute(stmt)


async def save_addresses(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    """Each address's kind and deletion for its user; an address another user holds is left as it is."""
    if not rows:
        return
    stmt = pg_insert(registry_addresses).values(rows)
    stmt = stmt.on_conflict_do_update(
        index_elements=["address"],
        set_={
            "kind": stmt.excluded.kind,
            "deleted_at": stmt.excluded.deleted_at,
            "updated_at": stmt.excluded.updated_at,
        },
        where=registry_addresses.c.user_id == stmt.excluded.user_id,
    )
    await conn.execute(stmt)


async def taken(conn: AsyncConnection, addresses: Sequence[str]) -> list[str]:
    if not addresses:
        return []
    stmt = select(registry_addresses.c.address).where(registry_addresses.c.address.in_(list(addresses)))
    return list((await conn.execute(stmt)).scalars())


# ── the dead-letter queue ───────────────────────────────────────────────────────────────────────────────────

DEAD_COLUMNS = (
    dead_events.c.id,
    dead_events.c.event_id,
    dead_events.c.correlation_id,
    dead_events.c.document,
    dead_events.c.reason,
    dead_events.c.attempts,
    dead_events.c.dead_at,
    dead_events.c.requeued_at,
)


async def bury(conn: AsyncConnection, values: dict[str, Any]) -> int:
    return int((await conn.execute(insert(dead_events).values(**values).returning(dead_events.c.id))).scalar_one())


async def dead(conn: AsyncConnection, *, limit: int, waiting_only: bool = True) -> list[dict[str, Any]]:
    stmt = select(*DEAD_COLUMNS).order_by(dead_events.c.id).limit(limit)
    if waiting_only:
        stmt = stmt.where(dead_events.c.requeued_at.is_(None))
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def take_dead(conn: AsyncConnection, dead_id: int, now: datetime) -> dict[str, Any] | None:
    """Mark a dead event requeued and return it (None: unknown or already requeued)."""
    stmt = (
        update(dead_events)
        .where(dead_events.c.id == dead_id, dead_events.c.requeued_at.is_(None))
        .values(requeued_at=now)
        .returning(*DEAD_COLUMNS)
    )
    row = (await conn.execute(stmt)).one_or_none()
    return dict(row._mapping) if row else None


async def counts(conn: AsyncConnection) -> dict[str, int]:
    stmt = select(
        select(func.count()).select_from(parked_events).scalar_subquery(),
        select(func.count()).select_from(dead_events).where(dead_events.c.requeued_at.is_(None)).scalar_subquery(),
    )
    parked, dead_waiting = (await conn.execute(stmt)).one()
    return {"parked": int(parked), "dead": int(dead_waiting)}
