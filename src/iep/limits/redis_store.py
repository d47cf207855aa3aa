"""The counters in Redis, shared by every API replica (D7): one Lua script checks and takes everything at once.

Keys carry the tenant in a hash tag, so one tenant's counters sit in one Redis Cluster slot and one script may
touch them all. The time comes from the caller's clock, never from Redis, so tests can move it.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from iep.limits.stores import Ask, State

# KEYS: minute, hour, day counters, bucket hash, quota counter.
# ARGV: n, now, 3 window limits, 3 window ttls, burst, rate, quota, bucket ttl.
# Returns {'seed'} when the quota counter must first be counted from the database; else
# {taken 0|1, minute used, hour used, day used, tokens (string), quota used or -1}, counters as found.
_TAKE = """
local n, now = tonumber(ARGV[1]), tonumber(ARGV[2])
local ok = true
local used = {0, 0, 0}
for i = 1, 3 do
  local limit = tonumber(ARGV[2 + i])
  if limit > 0 then
    used[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
    if used[i] + n > limit then ok = false end
  end
end
local burst, rate = tonumber(ARGV[9]), tonumber(ARGV[10])
local tokens, updated = burst, now
if burst > 0 then
  local b = redis.call('HMGET', KEYS[4], 'tokens', 'updated')
  if b[1] then
    updated = math.max(now, tonumber(b[2]))
    tokens = math.min(burst, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate)
  end
  if tokens + 1e-9 < n then ok = false end  -- float time: 2.9999999999 tokens are 3
end
local quota = tonumber(ARGV[11])
local month = -1
if quota > 0 then
  local m = redis.call('GET', KEYS[5])
  if not m then return {'seed'} end
  month = tonumber(m)
  if month + n > quota then ok = false end
end
if ok then
  for i = 1, 3 do
    if tonumber(ARGV[2 + i]) > 0 then
      redis.call('INCRBY', KEYS[i], n)
      redis.call('EXPIRE', KEYS[i], ARGV[5 + i])
    end
  end
  if burst > 0 then
    redis.call('HSET', KEYS[4], 'tokens', tostring(tokens - n), 'updated', tostring(updated))
    redis.call('EXPIRE', KEYS[4], ARGV[12])
  end
  if quota > 0 then redis.call('INCRBY', KEYS[5], n) end
end
return {ok and 1 or 0, used[1], used[2], used[3], tostring(tokens), month}
"""

# KEYS as _TAKE. ARGV: n, now, 3 window flags ('1' = was counted), burst, rate, quota flag.
# Counters that are gone (their window ended) are not re-created.
_GIVE_BACK = """
local n, now = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 1, 3 do
  if ARGV[2 + i] == '1' and redis.call('EXISTS', KEYS[i]) == 1 then redis.call('DECRBY', KEYS[i], n) end
end
local burst = tonumber(ARGV[6])
if burst > 0 then
  local b = redis.call('HMGET', KEYS[4], 'tokens', 'updated')
  if b[1] then
    local refilled = tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * tonumber(ARGV[7])
    local updated = math.max(now, tonumber(b[2]))
    redis.call('HSET', KEYS[4], 'tokens', tostring(math.min(burst, refilled + n)), 'updated', tostring(updated))
  end
end
if ARGV[8] == '1' and redis.call('EXISTS', KEYS[5]) == 1 then redis.call('DECRBY', KEYS[5], n) end
return 1
"""


class RedisLimitStore:
    holds_quota = True

    def __init__(self, redis: Redis, *, prefix: str = "iep:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._take: Any = redis.register_script(_TAKE)
        self._give_back: Any = redis.register_script(_GIVE_BACK)

    def _keys(self, ask: Ask) -> list[str]:
        base = f"{self._prefix}limits:{{{ask.tenant}}}:"
        windows = [f"{base}{w.kind.value}:{w.start}" for w in ask.windows]
        return [*windows, f"{base}bucket", f"{base}quota:{ask.period}"]

    async def take(self, ask: Ask) -> State | None:
        bucket_ttl = int(ask.burst / ask.rate) + 60 if ask.burst else 60
        args = [
            ask.n,
            repr(ask.now),
            *(w.limit for w in ask.windows),
            *(w.ttl for w in ask.windows),
            ask.burst,
            repr(ask.rate),
            ask.quota,
            bucket_ttl,
        ]
        raw = await self._take(keys=self._keys(ask), args=args)
        if len(raw) == 1:
            return None
        taken, minute, hour, day, tokens, month = raw
        return State(
            taken=int(taken) == 1,
            used=(int(minute), int(hour), int(day)),
            tokens=float(tokens.decode() if isinstance(tokens, bytes) else tokens),
            month=int(month) if int(month) >= 0 else None,
        )

    async def give_back(self, ask: Ask, n: int, *, quota: bool) -> None:
        flags = ["1" if w.limit else "0" for w in ask.windows]
        args = [n, repr(ask.now), *flags, ask.burst, repr(ask.rate), "1" if quota and ask.quota else "0"]
        await self._give_back(keys=self._keys(ask), args=args)

    async def seed_quota(self, ask: Ask, used: int) -> None:
        await self._redis.set(self._keys(ask)[4], used, nx=True, ex=ask.quota_ttl)

    async def tokens(self, ask: Ask) -> float:
        if not ask.burst:
            return 0.0
        found = await self._redis.hmget(self._keys(ask)[3], ["tokens", "updated"])
        if found[0] is None:
            return float(ask.burst)
        tokens, updated = float(found[0]), float(found[1] or ask.now)
        return min(float(ask.burst), tokens + max(0.0, ask.now - updated) * ask.rate)
