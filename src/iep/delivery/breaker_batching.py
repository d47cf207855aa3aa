"""A shared breaker store asked less often: a closed circuit is trusted for a moment, successes are counted in bulk.

The shared store (Redis) costs a round trip per question, and a busy worker asks twice per email (may I send,
how did it go), although nearly every answer is "closed" and nearly every outcome a success. So this process
trusts a closed answer for `trust_seconds`, and adds up its successes, handing them over once per `trust_seconds`
(or sooner, with the next failure). A failure is never held back: it is what opens the circuit. The price is that
another process's opening reaches this one up to `trust_seconds` late; a half-open or open circuit is never
trusted, so the one-probe rule is decided by the shared store as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from iep.delivery.breaker import BreakerPolicy, BreakerStore, State


@dataclass(slots=True)
class _Local:
    closed_until: float = 0.0  # trust a closed answer until then
    successes: int = 0  # counted here, not yet handed over
    since: float = 0.0  # when the first of them was counted


class BatchingBreakerStore:
    def __init__(self, shared: BreakerStore, *, trust_seconds: float = 1.0, max_pending: int = 500) -> None:
        self._shared = shared
        self._trust = trust_seconds
        self._max_pending = max_pending
        self._local: dict[str, _Local] = {}

    async def allow(self, provider: str, now: float, policy: BreakerPolicy) -> tuple[bool, State, State]:
        local = self._local.setdefault(provider, _Local())
        if now < local.closed_until:
            return True, State.CLOSED, State.CLOSED
        allowed, old, new = await self._shared.allow(provider, now, policy)
        self._trust_if_closed(local, new, now)
        return allowed, old, new

    async def record(
        self, provider: str, now: float, policy: BreakerPolicy, *, ok: int = 0, failed: int = 0
    ) -> tuple[State, State]:
        local = self._local.setdefault(provider, _Local())
        if not failed and now < local.closed_until:
            if not local.successes:
                local.since = now
            local.successes += ok
            if local.successes < self._max_pending and now - local.since < self._trust:
                return State.CLOSED, State.CLOSED
            ok = 0  # counted in the successes handed over below
        if now - local.since <= policy.window_seconds:  # older ones would have left the window by now
            ok += local.successes
        local.successes = 0
        old, new = await self._shared.record(provider, now, policy, ok=ok, failed=failed)
        self._trust_if_closed(local, new, now)
        return old, new

    async def peek(self, provider: str) -> State:
        return await self._shared.peek(provider)

    def _trust_if_closed(self, local: _Local, state: State, now: float) -> None:
        local.closed_until = now + self._trust if state is State.CLOSED else 0.0
