"""All SQL about tenants, keys and sender domains."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import cast, func, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.types import Text

from iep.kit.ids import uuid7
from iep.kit.scoping import scoped_select, scoped_update
from iep.tenancy.models import allowed_sender_domains, api_keys, tenants

# What may be shown of a key: everything but its hash.
_KEY_COLUMNS = (
    api_keys.c.id,
    api_keys.c.tenant_id,
    api_keys.c.key_prefix,
    api_keys.c.name,
    api_keys.c.scopes,
    api_keys.c.active,
    api_keys.c.created_at,
    api_keys.c.expires_at,
    api_keys.c.last_used_at,
    api_keys.c.revoked_at,
    api_keys.c.rotated_to,
)


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


async def tenant_slug(conn: AsyncConnection, tenant_id: uuid.UUID) -> str | None:
    """The tenant's slug: the `tenant` label of metrics."""
    return (await conn.execute(select(tenants.c.slug).where(tenants.c.id == tenant_id))).scalar_one_or_none()


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


async def update_tenant(
    conn: AsyncConnection, slug: str, *, name: str | None, merge: dict[str, Any], remove: list[str]
) -> dict[str, Any] | None:
    """Rename and merge settings in one statement: top-level keys in `merge` replace, keys in `remove` go."""
    values: dict[str, Any] = {"updated_at": func.now()}
    if name is not None:
        values["name"] = name
    if merge or remove:
        merged = tenants.c.settings.op("||")(cast(merge, JSONB))
        values["settings"] = merged.op("-")(cast(remove, ARRAY(Text))) if remove else merged
    row = (
        await conn.execute(update(tenants).where(tenants.c.slug == slug).values(**values).returning(*tenants.c))
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


async def deactivate_key(
    conn: AsyncConnection, prefix: str, now: datetime, tenant_id: uuid.UUID | None = None
) -> dict[str, Any] | None:
    """Revoke by prefix; `tenant_id` confines it to one tenant's keys (the tenant API), None is the operator's."""
    stmt = update(api_keys) if tenant_id is None else scoped_update(api_keys, tenant_id)
    row = (
        await conn.execute(
            stmt.where(api_keys.c.key_prefix == prefix)
            .values(active=False, revoked_at=func.coalesce(api_keys.c.revoked_at, now))
            .returning(*api_keys.c)
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


async def tenant_of_key(conn: AsyncConnection, prefix: str) -> uuid.UUID | None:
    found: uuid.UUID | None = (
        await conn.execute(select(api_keys.c.tenant_id).where(api_keys.c.key_prefix == prefix))
    ).scalar_one_or_none()
    return found


async def list_keys(conn: AsyncConnection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(scoped_select(api_keys, tenant_id, *_KEY_COLUMNS).order_by(api_keys.c.created_at))
    return [dict(r._mapping) for r in rows]


async def key_of_tenant(
    conn: AsyncConnection, tenant_id: uuid.UUID, prefix: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    stmt = scoped_select(api_keys, tenant_id, *_KEY_COLUMNS).where(api_keys.c.key_prefix == prefix)
    row = (await conn.execute(stmt.with_for_update() if for_update else stmt)).one_or_none()
    return dict(row._mapping) if row else None


async def end_key_after(
    conn: AsyncConnection, tenant_id: uuid.UUID, prefix: str, *, ends_at: datetime, rotated_to: str
) -> dict[str, Any] | None:
    """A rotation's old key: it expires at `ends_at` (or earlier, if it was due to expire before)."""
    row = (
        await conn.execute(
            scoped_update(api_keys, tenant_id)
            .where(api_keys.c.key_prefix == prefix)
            .values(
                expires_at=func.least(func.coalesce(api_keys.c.expires_at, ends_at), ends_at),
                rotated_to=rotated_to,
            )
            .returning(*_KEY_COLUMNS)
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


# Re-read what may have changed since the key was verified (revocation, expiry, a rotation's grace end,
# suspension, settings), and record use, but write `last_used_at` at most once per LAST_USED_RESOLUTION: the
# re-read runs every second on every replica, a write that often would be a row update per key per second.
LAST_USED_RESOLUTION = timedelta(minutes=1)


async def touch_key(conn: AsyncConnection, key_id: uuid.UUID, now: datetime) -> dict[str, Any] | None:
    """One statement: the key's current state, and `last_used_at = now` when the stored one is older than a minute."""
    touched = (
        update(api_keys)
        .where(
            api_keys.c.id == key_id,
            or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < now - LAST_USED_RESOLUTION),
        )
        .values(last_used_at=now)
        .returning(api_keys.c.id)
        .cte("touched")
    )
    stmt = (
        select(
            api_keys.c.scopes,
            api_keys.c.active,
            api_keys.c.expires_at,
            tenants.c.active.label("tenant_active"),
            tenants.c.settings.label("tenant_settings"),
            _domains_of(api_keys.c.tenant_id),
            select(func.count()).select_from(touched).scalar_subquery().label("touched"),
            _domains_of(api_keys.c.tenant_id, verified=True),
        )
        .join(tenants, tenants.c.id == api_keys.c.tenant_id)
        .where(api_keys.c.id == key_id)
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
