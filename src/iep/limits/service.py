"""Tenant limits beyond the accept path: the settings update (CLI, admin) and the usage report."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from iep.kit.clock import Clock
from iep.limits import repository
from iep.limits.limiter import TenantLimiter
from iep.limits.policy import WINDOW_KINDS, TenantLimits, month_window, validate, window
from iep.limits.schemas import BurstUsage, Usage, WindowUsage
from iep.tenancy.context import TenantContext
from iep.tenancy.service import TenancyError


async def update_limits(conn: AsyncConnection, slug: str, changes: dict[str, Any], now: Any) -> dict[str, Any]:
    """Merge limit settings into the tenant's settings; the tenant's row. Takes effect within about a second on
    every replica (the authenticated context is re-read every second)."""
    try:
        clean = validate(changes)
    except ValueError as exc:
        raise TenancyError(str(exc)) from None
    if not clean:
        raise TenancyError("nothing to update: give at least one limit")
    new_quota = "monthly_quota" in clean
    tenant = await repository.merge_settings(conn, slug, clean, new_quota_count=new_quota)
    if tenant is None:
        raise TenancyError(f"no tenant with slug {slug!r}")
    if new_quota:
        # Counted again from the accepted messages on the next send, so what was sent while the quota was off
        # (and not counted) counts too; the Redis counter gets a new name through the bumped version instead.
        await repository.forget_quota_count(conn, tenant["id"], month_window(now)[0].date())
    return tenant


async def usage(engine: AsyncEngine, ctx: TenantContext, limiter: TenantLimiter, clock: Clock) -> Usage:
    """Messages accepted this minute, hour, day and month (from the database) beside the tenant's limits."""
    limits = TenantLimits.of(ctx.settings)
    now = clock.now()
    bounds = {kind.value: window(kind, now) for kind in WINDOW_KINDS}
    bounds["month"] = month_window(now)
    async with engine.connect() as conn:
        counts = await repository.accepted_since(
            conn, ctx.tenant_id, {name: start for name, (start, _) in bounds.items()}, bounds["month"][1]
        )
    caps = {**{k.value: limits.window_limit(k) for k in WINDOW_KINDS}, "month": limits.monthly_quota}

    def one(name: str) -> WindowUsage:
        cap = caps[name] or None
        used = counts[name]
        remaining = None if cap is None else max(0, cap - used)
        return WindowUsage(used=used, limit=cap, remaining=remaining, resetsAt=bounds[name][1])

    if limits.burst:
        tokens = await limiter.burst_tokens(ctx, limits, now)
        burst = BurstUsage(limit=limits.burst, available=round(tokens, 3), refillPerSecond=limits.refill_per_second)
    else:
        burst = BurstUsage(limit=None, available=None, refillPerSecond=None)
    return Usage(
        tenant=ctx.tenant_slug, minute=one("minute"), hour=one("hour"), day=one("day"), month=one("month"), burst=burst
    )
