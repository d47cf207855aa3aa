"""A crash of the send step (a bug, data the code did not expect) is counted, retried a bounded number of times
after growing pauses, then dead-lettered with the exception; it never loops and never spins the CPU."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from iep.bootstrap import Container
from iep.delivery.worker import Worker
from iep.kit.clock import FakeClock
from iep.providers.base import OutgoingEmail, SendResult
from tests.conftest import TenantKey
from tests.support.pipeline import drain, relay_all

PAYLOAD = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}


class Boom:
    """Stands in for a provider with a bug: every send raises something that is not a provider error."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, email: OutgoingEmail, **_: object) -> SendResult:
        self.calls += 1
        raise KeyError("headers")


@pytest.fixture
def boom(container: Container, monkeypatch: pytest.MonkeyPatch) -> Boom:
    fault = Boom()
    monkeypatch.setattr(container.providers["smtp"], "send", fault)
    return fault


async def test_crashes_end_in_the_dlq_with_the_exception(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock, boom: Boom
) -> None:
    resp = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    message_id = resp.json()["messageId"]

    assert await drain(container) == 1
    assert await drain(container) == 0, "a crashed message waits before it is tried again"
    clock.advance(5)
    assert await drain(container) == 1
    clock.advance(19)
    assert await drain(container) == 0, "the pause grows"
    clock.advance(1)
    assert await drain(container) == 1
    clock.advance(3600)
    assert await drain(container) == 0, "dead-lettered: never tried again"
    assert boom.calls == 3

    shown = (await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
    assert shown["status"] == "failed"
    assert shown["lastError"] == "KeyError: 'headers'"
    crashed = [e["payload"] for e in shown["events"] if e["type"] == "crashed"]
    assert [c["exception"] for c in crashed] == ["KeyError"] * 3
    assert all(c["at"] for c in crashed)
    assert [e["type"] for e in shown["events"]][-2:] == ["dlq", "failed"]
    assert shown["events"][-1]["payload"]["reason"] == "crashed"
    dlq = (await api.get("/v1/dlq", headers=tenant.headers)).json()
    assert [m["messageId"] for m in dlq["data"]] == [message_id]


async def test_a_crash_loop_leaves_the_worker_idle(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, boom: Boom
) -> None:
    await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    await relay_all(container)
    worker = Worker(container.queue(), container.delivery_deps(), concurrency=4, grace_seconds=1)
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(100):
            if boom.calls:
                break
            await asyncio.sleep(0.05)
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(2)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    finally:
        worker.stop()
        await running
    assert boom.calls == 1, "the clock did not move: the crashed message must not be tried again"
    assert cpu < 0.5 * wall, f"the worker spun: {cpu:.2f} s of CPU in {wall:.2f} s"
