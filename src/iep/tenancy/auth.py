"""Authenticate a request to a TenantContext, paying Argon2 once per key and process.

A verified key is cached by the SHA-256 of what was presented. Every second at most, a cached entry is
re-read from the database (no Argon2) so revocation, expiry and suspension take effect within about a second
on every replica, and `last_used_at` is kept current without a write per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.kit.problems import Forbidden, TenantSuspended, Unauthenticated
from iep.tenancy import keys, repository
from iep.tenancy.context import TenantContext

RECHECK_SECONDS = 1.0


@dataclass(slots=True)
class _Entry:
    context: TenantContext
    active: bool
    tenant_active: bool
    expires_at: datetime | None
    checked_at: float


class Authenticator:
    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock
        self._cache: dict[str, _Entry] = {}
        self._pending: dict[str, asyncio.Future[_Entry | None]] = {}
        self._rechecking: dict[str, asyncio.Future[_Entry | None]] = {}

    async def authenticate(self, presented: keys.PresentedKey | None, scope: str) -> TenantContext:
        if presented is None:
            raise Unauthenticated("send the key as `Authorization: Bearer iep_…` or `X-Api-Key`")
        entry = self._cache.get(presented.fingerprint)
        if entry is None:
            entry = await self._verify_once(presented)
        elif time.monotonic() - entry.checked_at > RECHECK_SECONDS:
            entry = await self._recheck_once(presented.fingerprint, entry)
        if entry is None or not entry.active:
            raise Unauthenticated("the API key is invalid or revoked")
        if entry.expires_at is not None and entry.expires_at <= self._clock.now():
            raise Unauthenticated("the API key has expired")
        if not entry.tenant_active:
            raise TenantSuspended()
        if scope not in entry.context.scopes:
            raise Forbidden(f"this key lacks the `{scope}` scope")
        return entry.context

    async def _verify_once(self, presented: keys.PresentedKey) -> _Entry | None:
        # Concurrent first requests with one key share a single Argon2 verification.
        return await _shared(self._pending, presented.fingerprint, lambda: self._verify(presented))

    async def _recheck_once(self, fingerprint: str, entry: _Entry) -> _Entry | None:
        # Concurrent requests that find the entry stale share one re-read: otherwise each would UPDATE the
        # key's row, and the row lock would queue them one behind the other every second (the p99 of accepts).
        return await _shared(self._rechecking, fingerprint, lambda: self._recheck(fingerprint, entry))

    async def _verify(self, presented: keys.PresentedKey) -> _Entry | None:
        async with self._engine.connect() as conn:
            row = await repository.key_for_auth(conn, presented.prefix)
        if row is None or not await asyncio.to_thread(keys.verify, row["key_hash"], presented.full):
            return None
        entry = _Entry(
            context=_context(row["tenant_id"], row["tenant_slug"], row["id"], row),
            active=row["active"],
            tenant_active=row["tenant_active"],
            expires_at=row["expires_at"],
            checked_at=time.monotonic(),
        )
        self._cache[presented.fingerprint] = entry
        return entry

    async def _recheck(self, fingerprint: str, entry: _Entry) -> _Entry | None:
        async with self._engine.connect() as pooled:
            conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")  # one statement, one round trip
            row = await repository.touch_key(conn, entry.context.key_id, self._clock.now())
        if row is None:
            self._cache.pop(fingerprint, None)
            return None
        ctx = entry.context
        fresh = _Entry(
            context=_context(ctx.tenant_id, ctx.tenant_slug, ctx.key_id, row),
            active=row["active"],
            tenant_active=row["tenant_active"],
            expires_at=row["expires_at"],
            checked_at=time.monotonic(),
        )
        self._cache[fingerprint] = fresh
        return fresh


async def _shared(
    pending: dict[str, asyncio.Future[_Entry | None]], fingerprint: str, work: Callable[[], Awaitable[_Entry | None]]
) -> _Entry | None:
    """Run `work` once for concurrent callers with the same fingerprint; they all get its result."""
    running = pending.get(fingerprint)
    if running is not None:
        return await asyncio.shield(running)
    future: asyncio.Future[_Entry | None] = asyncio.get_running_loop().create_future()
    pending[fingerprint] = future
    try:
        entry = await work()
        future.set_result(entry)
        return entry
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # mark retrieved: waiters, if any, re-raise it themselves
        raise
    finally:
        del pending[fingerprint]


def _context(tenant_id: Any, slug: str, key_id: Any, row: dict[str, Any]) -> TenantContext:
    return TenantContext(
        tenant_id=tenant_id,
        tenant_slug=slug,
        key_id=key_id,
        scopes=frozenset(row["scopes"]),
        settings=row["tenant_settings"] or {},
        sender_domains=frozenset(d.lower() for d in row["sender_domains"] or ()),
        verified_sender_domains=frozenset(d.lower() for d in row["verified_sender_domains"] or ()),
    )
