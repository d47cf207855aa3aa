"""All SQL of tenant provider accounts; every statement is scoped to its tenant."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.ids import uuid7
from iep.providers.models import tenant_providers


async def upsert(
    conn: AsyncConnection, tenant_id: uuid.UUID, *, name: str, kind: str, config_encrypted: str, now: datetime
) -> None:
    stmt = insert(tenant_providers).values(
        id=uuid7(), tenant_id=tenant_id, name=name, kind=kind, config_encrypted=config_encrypted, updated_at=now
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "name"],
            set_={"kind": stmt.excluded.kind, "config_encrypted": stmt.excluded.config_encrypted, "updated_at": now},
        )
    )
