"""All SQL of tenant limits: accepted-message counts, the PostgreSQL quota counter, the settings update."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, bindparam, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.scoping import scoped_delete, scoped_select
from iep.limits.models import tenant_usage
from iep.limits.policy import QUOTA_VERSION
from iep.messages.models import messages
from iep.tenancy.models import tenants

# Check and take in one statement. `cur` reads the row as the statement's snapshot saw it (for the answer only);
# the UPDATE waits for a concurrent taker's lock and re-checks `used + n <= quota` on the row as it committed,
# so concurrent accepts can never take more than the quota between them.
_TAKE = text(
    """
WITH cur AS (
  SELECT used FROM tenant_usage WHERE tenant_id = :tenant_id AND period = :period
), upd AS (
  UPDATE tenant_usage SET used = used + :n, updated_at = now()
  WHERE tenant_id = :tenant_id AND period = :period AND used + :n <= :quota
  RETURNING used
)
SELECT (SELECT used FROM upd) AS taken, (SELECT used FROM cur) AS current
"""
).bindparams(bindparam("tenant_id", type_=UUID(as_uuid=True)), bindparam("period", type_=Date))

# The month's first use: the count starts from the messages the database already holds for it (the truth).
_SEED = text(
    """
INSERT INTO tenant_usage (tenant_id, period, used, updated_at)
SELECT :tenant_id, :period, count(m.id), now()
FROM messages m WHERE m.tenant_id = :tenant_id AND m.created_at >= :start AND m.created_at < :end
ON CONFLICT (tenant_id, period) DO NOTHING
"""
).bindparams(bindparam("tenant_id", type_=UUID(as_uuid=True)), bindparam("period", type_=Date))

_GIVE_BACK = text(
    """
UPDATE tenant_usage SET used = greatest(used - :n, 0), updated_at = now()
WHERE tenant_id = :tenant_id AND period = :period
"""
).bindparams(bindparam("tenant_id", type_=UUID(as_uuid=True)), bindparam("period", type_=Date))


_MERGE = (
    text(
        """
UPDATE tenants SET updated_at = now(), settings = settings || :changes || CASE WHEN :bump
  THEN jsonb_build_object(CAST(:version AS text), coalesce((settings ->> CAST(:version AS text))::bigint, 0) + 1)
  ELSE '{}'::jsonb END
WHERE slug = :slug
RETURNING id, name, slug, settings, active, created_at, updated_at
"""
    )
    .bindparams(bindparam("changes", type_=JSONB))
    .columns(
        tenants.c.id,
        tenants.c.name,
        tenants.c.slug,
        tenants.c.settings,
        tenants.c.active,
        tenants.c.created_at,
        tenants.c.updated_at,
    )
)


@dataclass(frozen=True, slots=True)
class QuotaTake:
    taken: bool
    used: int | None  # the counter after taking, or as found when refused; None: no row yet (seed it)


async def take_quota(conn: AsyncConnection, tenant_id: uuid.UUID, period: date, n: int, quota: int) -> QuotaTake:
    row = (await conn.execute(_TAKE, {"tenant_id": tenant_id, "period": period, "n": n, "quota": quota})).one()
    if row.taken is not None:
        return QuotaTake(True, int(row.taken))
    return QuotaTake(False, None if row.current is None else int(row.current))


async def quota_used(conn: AsyncConnection, tenant_id: uuid.UUID, period: date) -> int | None:
    stmt = scoped_select(tenant_usage, tenant_id, tenant_usage.c.used).where(tenant_usage.c.period == period)
    used = (await conn.execute(stmt)).scalar_one_or_none()
    return None if used is None else int(used)


async def seed_quota(conn: AsyncConnection, tenant_id: uuid.UUID, period: date, start: datetime, end: datetime) -> None:
    await conn.execute(_SEED, {"tenant_id": tenant_id, "period": period, "start": start, "end": end})


async def give_back_quota(conn: AsyncConnection, tenant_id: uuid.UUID, period: date, n: int) -> None:
    await conn.execute(_GIVE_BACK, {"tenant_id": tenant_id, "period": period, "n": n})


async def accepted_between(conn: AsyncConnection, tenant_id: uuid.UUID, start: datetime, end: datetime) -> int:
    stmt = scoped_select(messages, tenant_id, func.count(messages.c.id)).where(
        messages.c.created_at >= start, messages.c.created_at < end
    )
    return int((await conn.execute(stmt)).scalar_one())


async def accepted_since(
    conn: AsyncConnection, tenant_id: uuid.UUID, starts: dict[str, datetime], end: datetime
) -> dict[str, int]:
    """Messages accepted since each start (all before `end`), counted in one pass over the widest range."""
    earliest = min(starts.values())
    columns = [
        func.count(messages.c.id).filter(messages.c.created_at >= start).label(name) for name, start in starts.items()
    ]
    stmt = scoped_select(messages, tenant_id, *columns).where(
        messages.c.created_at >= earliest, messages.c.created_at < end
    )
    row = (await conn.execute(stmt)).one()
    return {name: int(row._mapping[name]) for name in starts}


async def merge_settings(
    conn: AsyncConnection, slug: str, changes: dict[str, Any], *, new_quota_count: bool
) -> dict[str, Any] | None:
    """Merge `changes` into the tenant's settings (other keys kept); with `new_quota_count`, bump the version
    that names the shared quota counter. The tenant's row, or None."""
    row = (
        await conn.execute(
            _MERGE, {"slug": slug, "changes": changes, "bump": new_quota_count, "version": QUOTA_VERSION}
        )
    ).one_or_none()
    return dict(row._mapping) if row else None


async def forget_quota_count(conn: AsyncConnection, tenant_id: uuid.UUID, period: date) -> None:
    """Drop the month's counter so the next accept counts it again from the messages (after a quota change)."""
    await conn.execute(scoped_delete(tenant_usage, tenant_id).where(tenant_usage.c.period == period))
