"""One behaviour contract (SPEC D5), run against every queue backend on the machine's real services."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from iep.bootstrap import Container
from iep.delivery.worker import Worker
from iep.kit.clock import SystemClock
from iep.messages.models import messages
from iep.queue.models import queue_jobs
from iep.queue.port import Job, Queue
from iep.queue.postgres import PostgresQueue
from iep.queue.rabbitmq import RabbitQueue
from iep.queue.redis_bullmq import RedisQueue
from tests.conftest import TenantKey
from tests.support import brokers
from tests.support.smtp_sink import SmtpSink

CLOCK = SystemClock()
PAYLOAD = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}


class Backend:
    """Makes consumers of one backend and knows how to make one die without settling its jobs."""

    def __init__(self, kind: str, container: Container, rabbitmq_url: str, redis_prefix: str) -> None:
        self.kind = kind
        self._container = container
        self._rabbitmq_url = rabbitmq_url
        self._redis_prefix = redis_prefix
        self._made: list[tuple[Queue, AsyncIterator[Job]]] = []
        self._plain: list[Queue] = []
        self._workers = 0

    def make(self, *, concurrency: int = 8) -> tuple[Queue, AsyncIterator[Job]]:
        queue = self.make_queue(concurrency=concurrency)
        jobs = queue.consume().__aiter__()
        self._made.append((queue, jobs))
        return queue, jobs

    def make_queue(self, *, concurrency: int = 8) -> Queue:
        """A queue handle whose consuming the caller does (a Worker)."""
        self._workers += 1
        queue: Queue
        if self.kind == "postgres":
            queue = PostgresQueue(
                self._container.engine,
                self._container.database_url,
                CLOCK,
                worker_id=f"contract-{self._workers}",
                lease_seconds=1.0,
                batch_size=concurrency,
            )
        elif self.kind == "rabbitmq":
            queue = RabbitQueue(self._rabbitmq_url, CLOCK, prefetch=concurrency)
        else:
            queue = RedisQueue(
                brokers.REDIS_URL,
                CLOCK,
                concurrency=concurrency,
                lock_seconds=1.0,
                stalled_check_seconds=1.0,
                prefix=self._redis_prefix,
            )
        self._plain.append(queue)
        return queue

    async def die(self, queue: Queue) -> None:
        """Vanish the way a SIGKILLed consumer does: nothing settled, nothing handed back."""
        if isinstance(queue, RabbitQueue):
            await queue.close()  # the broker requeues what the closed connection held unacked
        elif isinstance(queue, RedisQueue):
            assert queue._worker is not None
            await queue._worker.close(force=True)  # the job stays active until its lock expires
        # postgres: the claim's lock simply expires

    async def close(self) -> None:
        for queue, jobs in self._made:
            await queue.stop()
            with_aclose: Any = jobs
            await with_aclose.aclose()
        for queue in self._plain:
            await queue.stop()
            await queue.close()


@pytest.fixture(params=["postgres", "rabbitmq", "redis"])
async def backend(
    request: pytest.FixtureRequest, container: Container, rabbitmq_url: str, redis_url: str
) -> AsyncIterator[Backend]:
    del redis_url  # requested so an unreachable Redis stops the run
    prefix = brokers.redis_prefix()
    if request.param == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
    made = Backend(request.param, container, rabbitmq_url, prefix)
    yield made
    await made.close()
    if request.param == "redis":
        await brokers.delete_redis_prefix(prefix)
    if request.param == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)


def job(priority: int = 1, *, delay: float = 0.0) -> Job:
    at = CLOCK.now() + timedelta(seconds=delay) if delay else None
    return Job(message_id=uuid.uuid4(), tenant_id=uuid.uuid4(), priority=priority, available_at=at)


async def take(jobs: AsyncIterator[Job], within: float = 5.0) -> Job:
    return await asyncio.wait_for(jobs.__anext__(), within)


async def test_published_jobs_are_handed_out_once_and_acked(backend: Backend) -> None:
    queue, jobs = backend.make()
    sent = [job() for _ in range(5)]
    await queue.publish(sent)
    got = [await take(jobs) for _ in sent]
    assert sorted(j.message_id for j in got) == sorted(j.message_id for j in sent)
    assert all(j.tenant_id == next(s.tenant_id for s in sent if s.message_id == j.message_id) for j in got)
    for j in got:
        await queue.ack(j)
    depth = await queue.depth()
    assert (depth.ready, depth.delayed, depth.dead) == (0, 0, 0)
    # The dashboard's consumer count: RabbitMQ reports the consumer attached above; the others cannot tell.
    assert depth.consumers == (1 if backend.kind == "rabbitmq" else None)


async def test_a_retried_job_comes_back_after_its_delay(backend: Backend) -> None:
    queue, jobs = backend.make()
    await queue.publish([job()])
    first = await take(jobs)
    started = time.monotonic()
    await queue.retry(first, CLOCK.now() + timedelta(seconds=1.0))
    again = await take(jobs, within=6)
    waited = time.monotonic() - started
    assert again.message_id == first.message_id
    assert 0.9 <= waited < 3.0, waited
    await queue.ack(again)


async def test_a_dead_lettered_job_is_kept_and_never_handed_out_again(backend: Backend) -> None:
    queue, jobs = backend.make()
    await queue.publish([job()])
    first = await take(jobs)
    await queue.dead_letter(first, "max_attempts")
    assert (await queue.depth()).dead == 1
    await queue.publish([job()])
    second = await take(jobs)
    assert second.message_id != first.message_id
    await queue.ack(second)


async def test_higher_priority_jobs_are_handed_out_first(backend: Backend) -> None:
    queue, _ = backend.make()
    await queue.publish([job(2) for _ in range(10)] + [job(1) for _ in range(10)] + [job(0) for _ in range(10)])
    # A consumer that starts on a backlog: what it takes first is the high-priority work.
    consumer, jobs = backend.make(concurrency=10)
    order = []
    for _ in range(30):
        got = await take(jobs)
        order.append(got.priority)
        await consumer.ack(got)
    assert order[:10] == [0] * 10, order
    assert order[-10:] == [2] * 10, order


async def test_a_scheduled_job_waits_for_its_time(backend: Backend) -> None:
    queue, jobs = backend.make()
    started = time.monotonic()
    await queue.publish([job(delay=1.5)])
    got = await take(jobs, within=6)
    waited = time.monotonic() - started
    assert 1.4 <= waited < 2.5, waited
    await queue.ack(got)


async def test_a_job_held_by_a_consumer_that_dies_is_handed_to_another(backend: Backend) -> None:
    doomed, doomed_jobs = backend.make()
    await doomed.publish([job()])
    held = await take(doomed_jobs)
    await backend.die(doomed)
    survivor, jobs = backend.make()
    again = await take(jobs, within=15)
    assert again.message_id == held.message_id
    assert again.deliveries >= 2 or backend.kind == "rabbitmq"
    await survivor.ack(again)


async def test_a_released_job_is_handed_out_again_at_once(backend: Backend) -> None:
    first_consumer, first_jobs = backend.make()
    await first_consumer.publish([job()])
    held = await take(first_jobs)
    await first_consumer.stop()
    other, jobs = backend.make()
    started = time.monotonic()
    await first_consumer.release(held)
    again = await take(jobs, within=5)
    assert again.message_id == held.message_id
    assert time.monotonic() - started < 2.0
    await other.ack(again)


async def _settled(queue: Queue) -> bool:
    for _ in range(250):
        depth = await queue.depth()
        if depth.ready == depth.delayed == 0:
            return True
        await asyncio.sleep(0.02)
    return False


async def _accept(api: httpx.AsyncClient, tenant: TenantKey, container: Container) -> Job:
    resp = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    assert resp.status_code == 202
    message_id = uuid.UUID(resp.json()["messageId"])
    async with container.engine.begin() as conn:
        tenant_id = (await conn.execute(select(messages.c.tenant_id).where(messages.c.id == message_id))).scalar_one()
        # Each test publishes the jobs it needs on its backend: the one the accept wrote itself (the suite's
        # postgres queue, ADR 0009) is taken away.
        await conn.execute(delete(queue_jobs).where(queue_jobs.c.message_id == message_id))
    return Job(message_id=message_id, tenant_id=tenant_id)


async def test_a_job_delivered_twice_sends_one_email(
    backend: Backend, api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    queue = backend.make_queue()
    job = await _accept(api, tenant, container)
    await queue.publish([job, job])  # a relay that died after its publish, and published again
    worker = Worker(queue, container.delivery_deps(), concurrency=4, grace_seconds=5)
    running = asyncio.create_task(worker.run())
    try:
        for _ in range(250):
            if sink.handler.ids():
                break
            await asyncio.sleep(0.02)
        assert await _settled(queue), "both jobs are settled"
        await asyncio.sleep(0.3)
    finally:
        worker.stop()
        await asyncio.wait_for(running, 15)
    assert sink.handler.ids() == [str(job.message_id)]


async def test_a_graceful_stop_finishes_the_send_in_flight(
    backend: Backend, api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    sink.handler.data_delay = 0.5
    queue = backend.make_queue()
    job = await _accept(api, tenant, container)
    await queue.publish([job])
    worker = Worker(queue, container.delivery_deps(), concurrency=4, grace_seconds=5)
    running = asyncio.create_task(worker.run())
    for _ in range(250):
        if worker.in_flight:
            break
        await asyncio.sleep(0.02)
    worker.stop()
    await asyncio.wait_for(running, 15)
    assert sink.handler.ids() == [str(job.message_id)]
    shown = (await api.get(f"/v1/messages/{job.message_id}", headers=tenant.headers)).json()
    assert shown["status"] == "sent"
    probe = backend.make_queue()
    assert await _settled(probe), "the finished job was acked, not left for redelivery"


async def test_a_jobs_payload_travels_with_it_through_a_retry(backend: Backend) -> None:
    # Directory events carry their document in the job (a separate service reads them); it must survive a retry.
    queue, jobs = backend.make()
    document = {"eventId": str(uuid.uuid4()), "data": {"name": "Ada", "secondaries": ["a@example.com"]}}
    await queue.publish([Job(message_id=uuid.uuid4(), tenant_id=uuid.uuid4(), payload=document)])
    first = await take(jobs)
    assert first.payload == document
    await queue.retry(first, CLOCK.now() + timedelta(seconds=0.3))
    again = await take(jobs, within=6)
    assert again.payload == document
    await queue.ack(again)
