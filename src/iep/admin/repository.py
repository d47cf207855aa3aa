"""All SQL of the dashboard's own tables: operators, sessions, audit. Nothing here is tenant-owned."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.admin.models import admin_audit, admin_operators, admin_sessions
from iep.kit.ids import uuid7


async def insert_operator(conn: AsyncConnection, email: str, password_hash: str, now: datetime) -> None:
    await conn.execute(
        admin_operators.insert().values(id=uuid7(), email=email, password_hash=password_hash, created_at=now)
    )


async def set_password(conn: AsyncConnection, email: str, password_hash: str) -> None:
    await conn.execute(
        update(admin_operators).where(admin_operators.c.email == email).values(password_hash=password_hash)
    )


async def operator_by_email(conn: AsyncConnection, email: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(admin_operators).where(admin_operators.c.email == email))).one_or_none()
    return dict(row._mapping) if row else None


async def touch_login(conn: AsyncConnection, operator_id: uuid.UUID, now: datetime) -> None:
    await conn.execute(update(admin_operators).where(admin_operators.c.id == operator_id).values(last_login_at=now))


async def insert_session(
    conn: AsyncConnection, *, token_hash: str, operator_id: uuid.UUID, csrf_token: str, now: datetime, expires: datetime
) -> None:
    await conn.execute(
        admin_sessions.insert().values(
            token_hash=token_hash, operator_id=operator_id, csrf_token=csrf_token, created_at=now, expires_at=expires
        )
    )


async def live_session(conn: AsyncConnection, token_hash: str, now: datetime) -> dict[str, Any] | None:
    stmt = (
        select(
            admin_sessions.c.token_hash,
            admin_sessions.c.csrf_token,
            admin_sessions.c.expires_at,
            admin_operators.c.id.label("operator_id"),
            admin_operators.c.email,
        )
        .join(admin_operators, admin_operators.c.id == admin_sessions.c.operator_id)
        .where(admin_sessions.c.token_hash == token_hash, admin_sessions.c.expires_at > now)
    )
    row = (await conn.execute(stmt)).one_or_none()
    return dict(row._mapping) if row else None


async def delete_session(conn: AsyncConnection, token_hash: str) -> None:
    await conn.execute(delete(admin_sessions).where(admin_sessions.c.token_hash == token_hash))


async def delete_expired_sessions(conn: AsyncConnection, now: datetime) -> None:
    await conn.execute(delete(admin_sessions).where(admin_sessions.c.expires_at <= now))


async def add_audit(
    conn: AsyncConnection,
    *,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any] | None,
    client: str | None,
    now: datetime,
) -> None:
    await conn.execute(
        admin_audit.insert().values(
            id=uuid7(), actor=actor, action=action, target=target, detail=detail, client=client, created_at=now
        )
    )


async def count_audit_since(
    conn: AsyncConnection, action: str, since: datetime, *, actor: str | None = None, client: str | None = None
) -> int:
    stmt = (
        select(func.count())
        .select_from(admin_audit)
        .where(admin_audit.c.action == action, admin_audit.c.created_at >= since)
    )
    if actor is not None:
        stmt = stmt.where(admin_audit.c.actor == actor)
    if client is not None:
        stmt = stmt.where(admin_audit.c.client == client)
    return int((await conn.execute(stmt)).scalar_one())


async def recent_audit(conn: AsyncConnection, limit: int) -> list[dict[str, Any]]:
    stmt = select(admin_audit).order_by(admin_audit.c.created_at.desc(), admin_audit.c.id.desc()).limit(limit)
    return [dict(r._mapping) for r in await conn.execute(stmt)]
