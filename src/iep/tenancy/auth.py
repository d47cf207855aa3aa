"""Authenticate a request to a TenantContext, paying Argon2 once per key and process.

A verified key is cached by the SHA-256 of what was presented. Every second at most, a cached entry is
re-read from the database (no Argon2) so revocation, expiry and suspension take effect within about a second
on every replica, and `last_used_at` is kept current without a write per request.

A failed verification costs as much as a good one (Argon2id: ~270 ms of CPU and 64 MiB), so failures are bounded
too: a presented key that failed is remembered (by its SHA-256, for `FAILURE_TTL_SECONDS`) and answered 401 with
no new verification, and every verification takes a token from two small buckets, one per key prefix and one per
client address (shared through Redis when it is configured). An empty bucket answers 429 before any Argon2 run, so
wrong secrets cost at most the buckets' burst plus their rate, whatever their number.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from iep.delivery.rate_limit import BucketStore, MemoryBucketStore
from iep.kit.clock import Clock
from iep.kit.problems import Forbidden, TenantSuspended, TooManyAuthAttempts, Unauthenticated
from iep.tenancy import keys, repository
from iep.tenancy.context import TenantContext

RECHECK_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class AuthLimits:
    """How much Argon2 work wrong keys may cause: verifications per second and burst, per prefix and per client."""

    failure_ttl_seconds: float = 60.0
    failures_kept: int = 50_000  # the negative cache's size bound (oldest forgotten first)
    per_prefix_rate: float = 1.0
    per_prefix_burst: float = 5.0
    per_client_rate: float = 2.0
    per_client_burst: float = 10.0


@dataclass(slots=True)
class _Entry:
    context: TenantContext
    active: bool
    tenant_active: bool
    expires_at: datetime | None
    checked_at: float


class Authenticator:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        *,
        buckets: BucketStore | None = None,
        limits: AuthLimits | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._buckets = buckets or MemoryBucketStore()
        self._limits = limits or AuthLimits()
        self._cache: dict[str, _Entry] = {}
        # fingerprint → monotonic time until which that presented key is known to be wrong
        self._failed: OrderedDict[str, float] = OrderedDict()
        self._pending: dict[str, asyncio.Future[_Entry | None]] = {}
        self._rechecking: dict[str, asyncio.Future[_Entry | None]] = {}

    async def authenticate(
        self, presented: keys.PresentedKey | None, scope: str, client: str | None = None
    ) -> TenantContext:
        if presented is None:
            raise Unauthenticated("send the key as `Authorization: Bearer iep_…` or `X-Api-Key`")
        entry = self._cache.get(presented.fingerprint)
        if entry is None:
            if self._known_wrong(presented.fingerprint):
                raise Unauthenticated("the API key is invalid or revoked")
            entry = await self._verify_once(presented, client)
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

    async def _verify_once(self, presented: keys.PresentedKey, client: str | None) -> _Entry | None:
        # Concurrent first requests with one key share a single Argon2 verification.
        return await _shared(self._pending, presented.fingerprint, lambda: self._verify(presented, client))

    def _known_wrong(self, fingerprint: str) -> bool:
        until = self._failed.get(fingerprint)
        if until is None:
            return False
        if until <= time.monotonic():
            del self._failed[fingerprint]
            return False
        return True

    def _remember_failure(self, fingerprint: str) -> None:
        self._failed[fingerprint] = time.monotonic() + self._limits.failure_ttl_seconds
        self._failed.move_to_end(fingerprint)
        while len(self._failed) > self._limits.failures_kept:
            self._failed.popitem(last=False)

    async def _take_verification(self, prefix: str, client: str | None) -> None:
        """One token from the prefix's bucket and one from the client's, or 429 before any Argon2 work."""
        limits, now = self._limits, self._clock.now().timestamp()
        buckets = [(f"auth:prefix:{prefix}", limits.per_prefix_rate, limits.per_prefix_burst)]
        if client:
            buckets.append((f"auth:client:{client}", limits.per_client_rate, limits.per_client_burst))
        for key, rate, burst in buckets:
            wait = await self._buckets.take(key, now, rate, burst)
            if wait > 0:
                raise TooManyAuthAttempts(
                    "too many API key verifications from this address or for this key; retry later",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))},
                )

    async def _recheck_once(self, fingerprint: str, entry: _Entry) -> _Entry | None:
        # Concurrent requests that find the entry stale share one re-read: otherwise each would UPDATE the
        # key's row, and the row lock would queue them one behind the other every second (the p99 of accepts).
        return await _shared(self._rechecking, fingerprint, lambda: self._recheck(fingerprint, entry))

    async def _verify(self, presented: keys.PresentedKey, client: str | None) -> _Entry | None:
        async with self._engine.connect() as conn:
            row = await repository.key_for_auth(conn, presented.prefix)
        if row is not None:
            await self._take_verification(presented.prefix, client)
        if row is None or not await asyncio.to_thread(keys.verify, row["key_hash"], presented.full):
            self._remember_failure(presented.fingerprint)
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
