"""All SQL of the directory. A tenant's users are read and changed through `iep.kit.scoping`; what crosses
tenants is named so: address ownership (unique across the platform), and the relay and audit writer, which act
on event ids."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.directory.models import directory_addresses, directory_audit_log, directory_events, directory_users
from iep.kit.scoping import scoped_select, scoped_update

USER_COLUMNS = (
    directory_users.c.id,
    directory_users.c.tenant_id,
    directory_users.c.name,
    directory_users.c.primary_address,
    directory_users.c.version,
    directory_users.c.created_at,
    directory_users.c.updated_at,
    directory_users.c.deleted_at,
)


# ── addresses, across tenants ─────────────────────────────────────────────────────────────────────────────────


async def lock_address(conn: AsyncConnection, address: str) -> None:
    """Creates of one address (and its suffixes) take turns until commit; the primary key stays the guarantee."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:a, 4))"), {"a": address})


async def addresses_like(conn: AsyncConnection, pattern: str) -> list[str]:
    stmt = select(directory_addresses.c.address).where(directory_addresses.c.address.like(pattern, escape="\\"))
    return list((await conn.execute(stmt)).scalars())


async def owners(conn: AsyncConnection, addresses: Sequence[str]) -> dict[str, uuid.UUID]:
    if not addresses:
        return {}
    stmt = select(directory_addresses.c.address, directory_addresses.c.user_id).where(
        directory_addresses.c.address.in_(list(addresses))
    )
    return {r.address: r.user_id for r in await conn.execute(stmt)}


# ── users (tenant-scoped) ─────────────────────────────────────────────────────────────────────────────────────


async def insert_user(conn: AsyncConnection, values: dict[str, Any]) -> dict[str, Any]:
    row = (await conn.execute(insert(directory_users).values(**values).returning(*USER_COLUMNS))).one()
    return dict(row._mapping)


async def insert_addresses(conn: AsyncConnection, rows: list[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(insert(directory_addresses), rows)


async def get_user(
    conn: AsyncConnection, tenant_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False
) -> dict[str, Any] | None:
    stmt = scoped_select(directory_users, tenant_id, *USER_COLUMNS).where(
        directory_users.c.id == user_id, directory_users.c.deleted_at.is_(None)
    )
    if for_update:
        stmt = stmt.with_for_update()
    row = (await conn.execute(stmt)).one_or_none()
    return dict(row._mapping) if row else None


async def page(
    conn: AsyncConnection, tenant_id: uuid.UUID, *, after: uuid.UUID | None, limit: int
) -> list[dict[str, Any]]:
    stmt = scoped_select(directory_users, tenant_id, *USER_COLUMNS).where(directory_users.c.deleted_at.is_(None))
    if after is not None:
        stmt = stmt.where(directory_users.c.id > after)
    stmt = stmt.order_by(directory_users.c.id).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def secondaries_of(
    conn: AsyncConnection, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    """Each user's secondary addresses, in the order they became secondaries."""
    found: dict[uuid.UUID, list[str]] = {u: [] for u in user_ids}
    if not user_ids:
        return found
    stmt = (
        scoped_select(directory_addresses, tenant_id, directory_addresses.c.user_id, directory_addresses.c.address)
        .where(directory_addresses.c.user_id.in_(list(user_ids)), directory_addresses.c.kind == "secondary")
        .order_by(directory_addresses.c.user_id, directory_addresses.c.position, directory_addresses.c.address)
    )
    for r in await conn.execute(stmt):
        found[r.user_id].append(r.address)
    return found


async def next_position(conn: AsyncConnection, tenant_id: uuid.UUID, user_id: uuid.UUID) -> int:
    stmt = scoped_select(
        directory_addresses, tenant_id, func.coalesce(func.max(directory_addresses.c.position), 0) + 1
    ).where(directory_addresses.c.user_id == user_id)
    return int((await conn.execute(stmt)).scalar_one())


async def set_kind(
    conn: AsyncConnection, tenant_id: uuid.UUID, user_id: uuid.UUID, address: str, kind: str, position: int
) -> None:
    stmt = (
        scoped_update(directory_addresses, tenant_id)
        .where(directory_addresses.c.user_id == user_id, directory_addresses.c.address == address)
        .values(kind=kind, position=position)
    )
    await conn.execute(stmt)


async def bump_user(
    conn: AsyncConnection, tenant_id: uuid.UUID, user_id: uuid.UUID, values: dict[str, Any]
) -> dict[str, Any]:
    """Change the user and take the next sequence number, in one statement (the row is locked until commit)."""
    stmt = (
        scoped_update(directory_users, tenant_id)
        .where(directory_users.c.id == user_id)
        .values(version=directory_users.c.version + 1, **values)
        .returning(*USER_COLUMNS)
    )
    return dict((await conn.execute(stmt)).one()._mapping)


# ── events: the outbox and the audit intents ─────────────────────────────────────────────────────────────────


async def insert_event(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(insert(directory_events).values(**values))


async def claim_unpublished(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    stmt = (
        select(directory_events.c.id, directory_events.c.tenant_id, directory_events.c.payload)
        .where(directory_events.c.published_at.is_(None))
        .order_by(directory_events.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def mark_published(conn: AsyncConnection, ids: list[uuid.UUID], now: datetime) -> None:
    await conn.execute(update(directory_events).where(directory_events.c.id.in_(ids)).values(published_at=now))


async def claim_unaudited(
    conn: AsyncConnection, limit: int, ids: list[uuid.UUID] | None = None
) -> list[dict[str, Any]]:
    stmt = (
        select(
            directory_events.c.id,
            directory_events.c.tenant_id,
            directory_events.c.user_id,
            directory_events.c.event_type,
            directory_events.c.correlation_id,
            directory_events.c.payload,
            directory_events.c.created_at,
        )
        .where(directory_events.c.audited_at.is_(None))
        .order_by(directory_events.c.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if ids is not None:
        stmt = stmt.where(directory_events.c.id.in_(ids))
    return [dict(r._mapping) for r in await conn.execute(stmt)]


async def write_audit(conn: AsyncConnection, rows: list[dict[str, Any]], now: datetime) -> None:
    if not rows:
        return
    await conn.execute(pg_insert(directory_audit_log).values(rows).on_conflict_do_nothing(index_elements=["event_id"]))
    ids = [r["event_id"] for r in rows]
    await conn.execute(update(directory_events).where(directory_events.c.id.in_(ids)).values(audited_at=now))


async def event_lag(conn: AsyncConnection) -> int:
    """Directory events not yet published."""
    stmt = select(func.count()).select_from(directory_events).where(directory_events.c.published_at.is_(None))
    return int((await conn.execute(stmt)).scalar_one())
