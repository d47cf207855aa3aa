"""Tenant and key administration (S1, S2), shared by the CLI and the admin API."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from iep.delivery import repository as delivery  # the send step owns what a hold is (ADR 0006)
from iep.tenancy import keys, repository

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,98}[a-z0-9])?$")


class TenancyError(Exception):
    """A refusal the CLI prints as-is."""


class TenantExists(TenancyError):
    """The slug is taken."""


class KeyNotFound(TenancyError):
    """No such key (or another tenant's, which is answered the same)."""


class KeyNotUsable(TenancyError):
    """The key is revoked or expired: it cannot be rotated."""


class ScopeNotHeld(TenancyError):
    """A key tried to grant a scope it does not hold."""


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:100] or "tenant"


async def create_tenant(
    conn: AsyncConnection,
    *,
    name: str,
    slug: str | None = None,
    sender_domains: list[str] | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    name = name.strip()
    if not name or len(name) > 255:
        raise TenancyError("tenant name must be 1–255 characters")
    slug = slug or slugify(name)
    if not _SLUG.match(slug):
        raise TenancyError(f"slug {slug!r} must be lowercase letters, digits and hyphens (≤ 100)")
    try:
        async with conn.begin_nested():
            tenant = await repository.insert_tenant(conn, name=name, slug=slug, settings=settings or {})
    except IntegrityError:
        raise TenantExists(f"a tenant with slug {slug!r} already exists") from None
    for domain in sender_domains or []:
        await repository.insert_sender_domain(conn, tenant["id"], domain)
    return tenant


async def tenant(conn: AsyncConnection, slug: str) -> dict[str, Any]:
    row = await repository.tenant_by_slug(conn, slug)
    if row is None:
        raise TenancyError(f"no tenant with slug {slug!r}")
    return row


async def update_tenant(
    conn: AsyncConnection, slug: str, *, name: str | None = None, settings: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Rename and merge settings (RFC 7396 at the top level: a key set to null is removed)."""
    if name is not None:
        name = name.strip()
        if not name or len(name) > 255:
            raise TenancyError("tenant name must be 1–255 characters")
    patch = settings or {}
    merge = {k: v for k, v in patch.items() if v is not None}
    remove = sorted(k for k, v in patch.items() if v is None)
    row = await repository.update_tenant(conn, slug, name=name, merge=merge, remove=remove)
    if row is None:
        raise TenancyError(f"no tenant with slug {slug!r}")
    return row


async def replace_settings(
    conn: AsyncConnection,
    slug: str,
    *,
    name: str | None,
    settings: dict[str, Any],
    kept: Callable[[str], bool],
) -> dict[str, Any]:
    """Make the tenant's settings `settings` (the dashboard's whole-object edit): keys left out are removed,
    except those `kept` says belong to someone else (the limits, which have their own rules)."""
    current = await tenant(conn, slug)
    patch: dict[str, Any] = {k: None for k in current["settings"] if not kept(k)}
    patch.update({k: v for k, v in settings.items() if not kept(k)})
    return await update_tenant(conn, slug, name=name, settings=patch)


async def set_active(conn: AsyncConnection, slug: str, *, active: bool, now: datetime | None = None) -> dict[str, Any]:
    """Suspend or activate. Activation hands the mail held while the tenant was suspended back to the queue at
    once (ADR 0006); the row returned then carries `requeued`, how many messages that was."""
    tenant = await repository.set_tenant_active(conn, slug, active)
    if tenant is None:
        raise TenancyError(f"no tenant with slug {slug!r}")
    if active:
        tenant["requeued"] = await delivery.release_held(conn, tenant["id"], now or datetime.now(UTC))
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
    tenant = await repository.tenant_by_slug(conn, tenant_slug)
    if tenant is None:
        raise TenancyError(f"no tenant with slug {tenant_slug!r}")
    return await issue_key(conn, tenant_id=tenant["id"], scopes=scopes, name=name, expires_at=expires_at)


async def issue_key(
    conn: AsyncConnection,
    *,
    tenant_id: uuid.UUID,
    scopes: list[str],
    name: str | None = None,
    expires_at: datetime | None = None,
    granted_by: frozenset[str] | None = None,
) -> tuple[dict[str, Any], str]:
    """A new key for a tenant. `granted_by` is the creating key's scopes (None: the operator): a key never
    grants what its creator does not hold, except that `admin` may grant every scope."""
    unknown = sorted(set(scopes) - keys.SCOPES)
    if not scopes or unknown:
        raise TenancyError(f"scopes must be a non-empty subset of {sorted(keys.SCOPES)}; unknown: {unknown}")
    if granted_by is not None and "admin" not in granted_by and not set(scopes) <= granted_by:
        raise ScopeNotHeld(f"this key cannot grant {sorted(set(scopes) - granted_by)}")
    prefix, full = keys.generate()
    key_hash = await asyncio.to_thread(keys.hash_key, full)
    row = await repository.insert_key(
        conn,
        tenant_id=tenant_id,
        prefix=prefix,
        key_hash=key_hash,
        scopes=sorted(set(scopes)),
        name=name,
        expires_at=expires_at,
    )
    return row, full


async def revoke_key(
    conn: AsyncConnection, prefix: str, *, tenant_id: uuid.UUID | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Revoke at once (refused on every replica within RECHECK_SECONDS). `tenant_id` None: the operator."""
    prefix = prefix.removeprefix("iep_").split("_")[0]
    row = await repository.deactivate_key(conn, prefix, now or datetime.now(UTC), tenant_id)
    if row is None:
        raise KeyNotFound(f"no key with prefix {prefix!r}")
    return row


async def rotate_key(
    conn: AsyncConnection,
    *,
    prefix: str,
    grace_seconds: int,
    now: datetime,
    tenant_id: uuid.UUID | None = None,
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Issue a key with the same scopes; the old one works until now + grace, then is refused like an expired
    one. Returns (new row, new full key, old row). `tenant_id` None: the operator, by prefix alone."""
    prefix = prefix.removeprefix("iep_").split("_")[0]
    if tenant_id is None:
        owner = await repository.tenant_of_key(conn, prefix)
        if owner is None:
            raise KeyNotFound(f"no key with prefix {prefix!r}")
        tenant_id = owner
    old = await repository.key_of_tenant(conn, tenant_id, prefix, for_update=True)
    if old is None:
        raise KeyNotFound(f"no key with prefix {prefix!r}")
    if not old["active"]:
        raise KeyNotUsable(f"key {prefix!r} is revoked; create a new key instead")
    if old["expires_at"] is not None and old["expires_at"] <= now:
        raise KeyNotUsable(f"key {prefix!r} has expired; create a new key instead")
    row, full = await issue_key(
        conn, tenant_id=tenant_id, scopes=list(old["scopes"]), name=old["name"], expires_at=old["expires_at"]
    )
    ended = await repository.end_key_after(
        conn, tenant_id, prefix, ends_at=now + timedelta(seconds=grace_seconds), rotated_to=row["key_prefix"]
    )
    assert ended is not None  # locked above
    return row, full, ended
