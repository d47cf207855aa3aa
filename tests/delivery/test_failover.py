"""D-3 failover through the whole send path: the primary's circuit opens after its threshold, mail flows through
the tenant's fallback, nothing is lost, and a half-open probe closes the circuit when the primary is back.
Once on a fake clock (every transition), once in real time with a primary server that stops mid-run."""

from __future__ import annotations

import asyncio
import time

import httpx

from iep.delivery.breaker import State, Transition
from iep.kit.clock import FakeClock, SystemClock
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.routed import routed_container
from tests.support.smtp_sink import SmtpSink

BREAKER = {
    "breaker_min_calls": 4,
    "breaker_failure_ratio": 0.5,
    "breaker_window_seconds": 60,
    "breaker_cooldown_seconds": 30,
    "retry_delays_seconds": [1],
    "max_attempts": 10,
}


async def _send(api: httpx.AsyncClient, tenant: TenantKey, n: int) -> list[str]:
    ids = []
    for i in range(n):
        payload = {"to": [f"user{i}@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}
        response = await api.post("/v1/messages", json=payload, headers=tenant.headers)
        assert response.status_code == 202, response.text
        ids.append(response.json()["messageId"])
    return ids


async def _statuses(api: httpx.AsyncClient, tenant: TenantKey, ids: list[str]) -> dict[str, tuple[str, str]]:
    found = {}
    for mid in ids:
        doc = (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()
        found[mid] = (doc["status"], doc["provider"])
    return found


async def test_every_transition_on_a_fake_clock(database_url: str, clock: FakeClock) -> None:
    primary, fallback = SmtpSink().start(), SmtpSink().start()
    try:
        async with routed_container(database_url, clock, primary.port, fallback.port, **BREAKER) as (c, api, t):
            transitions: list[Transition] = []
            c.router.breaker.listeners.append(transitions.append)  # type: ignore[union-attr]
            primary.handler.always_reply = "421 4.3.2 primary is down"
            first = await _send(api, t, 4)
            assert await drain(c) == 4  # four transient failures: 4 of 4 ≥ 50 % → open
            assert [tr.new for tr in transitions] == [State.OPEN]
            clock.advance(1)
            assert await drain(c) == 4  # the retries skip the open primary
            assert set(fallback.handler.ids()) == set(first)
            during = await _send(api, t, 3)
            await drain(c)
            assert set(fallback.handler.ids()) == set(first + during)

            primary.handler.always_reply = None  # the primary is back
            clock.advance(30)
            probe = await _send(api, t, 1)
            await drain(c)
            assert primary.handler.ids() == probe  # the one probe went to the primary
            after = await _send(api, t, 2)
            await drain(c)
            assert sorted(primary.handler.ids()) == sorted(probe + after)
            assert [tr.new for tr in transitions] == [State.OPEN, State.HALF_OPEN, State.CLOSED]
            everything = first + during + probe + after
            statuses = await _statuses(api, t, everything)
            assert {s for s, _ in statuses.values()} == {"sent"}, "no message lost"
            assert sorted(primary.handler.ids() + fallback.handler.ids()) == sorted(everything), "none twice"
            assert {statuses[m][1] for m in first + during} == {"fallback"}
    finally:
        primary.stop()
        fallback.stop()


async def test_primary_stops_mid_run_and_returns_in_real_time(database_url: str) -> None:
    primary, fallback = SmtpSink().start(), SmtpSink().start()
    # The cooldown is longer than the retry delay, so a message whose probe failed goes to the fallback next.
    settings = BREAKER | {"breaker_cooldown_seconds": 2, "breaker_min_calls": 3}
    running = [primary, fallback]
    try:
        async with routed_container(database_url, SystemClock(), primary.port, fallback.port, **settings) as (
            c,
            api,
            t,
        ):
            transitions: list[Transition] = []
            c.router.breaker.listeners.append(transitions.append)  # type: ignore[union-attr]
            before = await _send(api, t, 3)
            await drain(c)
            assert sorted(primary.handler.ids()) == sorted(before)

            primary.stop()  # mid-run: its port now refuses connections
            running.remove(primary)
            during = await _send(api, t, 6)
            deadline = time.monotonic() + 30
            while len(fallback.handler.ids()) < len(during) and time.monotonic() < deadline:
                await drain(c)
                await asyncio.sleep(0.2)
            assert sorted(fallback.handler.ids()) == sorted(during)
            assert State.OPEN in [tr.new for tr in transitions]

            returned = SmtpSink.__new__(SmtpSink)  # the primary comes back on the same port
            returned.handler, returned.port = primary.handler, primary.port
            from aiosmtpd.controller import Controller

            returned._controller = Controller(returned.handler, hostname="127.0.0.1", port=primary.port)
            returned.start()
            running.append(returned)
            primary = returned
            await asyncio.sleep(2.1)  # the cooldown passes
            after = await _send(api, t, 3)
            deadline = time.monotonic() + 30
            while len(primary.handler.ids()) < len(before) + len(after) and time.monotonic() < deadline:
                await drain(c)
                await asyncio.sleep(0.2)
            assert sorted(primary.handler.ids()) == sorted(before + after)
            assert [tr.new for tr in transitions][-2:] == [State.HALF_OPEN, State.CLOSED]
            statuses = await _statuses(api, t, before + during + after)
            assert {s for s, _ in statuses.values()} == {"sent"}, "no message lost"
    finally:
        for server in running:
            server.stop()


async def test_recipient_refusals_stay_out_of_the_shared_circuit(database_url: str, clock: FakeClock) -> None:
    """Full mailboxes and greylisting say nothing about the provider: its circuit stays closed for every tenant."""
    primary, fallback = SmtpSink().start(), SmtpSink().start()
    try:
        async with routed_container(database_url, clock, primary.port, fallback.port, **BREAKER) as (c, api, t):
            transitions: list[Transition] = []
            c.router.breaker.listeners.append(transitions.append)  # type: ignore[union-attr]
            primary.handler.rcpt_reply = "452 4.2.2 mailbox full"
            refused = await _send(api, t, 6)
            assert await drain(c) == 6
            statuses = await _statuses(api, t, refused)
            assert {s for s, _ in statuses.values()} == {"retry_scheduled"}  # each will be tried again
            assert transitions == []
            primary.handler.always_reply = "421 4.3.2 primary is down"  # the provider itself failing still counts
            primary.handler.rcpt_reply = None
            clock.advance(1)
            assert await drain(c) == 6
            assert [tr.new for tr in transitions] == [State.OPEN]
    finally:
        primary.stop()
        fallback.stop()
