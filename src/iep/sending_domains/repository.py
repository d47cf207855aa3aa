"""All SQL of DKIM keys; every statement is scoped to its tenant."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.kit.ids import uuid7
from iep.sending_domains.models import dkim_keys


async def upsert_dkim_key(
    conn: AsyncConnection, tenant_id: uuid.UUID, *, domain: str, selector: str, private_key_encrypted: str
) -> None:
    stmt = insert(dkim_keys).values(
        id=uuid7(), tenant_id=tenant_id, domain=domain, selector=selector, private_key_encrypted=private_key_encrypted
    )
    await conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "domain"],
            set_={"selector": stmt.excluded.selector, "private_key_encrypted": stmt.excluded.private_key_encrypted},
        )
    )
