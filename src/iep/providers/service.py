"""A tenant's own provider accounts (S1 provider routing, S6): checked, then stored encrypted."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.config import Settings
from iep.delivery.routing import tenant_provider_context
from iep.kit.crypto import KeyRing
from iep.providers import registry, repository

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")


async def set_tenant_provider(
    conn: AsyncConnection,
    keyring: KeyRing,
    settings: Settings,
    tenant_id: uuid.UUID,
    *,
    name: str,
    kind: str,
    config: dict[str, Any],
    now: datetime,
) -> None:
    """Build it once to refuse a bad configuration now rather than at send time, then store it encrypted."""
    if not _NAME.fullmatch(name):
        raise registry.ProviderConfigError("a provider name is 1–50 of a-z 0-9 _ - (starting with a letter or digit)")
    provider = registry.build(kind, name, config, settings, tenant=True)
    await provider.close()
    sealed = keyring.encrypt(orjson.dumps(config), context=tenant_provider_context(tenant_id, name))
    await repository.upsert(conn, tenant_id, name=name, kind=kind, config_encrypted=sealed, now=now)
