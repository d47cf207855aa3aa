"""All SQL of sender domains and their DKIM keys; every statement is scoped to its tenant."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.ids import uuid7
from iep.kit.scoping import scoped_delete, scoped_select, scoped_update
from iep.sending_domains.models import dkim_keys
from iep.tenancy.models import allowed_sender_domains as domains

_COLUMNS = (
    domains.c.id,
    domains.c.domain,
    domains.c.verified,
    domains.c.verified_at,
    domains.c.checked_at,
    domains.c.check_results,
    domains.c.created_at,
    dkim_keys.c.selector,
    dkim_keys.c.public_key,
    dkim_keys.c.private_key_encrypted,
)


async def upsert_dkim_key(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    *,
    domain: str,
    selector: str,
    private_key_encrypted: str,
    public_key: str | None = None,
) -> None:
    stmt = insert(dkim_keys).values(
        id=uuid7(),
        tenant_id=tenant_id,
        domain=domain,
        selector=selector,
        private_key_encrypted=private_key_encrypted,
        public_key=public_key,
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "domain"],
            set_={
                "selector": stmt.excluded.selector,
                "private_key_encrypted": stmt.excluded.private_key_encrypted,
                "public_key": stmt.excluded.public_key,
            },
        )
    )


async def insert_domain(
    conn: AsyncConnection, tenant_id: uuid.UUID, domain: str, *, verified: bool = False
) -> uuid.UUID:
    """Raises IntegrityError when the tenant already has the domain."""
    domain_id = uuid7()
    await conn.execute(
        domains.insert().values(
            id=domain_id,
            tenant_id=tenant_id,
            domain=domain,
            verified=verified,
            verified_at=func.now() if verified else None,
        )
    )
    return domain_id


async def ensure_domain(conn: AsyncConnection, tenant_id: uuid.UUID, domain: str) -> None:
    stmt = insert(domains).values(id=uuid7(), tenant_id=tenant_id, domain=domain)
    await conn.execute(stmt.on_conflict_do_nothing(index_elements=["tenant_id", "domain"]))


def _with_key(tenant_id: uuid.UUID) -> Any:
    return scoped_select(domains, tenant_id, *_COLUMNS).outerjoin(
        dkim_keys, and_(dkim_keys.c.tenant_id == domains.c.tenant_id, dkim_keys.c.domain == domains.c.domain)
    )


async def list_domains(conn: AsyncConnection, tenant_id: uuid.UUID) -> list[dict[str, Any]]:
    rows = await conn.execute(_with_key(tenant_id).order_by(domains.c.domain))
    return [dict(r._mapping) for r in rows]


async def get_domain(conn: AsyncConnection, tenant_id: uuid.UUID, domain_id: uuid.UUID) -> dict[str, Any] | None:
    row = (await conn.execute(_with_key(tenant_id).where(domains.c.id == domain_id))).one_or_none()
    return dict(row._mapping) if row else None


async def domain_id_by_name(conn: AsyncConnection, tenant_id: uuid.UUID, domain: str) -> uuid.UUID | None:
    stmt = scoped_select(domains, tenant_id, domains.c.id).where(domains.c.domain == domain)
    found: uuid.UUID | None = (await conn.execute(stmt)).scalar_one_or_none()
    return found


async def delete_domain(conn: AsyncConnection, tenant_id: uuid.UUID, domain_id: uuid.UUID) -> bool:
    """The domain and its DKIM key go together: a re-added domain gets a fresh key."""
    name = (
        await conn.execute(
            scoped_delete(domains, tenant_id).where(domains.c.id == domain_id).returning(domains.c.domain)
        )
    ).scalar_one_or_none()
    if name is None:
        return False
    await conn.execute(scoped_delete(dkim_keys, tenant_id).where(dkim_keys.c.domain == name))
    return True


async def save_check(
    conn: AsyncConnection,
    tenant_id: uuid.UUID,
    domain_id: uuid.UUID,
    *,
    verified: bool,
    results: list[dict[str, Any]],
    now: datetime,
) -> bool:
    """Record a verification; `verified_at` keeps the first success of an unbroken verified run."""
    stmt = (
        scoped_update(domains, tenant_id)
        .where(domains.c.id == domain_id)
        .values(
            verified=verified,
            verified_at=func.coalesce(domains.c.verified_at, now) if verified else None,
            checked_at=now,
            check_results=results,
        )
        .returning(domains.c.id)
    )
    return (await conn.execute(stmt)).scalar_one_or_none() is not None
