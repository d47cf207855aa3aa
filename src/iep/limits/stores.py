"""Where the counters live: the port, and the one-process store used when REDIS_URL is unset.

A take is all-or-nothing: when any window, the bucket or the quota would be exceeded by the `n` messages asked
for, nothing is taken from any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from iep.limits.policy import Kind


@dataclass(frozen=True, slots=True)
class WindowAsk:
    kind: Kind
    limit: int  # 0 = the window is not enforced, and not counted
    start: int  # the window's start, epoch seconds: part of the counter's name
    ttl: int  # how long the counter must outlive this moment (the window's end, plus a margin)


@dataclass(frozen=True, slots=True)
class Ask:
    tenant: str
    n: int
    now: float  # epoch seconds, from the clock (tests move it)
    windows: tuple[WindowAsk, WindowAsk, WindowAsk]  # minute, hour, day
    burst: int
    rate: float  # bucket refill, tokens per second
    quota: int = 0
    period: str = ""  # the quota counter's month and version, e.g. "2026-12.v1"
    quota_ttl: int = 0


@dataclass(frozen=True, slots=True)
class State:
    """The counters as the take found them (before taking), and whether it took."""

    taken: bool
    used: tuple[int, int, int]  # minute, hour, day
    tokens: float  # available in the bucket, refilled up to `now`
    month: int | None  # the quota counter; None when this store does not keep it


class LimitStore(Protocol):
    # True when the store keeps the monthly quota counter itself (Redis); else PostgreSQL keeps it.
    holds_quota: bool

    async def take(self, ask: Ask) -> State | None:
        """Take `ask.n` from every enforced counter, or from none. None: the quota counter must be seeded first."""
        ...

    async def give_back(self, ask: Ask, n: int, *, quota: bool) -> None:
        """Return `n` of what `take` took (a message that was not accepted after all)."""
        ...

    async def seed_quota(self, ask: Ask, used: int) -> None:
        """Create the quota counter at `used` unless another process just did."""
        ...

    async def tokens(self, ask: Ask) -> float:
        """What the bucket holds now, without taking."""
        ...


class MemoryLimitStore:
    """This process's counters (one API process, no Redis). Nothing here awaits, so each call is atomic."""

    holds_quota = False

    def __init__(self) -> None:
        self._windows: dict[tuple[str, Kind], tuple[int, int]] = {}  # → (window start, used)
        self._buckets: dict[str, tuple[float, float]] = {}  # → (tokens, updated)

    async def take(self, ask: Ask) -> State:
        used = tuple(self._used(ask.tenant, w) for w in ask.windows)
        tokens = self._tokens(ask)
        ok = all(not w.limit or u + ask.n <= w.limit for w, u in zip(ask.windows, used, strict=True))
        ok = ok and (not ask.burst or tokens + 1e-9 >= ask.n)  # float time: 2.9999999999 tokens are 3
        if ok:
            for w, u in zip(ask.windows, used, strict=True):
                if w.limit:
                    self._windows[(ask.tenant, w.kind)] = (w.start, u + ask.n)
            if ask.burst:
                self._buckets[ask.tenant] = (tokens - ask.n, ask.now)
        return State(taken=ok, used=(used[0], used[1], used[2]), tokens=tokens, month=None)

    async def give_back(self, ask: Ask, n: int, *, quota: bool) -> None:
        del quota  # PostgreSQL keeps the quota when this store is used
        for w in ask.windows:
            current = self._windows.get((ask.tenant, w.kind))
            if w.limit and current is not None and current[0] == w.start:
                self._windows[(ask.tenant, w.kind)] = (w.start, max(0, current[1] - n))
        if ask.burst and ask.tenant in self._buckets:
            self._buckets[ask.tenant] = (min(float(ask.burst), self._tokens(ask) + n), ask.now)

    async def seed_quota(self, ask: Ask, used: int) -> None:
        raise NotImplementedError("the memory store does not keep the quota; PostgreSQL does")

    async def tokens(self, ask: Ask) -> float:
        return self._tokens(ask)

    def _used(self, tenant: str, w: WindowAsk) -> int:
        current = self._windows.get((tenant, w.kind))
        return current[1] if current is not None and current[0] == w.start else 0

    def _tokens(self, ask: Ask) -> float:
        found = self._buckets.get(ask.tenant)
        if found is None:
            return float(ask.burst)
        tokens, updated = found
        return min(float(ask.burst), tokens + max(0.0, ask.now - updated) * ask.rate)
