"""Per-tenant rate limits and monthly quota at accept (S3, S4): `acquire(ctx, n)` counts n messages or refuses.

One round trip per accept: the Redis store checks and takes every window, the bucket and the quota in one script.
Without Redis the windows and the bucket are this process's own and the quota is a PostgreSQL counter row (one
statement). A tenant with no limits costs nothing. What was taken for a message that is not accepted after all
(a failed insert, an idempotent replay) is given back, so the counts follow accepted messages.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import NoReturn

import structlog
from prometheus_client import Counter
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.kit.problems import LimitsUnavailable, QuotaExceeded, RateLimited
from iep.limits import repository
from iep.limits.policy import WINDOW_KINDS, Kind, TenantLimits, month_window, seconds_until, window
from iep.limits.stores import Ask, LimitStore, State, WindowAsk
from iep.tenancy.context import TenantContext

log = structlog.get_logger("iep.limits")

# Counters outlive their window a little, so a give-back just after the window's end still finds its counter.
_MARGIN_SECONDS = 60
# The quota counter outlives its month by a few days for the same reason.
_QUOTA_MARGIN_SECONDS = 3 * 86400


@dataclass(slots=True)
class Grant:
    """What one acquire took. `unused` messages (e.g. replays) are given back when `reserve` ends."""

    n: int
    headers: dict[str, str]
    ask: Ask | None = None  # None: the tenant has no limits, nothing was counted
    tenant_id: uuid.UUID | None = None
    quota_period: date | None = None  # set when PostgreSQL's quota counter was taken from
    unused: int = 0
    returned: int = 0


class TenantLimiter:
    def __init__(self, store: LimitStore, engine: AsyncEngine, clock: Clock, hits: Counter | None = None) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._hits = hits
        self._seeding: dict[str, asyncio.Future[None]] = {}

    async def acquire(self, ctx: TenantContext, n: int = 1) -> Grant:
        """Count `n` messages against every limit of the tenant, all or nothing; else raise the 429 problem."""
        if n < 1:
            raise ValueError("acquire at least one message")
        limits = TenantLimits.of(ctx.settings)
        if not limits.any:
            return Grant(n, {})
        now = self._clock.now()
        ask = self.ask(ctx, limits, n, now)
        try:
            state = await self._take(ask, ctx.tenant_id, now)
            month_before, quota_period = state.month, None
            if state.taken and limits.monthly_quota and not self._store.holds_quota:
                try:
                    taken, month_before = await self._take_db_quota(ctx.tenant_id, n, limits.monthly_quota, now)
                except BaseException:
                    await self._store.give_back(ask, n, quota=False)
                    raise
                if taken:
                    quota_period = month_window(now)[0].date()
                else:
                    await self._store.give_back(ask, n, quota=False)
                    state = replace(state, taken=False)
            elif not state.taken and limits.monthly_quota and not self._store.holds_quota:
                # A window refused first; an exhausted quota is still the answer that names the real wait.
                month_before = await self._db_quota_used(ctx.tenant_id, now)
        except RedisError as exc:
            log.warning("limits_store_unavailable", error=repr(exc), tenant_id=str(ctx.tenant_id))
            raise LimitsUnavailable(headers={"Retry-After": "1"}) from None
        if not state.taken:
            self._refuse(ctx, limits, ask, state, month_before, now)
        headers = _accepted_headers(limits, ask, state, month_before, now)
        return Grant(n, headers, ask=ask, tenant_id=ctx.tenant_id, quota_period=quota_period)

    async def release(self, grant: Grant, n: int | None = None) -> None:
        """Give back `n` (default: all not yet given back) of what `grant` took."""
        left = grant.n - grant.returned
        count = left if n is None else min(n, left)
        if grant.ask is None or count <= 0:
            return
        grant.returned += count
        try:
            await self._store.give_back(grant.ask, count, quota=True)
            if grant.quota_period is not None and grant.tenant_id is not None:
                async with self._engine.connect() as pooled:
                    conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
                    await repository.give_back_quota(conn, grant.tenant_id, grant.quota_period, count)
        except Exception as exc:  # counting a message too many is the safe side: log it and go on
            log.warning("limits_give_back_failed", error=repr(exc), tenant_id=str(grant.tenant_id), n=count)

    @asynccontextmanager
    async def reserve(self, ctx: TenantContext, n: int = 1) -> AsyncIterator[Grant]:
        """Acquire; give everything back if the block fails, and `grant.unused` when it succeeds."""
        grant = await self.acquire(ctx, n)
        try:
            yield grant
        except asyncio.CancelledError:
            # The insert may still commit (group commit shields it from a caller that went away): keep the count.
            raise
        except BaseException:
            await self.release(grant)
            raise
        if grant.unused:
            await self.release(grant, grant.unused)

    async def burst_tokens(self, ctx: TenantContext, limits: TenantLimits, now: datetime) -> float:
        try:
            return await self._store.tokens(self.ask(ctx, limits, 1, now))
        except RedisError as exc:
            raise LimitsUnavailable(headers={"Retry-After": "1"}) from exc

    def ask(self, ctx: TenantContext, limits: TenantLimits, n: int, now: datetime) -> Ask:
        windows = []
        for kind in WINDOW_KINDS:
            start, end = window(kind, now)
            ttl = seconds_until(end, now) + _MARGIN_SECONDS
            windows.append(WindowAsk(kind, limits.window_limit(kind), int(start.timestamp()), ttl))
        month_start, month_end = month_window(now)
        return Ask(
            tenant=str(ctx.tenant_id),
            n=n,
            now=now.timestamp(),
            windows=(windows[0], windows[1], windows[2]),
            burst=limits.burst,
            rate=limits.refill_per_second,
            quota=limits.monthly_quota,
            period=f"{month_start:%Y-%m}.v{limits.quota_version}",
            quota_ttl=seconds_until(month_end, now) + _QUOTA_MARGIN_SECONDS,
        )

    async def _take(self, ask: Ask, tenant_id: uuid.UUID, now: datetime) -> State:
        for _ in range(3):
            state = await self._store.take(ask)
            if state is not None:
                return state
            await self._seed_once(ask, tenant_id, now)
        raise LimitsUnavailable("the monthly quota counter could not be set up", headers={"Retry-After": "1"})

    async def _seed_once(self, ask: Ask, tenant_id: uuid.UUID, now: datetime) -> None:
        """Count the month's accepted messages into the shared counter; concurrent first uses share one count."""
        key = f"{ask.tenant}:{ask.period}"
        running = self._seeding.get(key)
        if running is not None:
            await asyncio.shield(running)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seeding[key] = future
        try:
            start, end = month_window(now)
            async with self._engine.connect() as conn:
                used = await repository.accepted_between(conn, tenant_id, start, end)
            await self._store.seed_quota(ask, used)
            future.set_result(None)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters, if any, re-raise it themselves
            raise
        finally:
            del self._seeding[key]

    async def _take_db_quota(self, tenant_id: uuid.UUID, n: int, quota: int, now: datetime) -> tuple[bool, int]:
        """Take from PostgreSQL's counter; (taken, the count before this take)."""
        start, end = month_window(now)
        async with self._engine.connect() as pooled:
            conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")  # one statement, one round trip
            for _ in range(3):
                result = await repository.take_quota(conn, tenant_id, start.date(), n, quota)
                if result.used is not None:
                    return result.taken, result.used - n if result.taken else result.used
                await repository.seed_quota(conn, tenant_id, start.date(), start, end)
        raise LimitsUnavailable("the monthly quota counter could not be set up", headers={"Retry-After": "1"})

    async def _db_quota_used(self, tenant_id: uuid.UUID, now: datetime) -> int | None:
        async with self._engine.connect() as conn:
            return await repository.quota_used(conn, tenant_id, month_window(now)[0].date())

    def _refuse(
        self, ctx: TenantContext, limits: TenantLimits, ask: Ask, state: State, month: int | None, now: datetime
    ) -> NoReturn:
        n, quota = ask.n, limits.monthly_quota
        if quota and month is not None and month + n > quota:
            # Checked first: no shorter wait would help before next month.
            end = month_window(now)[1]
            wait = seconds_until(end, now)
            self._hit(ctx, Kind.QUOTA)
            detail = (
                f"{n} message(s) would exceed the monthly quota of {quota}; {month} used this month"
                if n <= quota
                else f"{n} messages exceed the monthly quota of {quota} on their own"
            )
            headers = {"Retry-After": str(wait), **_rate_headers(quota, max(0, quota - month), wait)}
            raise QuotaExceeded(
                detail, headers=headers, limit=quota, used=month, resetsAt=end.isoformat().replace("+00:00", "Z")
            )
        refusals: list[tuple[int, Kind, int, int]] = []  # (wait, kind, limit, remaining)
        for w, used in zip(ask.windows, state.used, strict=True):
            if w.limit and used + n > w.limit:
                refusals.append((seconds_until(window(w.kind, now)[1], now), w.kind, w.limit, max(0, w.limit - used)))
        if ask.burst and state.tokens + 1e-9 < n:
            wait = max(1, math.ceil((n - state.tokens) / ask.rate))
            refusals.append((wait, Kind.BURST, ask.burst, math.floor(state.tokens)))
        # Only the longest wait lets every refusing limit pass again.
        wait, kind, limit, remaining = max(refusals, default=(1, Kind.BURST, ask.burst, 0))
        self._hit(ctx, kind)
        what = "in a burst" if kind is Kind.BURST else f"per {kind.value}"
        detail = (
            f"at most {limit} message(s) {what}; retry in {wait} s"
            if n <= limit
            else f"{n} messages exceed the limit of {limit} {what} on their own; send fewer at once"
        )
        headers = {"Retry-After": str(wait), **_rate_headers(limit, remaining, wait)}
        raise RateLimited(detail, headers=headers, kind=kind.value, limit=limit, retryAfter=wait)

    def _hit(self, ctx: TenantContext, kind: Kind) -> None:
        if self._hits is not None:
            self._hits.labels(tenant=ctx.tenant_slug, kind=kind.value).inc()


def _rate_headers(limit: int, remaining: int, reset: int) -> dict[str, str]:
    return {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining), "RateLimit-Reset": str(reset)}


def _accepted_headers(
    limits: TenantLimits, ask: Ask, state: State, month_before: int | None, now: datetime
) -> dict[str, str]:
    """RateLimit-* of the limit closest to exhaustion after this take, and the policy of every window."""
    n = ask.n
    candidates: list[tuple[int, int, int]] = []  # (remaining, reset, limit)
    policy: list[str] = []
    for w, used in zip(ask.windows, state.used, strict=True):
        if w.limit:
            start, end = window(w.kind, now)
            candidates.append((max(0, w.limit - used - n), seconds_until(end, now), w.limit))
            policy.append(f"{w.limit};w={int((end - start).total_seconds())}")
    if ask.burst:
        left = state.tokens - n
        candidates.append((max(0, math.floor(left)), math.ceil((ask.burst - left) / ask.rate), ask.burst))
    if limits.monthly_quota and month_before is not None:
        start, end = month_window(now)
        quota = limits.monthly_quota
        candidates.append((max(0, quota - month_before - n), seconds_until(end, now), quota))
        policy.append(f"{quota};w={int((end - start).total_seconds())}")
    if not candidates:
        return {}
    remaining, reset, limit = min(candidates, key=lambda c: (c[0], -c[1]))
    headers = _rate_headers(limit, remaining, reset)
    if policy:
        headers["RateLimit-Policy"] = ", ".join(policy)
    return headers
