"""Every breaker transition on a fake clock, against both stores: this process's and Redis (shared)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from iep.delivery.breaker import BreakerPolicy, CircuitBreaker, MemoryBreakerStore, State, Transition
from iep.delivery.breaker_batching import BatchingBreakerStore
from iep.delivery.breaker_redis import RedisBreakerStore
from iep.kit.clock import FakeClock
from tests.support import redis as test_redis

POLICY = BreakerPolicy(failure_ratio=0.5, min_calls=4, window_seconds=60, cooldown_seconds=30, probe_timeout_seconds=20)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    if request.param == "memory":
        yield MemoryBreakerStore()
        return
    client = await test_redis.connect()
    prefix = test_redis.unique_prefix()
    yield RedisBreakerStore(client, prefix=prefix)
    await test_redis.delete_prefix(client, prefix)
    await client.aclose()


def breaker(store: object, clock: FakeClock) -> tuple[CircuitBreaker, list[Transition]]:
    b = CircuitBreaker(store, clock, POLICY)  # type: ignore[arg-type]
    seen: list[Transition] = []
    b.listeners.append(seen.append)
    return b, seen


async def test_closed_open_half_open_closed(store: object, clock: FakeClock) -> None:
    b, seen = breaker(store, clock)
    for ok in (True, False, True):
        assert await b.allow("smtp")
        await b.record("smtp", ok=ok)
    assert b.states["smtp"] is State.CLOSED  # 1 of 3 failed, and fewer than min_calls anyway
    await b.record("smtp", ok=False)  # 2 of 4 = 50 % over 4 calls: open
    assert b.states["smtp"] is State.OPEN
    assert not await b.allow("smtp")
    clock.advance(29)
    assert not await b.allow("smtp")  # still cooling down
    clock.advance(1)
    assert await b.allow("smtp")  # the one probe
    assert b.states["smtp"] is State.HALF_OPEN
    assert not await b.allow("smtp")  # everyone else waits for the probe
    await b.record("smtp", ok=True)
    assert b.states["smtp"] is State.CLOSED
    assert await b.allow("smtp")
    assert [(t.old, t.new) for t in seen] == [
        (State.CLOSED, State.OPEN),
        (State.OPEN, State.HALF_OPEN),
        (State.HALF_OPEN, State.CLOSED),
    ]
    assert b.transitions[("smtp", State.OPEN)] == 1


async def test_a_failed_probe_reopens_for_another_cooldown(store: object, clock: FakeClock) -> None:
    b, seen = breaker(store, clock)
    for _ in range(4):
        await b.record("ses", ok=False)
    clock.advance(30)
    assert await b.allow("ses")
    await b.record("ses", ok=False)
    assert b.states["ses"] is State.OPEN
    clock.advance(29)
    assert not await b.allow("ses")
    clock.advance(1)
    assert await b.allow("ses")
    assert [t.new for t in seen] == [State.OPEN, State.HALF_OPEN, State.OPEN, State.HALF_OPEN]


async def test_a_lost_probe_is_replaced_after_its_timeout(store: object, clock: FakeClock) -> None:
    b, _ = breaker(store, clock)
    for _ in range(4):
        await b.record("resend", ok=False)
    clock.advance(30)
    assert await b.allow("resend")  # this probe's worker dies and never reports
    clock.advance(19)
    assert not await b.allow("resend")
    clock.advance(1)
    assert await b.allow("resend")


async def test_failures_older_than_the_window_do_not_count(store: object, clock: FakeClock) -> None:
    b, _ = breaker(store, clock)
    for _ in range(3):
        await b.record("mailgun", ok=False)
    clock.advance(61)
    await b.record("mailgun", ok=False)  # only 1 call left in the window: below min_calls
    assert b.states["mailgun"] is State.CLOSED
    for ok in (True, True, True):
        await b.record("mailgun", ok=ok)
    assert b.states["mailgun"] is State.CLOSED  # 1 of 4 failed


async def test_providers_have_separate_circuits(store: object, clock: FakeClock) -> None:
    b, _ = breaker(store, clock)
    for _ in range(4):
        await b.record("primary", ok=False)
    assert not await b.allow("primary")
    assert await b.allow("fallback")


async def test_two_workers_sharing_redis_see_one_circuit_and_one_probe(clock: FakeClock) -> None:
    client = await test_redis.connect()
    prefix = test_redis.unique_prefix()
    try:
        one, _ = breaker(RedisBreakerStore(client, prefix=prefix), clock)
        two, _ = breaker(RedisBreakerStore(client, prefix=prefix), clock)
        for _ in range(2):
            await one.record("smtp", ok=False)
            await two.record("smtp", ok=False)
        assert not await one.allow("smtp")
        assert not await two.allow("smtp")
        clock.advance(30)
        assert [await one.allow("smtp"), await two.allow("smtp")] == [True, False]
        await one.record("smtp", ok=True)
        assert await two.allow("smtp")
    finally:
        await test_redis.delete_prefix(client, prefix)
        await client.aclose()


class CountingStore(MemoryBreakerStore):
    """The shared store, with the questions it was asked counted."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[str] = []

    async def allow(self, provider: str, now: float, policy: BreakerPolicy) -> tuple[bool, State, State]:
        self.asked.append("allow")
        return await super().allow(provider, now, policy)

    async def record(
        self, provider: str, now: float, policy: BreakerPolicy, *, ok: int = 0, failed: int = 0
    ) -> tuple[State, State]:
        self.asked.append(f"record {ok}/{failed}")
        return await super().record(provider, now, policy, ok=ok, failed=failed)


async def test_a_closed_circuit_is_trusted_for_a_moment_and_successes_go_over_in_bulk(clock: FakeClock) -> None:
    shared = CountingStore()
    b, _ = breaker(BatchingBreakerStore(shared, trust_seconds=1.0), clock)
    for _ in range(50):
        assert await b.allow("smtp")
        await b.record("smtp", ok=True)
    assert shared.asked == ["allow"]  # one question, fifty sends
    clock.advance(1)
    assert await b.allow("smtp")
    await b.record("smtp", ok=True)
    assert shared.asked == ["allow", "allow", "record 51/0"]


async def test_a_failure_goes_over_at_once_with_the_successes_before_it(clock: FakeClock) -> None:
    shared = CountingStore()
    b, seen = breaker(BatchingBreakerStore(shared, trust_seconds=1.0), clock)
    assert await b.allow("smtp")
    for ok in (True, True, False):
        await b.record("smtp", ok=ok)
    assert shared.asked == ["allow", "record 2/1"]
    await b.record("smtp", ok=False)  # 2 of 4 failed: the shared circuit opens, and this process knows at once
    assert b.states["smtp"] is State.OPEN
    assert not await b.allow("smtp")
    assert [t.new for t in seen] == [State.OPEN]


async def test_another_process_opening_the_circuit_is_seen_within_the_trust(clock: FakeClock) -> None:
    shared = MemoryBreakerStore()
    here, _ = breaker(BatchingBreakerStore(shared, trust_seconds=1.0), clock)
    there, _ = breaker(shared, clock)
    assert await here.allow("ses")
    for _ in range(4):
        await there.record("ses", ok=False)
    assert await here.allow("ses")  # still trusting its closed answer
    clock.advance(1)
    assert not await here.allow("ses")


async def test_an_open_or_half_open_circuit_is_never_trusted(clock: FakeClock) -> None:
    shared = CountingStore()
    b, _ = breaker(BatchingBreakerStore(shared, trust_seconds=1.0), clock)
    for _ in range(4):
        await b.record("resend", ok=False)
    clock.advance(30)
    assert await b.allow("resend")  # the probe
    assert not await b.allow("resend")  # asked again, not trusted: the shared store keeps the one-probe rule
    assert shared.asked[-2:] == ["allow", "allow"]
