"""The limiter on each store: windows and bucket taken all or nothing, the bucket refilling at its rate on the
clock it is given (a FakeClock; Redis gets the time from it too), give-backs, and `acquire(ctx, n)` for batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from iep.kit.clock import FakeClock
from iep.kit.db import create_engine
from iep.kit.problems import QuotaExceeded, RateLimited
from iep.limits.limiter import TenantLimiter
from iep.limits.policy import TenantLimits, validate
from iep.limits.redis_store import RedisLimitStore
from iep.limits.stores import LimitStore, MemoryLimitStore
from iep.tenancy.context import TenantContext
from tests.support import redis as test_redis


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    if request.param == "memory":
        yield MemoryLimitStore()
        return
    client = await test_redis.connect()
    prefix = test_redis.unique_prefix()
    yield RedisLimitStore(client, prefix=prefix)
    await test_redis.delete_prefix(client, prefix)
    await client.aclose()


@pytest.fixture
async def limiter(store: LimitStore, database_url: str, clock: FakeClock) -> AsyncIterator[TenantLimiter]:
    engine = create_engine(database_url, pool_size=1)  # the quota is not used here: nothing reaches it
    yield TenantLimiter(store, engine, clock)
    await engine.dispose()


def tenant(**settings: Any) -> TenantContext:
    return TenantContext(
        tenant_id=uuid.uuid4(), tenant_slug="t", key_id=uuid.uuid4(), scopes=frozenset({"send"}), settings=settings
    )


async def refusal(limiter: TenantLimiter, ctx: TenantContext, n: int = 1) -> RateLimited:
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(ctx, n)
    return caught.value


async def test_windows_are_taken_all_or_nothing(limiter: TenantLimiter, clock: FakeClock) -> None:
    ctx = tenant(max_per_minute=5, max_per_hour=6)
    clock.advance(30)
    await limiter.acquire(ctx, 4)
    refused = await refusal(limiter, ctx, 2)  # 6 fits the hour but not the minute: the hour takes nothing either
    assert refused.extra["kind"] == "minute"
    assert refused.headers["Retry-After"] == "30"
    await limiter.acquire(ctx, 1)  # minute 5/5, hour 5/6
    assert (await refusal(limiter, ctx)).extra["kind"] == "minute"
    clock.advance(30)  # a new minute, the same hour
    await limiter.acquire(ctx, 1)
    refused = await refusal(limiter, ctx)
    assert refused.extra["kind"] == "hour"
    assert refused.headers["Retry-After"] == str(3600 - 60)
    assert refused.headers["RateLimit-Limit"] == "6"
    assert refused.headers["RateLimit-Remaining"] == "0"


async def test_a_batch_larger_than_a_limit_is_refused_whole(limiter: TenantLimiter) -> None:
    ctx = tenant(max_per_minute=100)
    refused = await refusal(limiter, ctx, 101)
    assert "on their own" in (refused.detail or "")
    grant = await limiter.acquire(ctx, 100)  # nothing was taken by the refusal
    assert grant.headers["RateLimit-Remaining"] == "0"


async def test_the_bucket_refills_at_its_rate(limiter: TenantLimiter, clock: FakeClock) -> None:
    ctx = tenant(max_per_minute=600, burst=10)  # 10 a second, 10 at once
    await limiter.acquire(ctx, 10)
    refused = await refusal(limiter, ctx)
    assert refused.extra["kind"] == "burst"
    assert refused.headers["Retry-After"] == "1"
    clock.advance(0.5)  # five tokens back
    await limiter.acquire(ctx, 5)
    assert (await refusal(limiter, ctx)).extra["kind"] == "burst"
    clock.advance(0.375)
    await refusal(limiter, ctx, 4)  # 3.75 back, four asked: none taken
    grant = await limiter.acquire(ctx, 3)
    assert grant.headers["RateLimit-Remaining"] == "0"
    clock.advance(60)  # full again, never above its size
    assert await limiter.burst_tokens(ctx, TenantLimits.of(ctx.settings), clock.now()) == pytest.approx(10)


async def test_burst_alone_refills_burst_per_second(limiter: TenantLimiter, clock: FakeClock) -> None:
    ctx = tenant(burst=2)
    await limiter.acquire(ctx, 2)
    await refusal(limiter, ctx)
    clock.advance(0.5)
    await limiter.acquire(ctx, 1)


async def test_a_release_gives_back_what_was_taken(limiter: TenantLimiter) -> None:
    ctx = tenant(max_per_minute=3, burst=3)
    grant = await limiter.acquire(ctx, 3)
    await refusal(limiter, ctx)
    await limiter.release(grant, 2)
    await limiter.release(grant, 5)  # only one was left to give back
    await limiter.release(grant)
    await limiter.acquire(ctx, 3)
    await refusal(limiter, ctx)


async def test_reserve_gives_back_on_failure_and_unused(limiter: TenantLimiter) -> None:
    ctx = tenant(max_per_minute=2)
    with pytest.raises(RuntimeError):
        async with limiter.reserve(ctx, 2):
            raise RuntimeError("the insert failed")
    async with limiter.reserve(ctx, 2) as grant:
        grant.unused = 1  # one of the two was a replay
    await limiter.acquire(ctx, 1)
    await refusal(limiter, ctx)


async def test_tenants_count_apart(limiter: TenantLimiter) -> None:
    one, two = tenant(max_per_minute=1), tenant(max_per_minute=1)
    await limiter.acquire(one)
    await limiter.acquire(two)
    await refusal(limiter, one)


async def test_no_limits_cost_nothing_and_say_nothing(limiter: TenantLimiter) -> None:
    grant = await limiter.acquire(tenant(max_per_minute=0, unrelated="x"), 1000)
    assert grant.headers == {}
    assert grant.ask is None


def test_settings_are_validated_and_read_leniently() -> None:
    assert validate({"max_per_minute": 10, "monthly_quota": 0}) == {"max_per_minute": 10, "monthly_quota": 0}
    for bad, said in (
        ({"max_per_minute": -1}, "max_per_minute: must be an integer"),
        ({"burst": "5"}, "burst: must be an integer"),
        ({"burst": True}, "burst: must be an integer"),
        ({"burst": 2**31}, "burst: must be an integer from 0"),
        ({"per_week": 1}, "per_week: unknown limit"),
    ):
        with pytest.raises(ValueError, match=said):
            validate(bad)
    # Written by hand into the table: a bad value is no limit rather than a failure of every send.
    assert TenantLimits.of({"max_per_minute": "ten", "burst": -3}) == TenantLimits()


async def test_quota_refusal_wins_over_a_window(database_url: str, clock: FakeClock) -> None:
    """Without a quota row the memory path would seed it; a Redis store answers from its counter alone."""
    client = await test_redis.connect()
    prefix = test_redis.unique_prefix()
    engine = create_engine(database_url, pool_size=1)
    try:
        store = RedisLimitStore(client, prefix=prefix)
        limiter = TenantLimiter(store, engine, clock)
        ctx = tenant(max_per_minute=1, monthly_quota=1)
        ask = limiter.ask(ctx, TenantLimits.of(ctx.settings), 1, clock.now())
        await store.seed_quota(ask, 0)  # as if counted from a database with no message this month
        await limiter.acquire(ctx)
        with pytest.raises(QuotaExceeded) as caught:
            await limiter.acquire(ctx)
        assert caught.value.headers["Retry-After"] == str(31 * 86400)
    finally:
        await test_redis.delete_prefix(client, prefix)
        await client.aclose()
        await engine.dispose()
