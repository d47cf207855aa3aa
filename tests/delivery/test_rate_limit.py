"""Per-provider send rates (S3) on a fake clock: a token bucket per provider, shared through Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from iep.delivery.rate_limit import MemoryBucketStore, RateLimiter, RedisBucketStore
from iep.kit.clock import FakeClock
from tests.support import redis as test_redis


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryBucketStore()
        return
    client = await test_redis.connect()
    prefix = test_redis.unique_prefix()
    yield RedisBucketStore(client, prefix=prefix)
    await test_redis.delete_prefix(client, prefix)
    await client.aclose()


async def _taken_without_waiting(limiter: RateLimiter, key: str, name: str, tries: int) -> int:
    taken = 0
    for _ in range(tries):
        try:
            await asyncio.wait_for(limiter.acquire(key, name), 0.05)
        except TimeoutError:
            break
        taken += 1
    return taken


async def test_a_provider_gets_its_burst_then_its_rate(store: object, clock: FakeClock) -> None:
    limiter = RateLimiter(store, clock, {"sendgrid": 5})  # type: ignore[arg-type]
    assert await _taken_without_waiting(limiter, "sendgrid", "sendgrid", 20) == 5  # one second's worth
    waiting = asyncio.create_task(limiter.acquire("sendgrid", "sendgrid"))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # no token: it sleeps on the clock
    clock.advance(0.2)  # 0.2 s at 5/s is one token
    await asyncio.wait_for(waiting, 1)
    assert await _taken_without_waiting(limiter, "sendgrid", "sendgrid", 5) == 0


async def test_providers_without_a_rate_are_not_limited(store: object, clock: FakeClock) -> None:
    limiter = RateLimiter(store, clock, {"sendgrid": 1})  # type: ignore[arg-type]
    assert await _taken_without_waiting(limiter, "smtp", "smtp", 50) == 50


async def test_two_workers_on_redis_share_one_bucket(clock: FakeClock) -> None:
    client = await test_redis.connect()
    prefix = test_redis.unique_prefix()
    try:
        one = RateLimiter(RedisBucketStore(client, prefix=prefix), clock, {"ses": 4})
        two = RateLimiter(RedisBucketStore(client, prefix=prefix), clock, {"ses": 4})
        assert await _taken_without_waiting(one, "ses", "ses", 3) == 3
        assert await _taken_without_waiting(two, "ses", "ses", 3) == 1  # the same 4 tokens
    finally:
        await test_redis.delete_prefix(client, prefix)
        await client.aclose()


async def test_buckets_fall_back_to_this_process_while_redis_does_not_answer() -> None:
    """Redis is the broker on the `redis` backend: its outage must not stop authentication or sending (D4)."""
    from redis.asyncio import Redis

    from iep.delivery.rate_limit import FallbackBucketStore, RedisBucketStore
    from tests.support.smtp_sink import free_port

    gone = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    store = FallbackBucketStore(RedisBucketStore(gone))
    try:
        waits = [await store.take("k", 100.0, rate=1.0, burst=2.0) for _ in range(3)]
    finally:
        await gone.aclose()
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] > 0, "the local bucket still limits"
