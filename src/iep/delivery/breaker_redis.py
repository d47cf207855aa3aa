"""The breaker's state in Redis, so every worker process sees one circuit per provider (D-3, D7).

Each decision is one Lua script: Redis runs it atomically, so two workers cannot both become the probe.
"""

from __future__ import annotations

import uuid
from typing import Any

from redis.asyncio import Redis

from iep.delivery.breaker import BreakerPolicy, State

# KEYS: state hash. ARGV: now, cooldown, probe timeout. Returns {allowed, old, new}.
_ALLOW = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[1])
if state == 'closed' then return {1, state, state} end
if state == 'open' and now < tonumber(redis.call('HGET', KEYS[1], 'opened_at') or '0') + tonumber(ARGV[2]) then
  return {0, state, state}
end
if state == 'half_open' and now < tonumber(redis.call('HGET', KEYS[1], 'probe_until') or '0') then
  return {0, state, state}
end
redis.call('HSET', KEYS[1], 'state', 'half_open', 'probe_until', tostring(now + tonumber(ARGV[3])))
return {1, state, 'half_open'}
"""

# KEYS: state hash, calls zset. ARGV: now, good, bad, window, min calls, ratio, member id, ttl.
# A member is `id:good:bad` (one flush may carry many calls); its score is when it was counted.
_RECORD = """
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
local now = tonumber(ARGV[1])
if state == 'open' then return {state, state} end
if state == 'half_open' then
  local new = (ARGV[3] ~= '0') and 'open' or 'closed'
  redis.call('HSET', KEYS[1], 'state', new, 'opened_at', tostring(now))
  redis.call('DEL', KEYS[2])
  return {state, new}
end
redis.call('ZADD', KEYS[2], now, ARGV[7] .. ':' .. ARGV[2] .. ':' .. ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. tostring(now - tonumber(ARGV[4])))
redis.call('EXPIRE', KEYS[2], ARGV[8])
local total, failed = 0, 0
for _, member in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local good, bad = string.match(member, ':(%d+):(%d+)$')
  total = total + tonumber(good) + tonumber(bad)
  failed = failed + tonumber(bad)
end
if total >= tonumber(ARGV[5]) and failed >= tonumber(ARGV[6]) * total then
  redis.call('HSET', KEYS[1], 'state', 'open', 'opened_at', tostring(now))
  redis.call('DEL', KEYS[2])
  return {state, 'open'}
end
return {state, state}
"""


class RedisBreakerStore:
    def __init__(self, redis: Redis, *, prefix: str = "iep:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._allow: Any = redis.register_script(_ALLOW)
        self._record: Any = redis.register_script(_RECORD)

    def _keys(self, provider: str) -> list[str]:
        base = f"{self._prefix}breaker:{{{provider}}}"  # one hash slot per provider, should Redis be a cluster
        return [base, f"{base}:counts"]

    async def allow(self, provider: str, now: float, policy: BreakerPolicy) -> tuple[bool, State, State]:
        allowed, old, new = await self._allow(
            keys=self._keys(provider)[:1], args=[repr(now), policy.cooldown_seconds, policy.probe_timeout_seconds]
        )
        return bool(allowed), State(_text(old)), State(_text(new))

    async def peek(self, provider: str) -> State:
        stored = await self._redis.hget(self._keys(provider)[0], "state")
        return State(_text(stored)) if stored else State.CLOSED

    async def record(
        self, provider: str, now: float, policy: BreakerPolicy, *, ok: int = 0, failed: int = 0
    ) -> tuple[State, State]:
        ttl = int(policy.window_seconds) + 60
        old, new = await self._record(
            keys=self._keys(provider),
            args=[
                repr(now),
                ok,
                failed,
                policy.window_seconds,
                policy.min_calls,
                policy.failure_ratio,
                uuid.uuid4().hex,
                ttl,
            ],
        )
        return State(_text(old)), State(_text(new))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
