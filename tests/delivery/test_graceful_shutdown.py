"""D-7: on stop, a worker stops taking jobs, lets in-flight sends finish within the grace period, and hands
back what cannot finish so another worker picks it up. Nothing is lost."""

from __future__ import annotations

import asyncio
import time

import httpx
from sqlalchemy import select

from iep.bootstrap import Container
from iep.delivery.worker import Worker
from iep.kit.clock import FakeClock
from iep.queue.models import queue_jobs
from tests.conftest import TenantKey
from tests.support.pipeline import drain, relay_all
from tests.support.smtp_sink import SmtpSink

PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


async def _start(container: Container, grace: float) -> tuple[Worker, asyncio.Task[None]]:
    worker = Worker(container.queue(), container.delivery_deps(), concurrency=4, grace_seconds=grace)
    return worker, asyncio.create_task(worker.run())


async def _picked_up(worker: Worker) -> None:
    for _ in range(250):
        if worker.in_flight:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the worker never picked the job up")


async def test_in_flight_send_finishes_within_grace(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    sink.handler.data_delay = 0.5
    mid = (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).json()["messageId"]
    await relay_all(container)
    worker, task = await _start(container, grace=5)
    await _picked_up(worker)
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert sink.handler.ids() == [mid]
    doc = (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()
    assert doc["status"] == "sent"


async def test_unfinished_work_is_handed_back_after_grace(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    sink.handler.data_delay = 3.0
    mid = (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).json()["messageId"]
    await relay_all(container)
    worker, task = await _start(container, grace=0.2)
    await _picked_up(worker)
    started = time.monotonic()
    worker.stop()
    await asyncio.wait_for(task, 10)
    assert time.monotonic() - started < 2, "stop waits the grace period, not the slow send"
    async with container.engine.connect() as conn:
        rows = (await conn.execute(select(queue_jobs.c.locked_by, queue_jobs.c.queue))).all()
    assert rows == [(None, "mail.send")], "the job is back in the queue, unlocked"
    # The interrupted send may or may not have reached the server: another worker takes the message over
    # once the lease has run out, and says so with an `ambiguous` event.
    sink.handler.data_delay = 0
    assert await drain(container) == 1
    assert (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()["status"] == "processing"
    clock.advance(container.settings.worker_lease_seconds + 1)
    assert await drain(container) == 1
    doc = (await api.get(f"/v1/messages/{mid}", headers=tenant.headers)).json()
    assert doc["status"] == "sent"
    assert [e["type"] for e in doc["events"]] == ["queued", "processing", "ambiguous", "processing", "sent"]
    assert sink.handler.ids() == [mid]
