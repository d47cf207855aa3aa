"""Tenant and key administration (S1, S2), shared by the CLI and the admin API."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.tenancy import keys, repository

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


class TenancyError(Exception):
    """A refusal the CLI prints as-is."""


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:100] or "tenant"


async def create_tenant(
    conn: AsyncConnection, *, name: str, slug: str | None = None, sender_domains: list[str] | None = None
) -> dict[str, Any]:
    name = name.strip()
    if not name or len(name) > 255:
        raise TenancyError("tenant name must be 1–255 characters")
    slug = slug or slugify(name)
    if not _SLUG.match(slug):
        raise TenancyError(f"slug {slug!r} must be lowercase letters, digits and hyphens (≤ 100)")
    try:
        async with conn.begin_nested():
            tenant = await repository.insert_tenant(conn, name=name, slug=slug, settings={})
    except IntegrityError:
        raise TenancyError(f"a tenant with slug {slug!r} already exists") from None
    for domain in sender_domains or []:
        await repository.insert_sender_domain(conn, tenant["id"], domain)
    return tenant


async def set_active(conn: AsyncConnection, slug: str, *, active: bool) -> dict[str, Any]:
    tenant = await repository.set_tenant_active(conn, slug, active)
    if tenant is None:
        raise TenancyError(f"no tenant with slug {slug!r}")
    return tenant


async def create_key(
    conn: AsyncConnection,
    *,
    tenant_slug: str,
    scopes: list[str],
    name: str | None = None,
    expires_at: datetime | None = None,
) -> tuple[dict[str, Any], str]:
    """Return the stored key row and the full key, which exists nowhere else after this call."""
    unknown = sorted(set(scopes) - keys.SCOPES)
    if not scopes or unknown:
        raise TenancyError(f"scopes must be a non-empty subset of {sorted(keys.SCOPES)}; unknown: {unknown}")
    tenant = await repository.tenant_by_slug(conn, tenant_slug)
    if tenant is None:
        raise TenancyError(f"no tenant with slug {tenant_slug!r}")
    prefix, full = keys.generate()
    key_hash = await asyncio.to_thread(keys.hash_key, full)
    row = await repository.insert_key(
        conn,
        tenant_id=tenant["id"],
        prefix=prefix,
        key_hash=key_hash,
        scopes=sorted(set(scopes)),
        name=name,
        expires_at=expires_at,
    )
    return row, full


async def revoke_key(conn: AsyncConnection, prefix: str) -> dict[str, Any]:
    prefix = prefix.removeprefix("iep_").split("_")[0]
    row = await repository.deactivate_key(conn, prefix)
    if row is None:
        raise TenancyError(f"no key with prefix {prefix!r}")
    return row
