"""A circuit breaker per provider (D-3): closed → open → half-open (one probe) → closed.

It opens when, within the sliding window, at least `min_calls` calls were made and at least `failure_ratio` of
them failed; it stays open for `cooldown_seconds`; then exactly one caller is let through as a probe, and the
probe's outcome closes or re-opens it. A probe that never reports (its worker died) is replaced after
`probe_timeout_seconds`. Time always comes from the caller's clock, so tests drive every transition.

The state lives in a store: in this process, or in Redis (`breaker_redis`) so every worker shares it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import structlog

from iep.kit.clock import Clock

log = structlog.get_logger("iep.breaker")


class State(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_ratio: float = 0.5
    min_calls: int = 10
    window_seconds: float = 60.0
    cooldown_seconds: float = 30.0
    probe_timeout_seconds: float = 60.0


@dataclass(frozen=True, slots=True)
class Transition:
    provider: str
    old: State
    new: State
    at: float


class BreakerStore(Protocol):
    async def allow(self, provider: str, now: float, policy: BreakerPolicy) -> tuple[bool, State, State]:
        """Whether a call may go now, and the state before and after asking (half-open starts here)."""
        ...

    async def record(
        self, provider: str, now: float, policy: BreakerPolicy, *, ok: int = 0, failed: int = 0
    ) -> tuple[State, State]:
        """Count calls' outcomes (`ok` good and `failed` bad ones, ending now); the state before and after."""
        ...

    async def peek(self, provider: str) -> State:
        """The state as stored, changing nothing (the dashboard's provider health)."""
        ...


@dataclass
class _Circuit:
    state: State = State.CLOSED
    opened_at: float = 0.0
    probe_until: float = 0.0
    calls: deque[tuple[float, int, int]] = field(default_factory=deque)  # (at, good, bad)


class MemoryBreakerStore:
    """One process's breakers: the store without Redis."""

    def __init__(self) -> None:
        self._circuits: dict[str, _Circuit] = {}

    async def allow(self, provider: str, now: float, policy: BreakerPolicy) -> tuple[bool, State, State]:
        c = self._circuits.setdefault(provider, _Circuit())
        old = c.state
        if c.state is State.CLOSED:
            return True, old, old
        if c.state is State.OPEN and now < c.opened_at + policy.cooldown_seconds:
            return False, old, old
        if c.state is State.HALF_OPEN and now < c.probe_until:
            return False, old, old  # one probe at a time
        c.state, c.probe_until = State.HALF_OPEN, now + policy.probe_timeout_seconds
        return True, old, c.state

    async def peek(self, provider: str) -> State:
        circuit = self._circuits.get(provider)
        return circuit.state if circuit else State.CLOSED

    async def record(
        self, provider: str, now: float, policy: BreakerPolicy, *, ok: int = 0, failed: int = 0
    ) -> tuple[State, State]:
        c = self._circuits.setdefault(provider, _Circuit())
        old = c.state
        if c.state is State.OPEN:
            return old, old  # a call that started before the circuit opened says nothing new
        if c.state is State.HALF_OPEN:
            c.state = State.OPEN if failed else State.CLOSED
            c.opened_at = now
            c.calls.clear()
            return old, c.state
        c.calls.append((now, ok, failed))
        while c.calls and c.calls[0][0] <= now - policy.window_seconds:
            c.calls.popleft()
        total = sum(good + bad for _, good, bad in c.calls)
        failures = sum(bad for _, _, bad in c.calls)
        if total >= policy.min_calls and failures >= policy.failure_ratio * total:
            c.state, c.opened_at = State.OPEN, now
            c.calls.clear()
        return old, c.state


class CircuitBreaker:
    """Breakers for every provider over one store; logs each transition and keeps what metrics read."""

    def __init__(self, store: BreakerStore, clock: Clock, policy: BreakerPolicy) -> None:
        self._store = store
        self._clock = clock
        self.policy = policy
        self.states: dict[str, State] = {}  # last state this process saw, per provider (a metrics gauge)
        self.transitions: Counter[tuple[str, State]] = Counter()  # (provider, new state) → count
        self.listeners: list[Callable[[Transition], None]] = []

    async def allow(self, provider: str) -> bool:
        now = self._clock.now().timestamp()
        allowed, old, new = await self._store.allow(provider, now, self.policy)
        self._note(provider, old, new, now)
        return allowed

    async def record(self, provider: str, *, ok: bool) -> None:
        now = self._clock.now().timestamp()
        old, new = await self._store.record(provider, now, self.policy, ok=int(ok), failed=int(not ok))
        self._note(provider, old, new, now)

    async def state(self, provider: str) -> State:
        return await self._store.peek(provider)

    def _note(self, provider: str, old: State, new: State, now: float) -> None:
        self.states[provider] = new
        if old is new:
            return
        transition = Transition(provider, old, new, now)
        self.transitions[(provider, new)] += 1
        log.warning("breaker_transition", provider=provider, old=old.value, new=new.value)
        for listener in self.listeners:
            listener(transition)
