"""All SQL about tenants, keys and sender domains."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.ids import uuid7
from iep.tenancy.models import allowed_sender_domains, api_keys, tenants


async def insert_tenant(conn: AsyncConnection, *, name: str, slug: str, settings: dict[str, Any]) -> dict[str, Any]:
    row = (
        await conn.execute(
            tenants.insert().values(id=uuid7(), name=name, slug=slug, settings=settings).returning(*tenants.c)
        )
    ).one()
    return dict(row._mapping)


async def tenant_by_slug(conn: AsyncConnection, slug: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(tenants).where(tenants.c.slug == slug))).one_or_none()
    return dict(row._mapping) if row else None


async def list_tenants(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(tenants).order_by(tenants.c.created_at))
    return [dict(r._mapping) for r in rows]


async def set_tenant_active(conn: AsyncConnection, slug: str, active: bool) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            update(tenants)
            .where(tenants.c.slug == slug)
            .values(active=active, updated_at=func.now())
            .returning(*tenants.c)
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


async def insert_key(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    prefix: str,
    key_hash: str,
    scopes: list[str],
    name: str | None,
    expires_at: datetime | None,
) -> dict[str, Any]:
    row = (
        await conn.execute(
            api_keys.insert()
            .values(
                id=uuid7(),
                tenant_id=tenant_id,
                key_prefix=prefix,
                key_hash=key_hash,
                scopes=scopes,
                name=name,
                expires_at=expires_at,
            )
            .returning(*api_keys.c)
        )
    ).one()
    return dict(row._mapping)


async def deactivate_key(conn: AsyncConnection, prefix: str) -> dict[str, Any] | None:
    row = (
        await conn.execute(
            update(api_keys).where(api_keys.c.key_prefix == prefix).values(active=False).returning(*api_keys.c)
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


async def key_for_auth(conn: AsyncConnection, prefix: str) -> dict[str, Any] | None:
    """The key with its tenant's state, by the prefix the caller presented."""
    row = (
        await conn.execute(
            select(
                api_keys.c.id,
                api_keys.c.key_hash,
                api_keys.c.scopes,
                api_keys.c.active,
                api_keys.c.expires_at,
                api_keys.c.tenant_id,
                tenants.c.slug.label("tenant_slug"),
                tenants.c.active.label("tenant_active"),
                tenants.c.settings.label("tenant_settings"),
                _domains_of(api_keys.c.tenant_id),
                _domains_of(api_keys.c.tenant_id, verified=True),
            )
            .join(tenants, tenants.c.id == api_keys.c.tenant_id)
            .where(api_keys.c.key_prefix == prefix)
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


async def touch_key(conn: AsyncConnection, key_id: uuid.UUID, now: datetime) -> dict[str, Any] | None:
    """Record use and re-read what may have changed since the key was verified (revocation, suspension)."""
    stmt = (
        update(api_keys)
        .where(api_keys.c.id == key_id)
        .values(last_used_at=now)
        .returning(
            api_keys.c.scopes,
            api_keys.c.active,
            api_keys.c.expires_at,
            select(tenants.c.active)
            .where(tenants.c.id == api_keys.c.tenant_id)
            .scalar_subquery()
            .label("tenant_active"),
            select(tenants.c.settings)
            .where(tenants.c.id == api_keys.c.tenant_id)
            .scalar_subquery()
            .label("tenant_settings"),
            _domains_of(api_keys.c.tenant_id),
            _domains_of(api_keys.c.tenant_id, verified=True),
        )
    )
    row = (await conn.execute(stmt)).one_or_none()
    return dict(row._mapping) if row else None


def _domains_of(tenant_id: Any, *, verified: bool = False) -> Any:
    # Read with the key and cached with it, so the accept path checks the sender without a query (SPEC B2).
    stmt = select(func.coalesce(func.array_agg(allowed_sender_domains.c.domain), [])).where(
        allowed_sender_domains.c.tenant_id == tenant_id
    )
    if verified:
        stmt = stmt.where(allowed_sender_domains.c.verified)
    return stmt.scalar_subquery().label("verified_sender_domains" if verified else "sender_domains")


async def insert_sender_domain(conn: AsyncConnection, tenant_id: uuid.UUID, domain: str) -> None:
    await conn.execute(allowed_sender_domains.insert().values(id=uuid7(), tenant_id=tenant_id, domain=domain.lower()))
