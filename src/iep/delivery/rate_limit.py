"""Per-provider send rates (S3): a token bucket per provider, shared by every worker through Redis, or kept in
this process without it. `acquire` waits (on the clock) until the provider may take one more message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from iep.kit.clock import Clock

log = structlog.get_logger("iep.rate_limit")


class BucketStore(Protocol):
    async def take(self, key: str, now: float, rate: float, burst: float) -> float:
        """Take a token if there is one and return 0; else take nothing and return the seconds to wait."""
        ...


@dataclass
class _Bucket:
    tokens: float
    updated: float


class MemoryBucketStore:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    async def take(self, key: str, now: float, rate: float, burst: float) -> float:
        bucket = self._buckets.setdefault(key, _Bucket(burst, now))
        bucket.tokens = min(burst, bucket.tokens + max(0.0, now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / rate


# KEYS: bucket hash. ARGV: now, rate, burst, ttl. Returns the wait in seconds as a string (0 = taken).
_TAKE = """
local now, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[3])
local updated = tonumber(redis.call('HGET', KEYS[1], 'updated') or ARGV[1])
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return tostring(wait)
"""


class RedisBucketStore:
    def __init__(self, redis: Redis, *, prefix: str = "iep:") -> None:
        self._prefix = prefix
        self._take: Any = redis.register_script(_TAKE)

    async def take(self, key: str, now: float, rate: float, burst: float) -> float:
        ttl = int(burst / rate) + 60
        wait = await self._take(keys=[f"{self._prefix}rate:{{{key}}}"], args=[repr(now), rate, burst, ttl])
        return float(wait.decode() if isinstance(wait, bytes) else wait)


class FallbackBucketStore:
    """Redis's buckets, and this process's own while Redis does not answer: a Redis outage (it is the queue broker
    on the `redis` backend, D4) must not stop the API from authenticating or the worker from sending; each process
    then limits on its own until Redis is back."""

    def __init__(self, shared: BucketStore, local: BucketStore | None = None) -> None:
        self._shared = shared
        self._local = local or MemoryBucketStore()
        self._down = False

    async def take(self, key: str, now: float, rate: float, burst: float) -> float:
        try:
            wait = await self._shared.take(key, now, rate, burst)
        except (RedisError, OSError) as exc:
            if not self._down:
                log.warning("buckets_local", reason="redis unavailable", error=str(exc)[:200])
            self._down = True
            return await self._local.take(key, now, rate, burst)
        if self._down:
            log.info("buckets_shared", reason="redis answers again")
            self._down = False
        return wait


class RateLimiter:
    def __init__(self, store: BucketStore, clock: Clock, rates: Mapping[str, float]) -> None:
        self._store = store
        self._clock = clock
        self._rates = dict(rates)  # provider name → messages per second

    def limits(self, provider_name: str) -> bool:
        """Whether sends through this provider wait for a rate at all."""
        return bool(self._rates.get(provider_name))

    async def acquire(self, key: str, provider_name: str) -> None:
        rate = self._rates.get(provider_name)
        if not rate:
            return
        burst = max(1.0, rate)  # up to one second's worth at once
        while True:
            wait = await self._store.take(key, self._clock.now().timestamp(), rate, burst)
            if wait <= 0:
                return
            await self._clock.sleep(wait)
