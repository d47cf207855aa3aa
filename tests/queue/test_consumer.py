"""A tenant cap in the consumer: one tenant's flood holds at most `cap` slots while other tenants' jobs take the
free ones; its further jobs wait parked, or go back to the queue once the parking is full; a stop hands back
every job that never started. Run on the real backends: the brokers must let a capped consumer hold its parked
jobs and still hand it other tenants' work."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from iep.bootstrap import Container
from iep.kit.clock import Clock, FakeClock, SystemClock
from iep.queue.consumer import HAND_BACK_DELAY, Consumer
from iep.queue.models import queue_jobs
from iep.queue.port import Depth, Job, Queue
from iep.queue.postgres import PostgresQueue
from iep.queue.rabbitmq import RabbitQueue
from iep.queue.redis_bullmq import RedisQueue
from iep.queue.tenant_slots import parking_room
from tests.support import brokers

FLOOD, QUIET, THIRD = (uuid.UUID(int=n) for n in (1, 2, 3))
CONCURRENCY, CAP = 4, 2


class Recorded:
    """The real queue, with every settle noted before it is passed on."""

    def __init__(self, inner: Queue, *, stop_takes: float = 0.0) -> None:
        self.inner = inner
        self.name = inner.name
        self.settled: list[tuple[str, uuid.UUID]] = []
        self._stop_takes = stop_takes

    async def publish(self, jobs: Sequence[Job], *, connection: Any = None) -> None:
        await self.inner.publish(jobs, connection=connection)

    def consume(self, room: Callable[[], int] | None = None) -> AsyncIterator[Job]:
        return self.inner.consume(room)

    async def ack(self, job: Job) -> None:
        self.settled.append(("ack", job.message_id))
        await self.inner.ack(job)

    async def retry(self, job: Job, available_at: datetime) -> None:
        self.settled.append(("retry", job.message_id))
        await self.inner.retry(job, available_at)

    async def release(self, job: Job) -> None:
        self.settled.append(("release", job.message_id))
        await self.inner.release(job)

    async def dead_letter(self, job: Job, reason: str) -> None:
        self.settled.append(("dead", job.message_id))
        await self.inner.dead_letter(job, reason)

    async def depth(self) -> Depth:
        return await self.inner.depth()

    def wake(self) -> None:
        self.inner.wake()

    async def stop(self) -> None:
        await asyncio.sleep(self._stop_takes)  # a broker's stop can take round trips
        await self.inner.stop()

    async def close(self) -> None:
        await self.inner.close()

    def count(self, kind: str) -> Counter[uuid.UUID]:
        return Counter(m for k, m in self.settled if k == kind)


class Gated(Consumer):
    """Jobs of the held tenants wait at a gate; the others end at once. Notes each tenant's jobs in flight."""

    def __init__(self, queue: Queue, clock: Clock, *, held: set[uuid.UUID], cap: int = CAP) -> None:
        super().__init__(
            queue,
            name="gated",
            worker_id="gated",
            concurrency=CONCURRENCY,
            grace_seconds=5,
            tenant_cap=cap,
            clock=clock,
        )
        self.gate = asyncio.Event()
        self.held = held
        self.started: list[Job] = []
        self.running: Counter[uuid.UUID] = Counter()
        self.peak: Counter[uuid.UUID] = Counter()

    async def handle(self, job: Job) -> None:
        tenant = job.tenant_id
        self.started.append(job)
        self.running[tenant] += 1
        self.peak[tenant] = max(self.peak[tenant], self.running[tenant])
        try:
            if tenant in self.held:
                await self.gate.wait()
        finally:
            self.running[tenant] -= 1
        await self._queue.ack(job)
        self.processed += 1


@asynccontextmanager
async def serving(consumer: Gated) -> AsyncIterator[None]:
    """The consumer runs inside the block; after it the gate opens and the consumer stops."""
    running = asyncio.create_task(consumer.run())
    try:
        yield
    finally:
        consumer.gate.set()
        consumer.stop()
        await asyncio.wait_for(running, 30)


def jobs(tenant: uuid.UUID, n: int) -> list[Job]:
    return [Job(message_id=uuid.uuid4(), tenant_id=tenant) for _ in range(n)]


async def until(check: Callable[[], bool], what: str, within: float = 15.0) -> None:
    for _ in range(int(within / 0.02)):
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"never: {what}")


def postgres(container: Container, clock: Clock) -> PostgresQueue:
    return PostgresQueue(
        container.engine, container.database_url, clock, worker_id="capped", lease_seconds=60, batch_size=CONCURRENCY
    )


@pytest.fixture(params=["postgres", "rabbitmq", "redis"])
async def backend(
    request: pytest.FixtureRequest, container: Container, clock: FakeClock, rabbitmq_url: str, redis_url: str
) -> AsyncIterator[tuple[Queue, Clock]]:
    """A queue on one backend, sized as `bootstrap.make_queue` sizes a capped send worker's."""
    held = CONCURRENCY + parking_room(CONCURRENCY, CAP)
    prefix = brokers.redis_prefix()
    queue: Queue
    if request.param == "postgres":
        queue = postgres(container, clock)
        yield queue, clock
        return
    if request.param == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
        queue = RabbitQueue(rabbitmq_url, SystemClock(), prefetch=held)
    else:
        queue = RedisQueue(redis_url, SystemClock(), concurrency=held, lock_seconds=10, prefix=prefix)
    yield queue, SystemClock()
    if request.param == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)
    else:
        await brokers.delete_redis_prefix(prefix)


async def test_a_flood_holds_at_most_its_cap_and_another_tenant_passes_it(backend: tuple[Queue, Clock]) -> None:
    inner, clock = backend
    queue = Recorded(inner)
    consumer = Gated(queue, clock, held={FLOOD})
    running = asyncio.create_task(consumer.run())
    try:
        flood = jobs(FLOOD, 20)
        await queue.publish(flood)
        # The flood has reached the consumer: two in flight, four parked, the rest handed back.
        await until(lambda: consumer.running[FLOOD] == CAP and consumer.handed_back >= 14, "the flood arrives")
        quiet = jobs(QUIET, 2)
        await queue.publish(quiet)
        await until(lambda: all(queue.count("ack")[j.message_id] for j in quiet), "the quiet tenant's jobs end")
        assert consumer.running[FLOOD] == CAP, "the flood's jobs were all still pending meanwhile"
        assert not any(queue.count("ack")[j.message_id] for j in flood)

        consumer.gate.set()
        for _ in range(750):
            if all(queue.count("ack")[j.message_id] for j in flood):
                break
            if isinstance(clock, FakeClock):  # what went back is due again after the hand-back delay
                clock.advance(HAND_BACK_DELAY.total_seconds())
                queue.wake()
            await asyncio.sleep(0.02)
    finally:
        consumer.stop()
        await asyncio.wait_for(running, 30)
    assert consumer.peak[FLOOD] == CAP
    acked = queue.count("ack")
    assert sorted(acked.values()) == [1] * 22, "every job acked once"
    assert set(acked) == {j.message_id for j in flood + quiet}
    assert sorted(Counter(j.message_id for j in consumer.started).values()) == [1] * 22, "handled once each"


async def test_jobs_past_the_parking_go_back_to_the_queue(container: Container, clock: FakeClock) -> None:
    queue = Recorded(postgres(container, clock))
    consumer = Gated(queue, clock, held={FLOOD})
    async with serving(consumer):
        flood = jobs(FLOOD, 20)
        await queue.publish(flood)
        await until(lambda: consumer.handed_back == 14, "the flood arrives")
        await asyncio.sleep(0.2)  # nothing more happens while the flood's slots are held
        assert [j.message_id for j in consumer.started] == [j.message_id for j in flood[:CAP]]
        async with container.engine.connect() as conn:
            rows = (await conn.execute(select(queue_jobs.c.locked_by, queue_jobs.c.available_at))).all()
        held = [r for r in rows if r.locked_by is not None]
        back = [r for r in rows if r.locked_by is None]
        assert len(held) == CAP + parking_room(CONCURRENCY, CAP), "in flight and parked: still claimed"
        assert len(back) == 14
        assert {r.available_at for r in back} == {clock.now() + HAND_BACK_DELAY}
        assert sorted(queue.count("retry").values()) == [1] * 14


async def test_a_stop_hands_back_every_job_that_never_started(container: Container, clock: FakeClock) -> None:
    # Sends in flight end while the queue is being stopped: their slots must not pass to parked jobs then.
    queue = Recorded(postgres(container, clock), stop_takes=0.5)
    consumer = Gated(queue, clock, held={FLOOD, QUIET})
    running = asyncio.create_task(consumer.run())
    flood, quiet, third = jobs(FLOOD, 6), jobs(QUIET, 2), jobs(THIRD, 1)
    await queue.publish(flood)
    await until(lambda: consumer.running[FLOOD] == CAP, "the flood starts")
    await queue.publish(quiet)
    await until(lambda: consumer.running[QUIET] == 2, "the quiet tenant takes the free slots")

    async def claimed() -> bool:
        async with container.engine.connect() as conn:
            stmt = select(queue_jobs.c.locked_by).where(queue_jobs.c.message_id == third[0].message_id)
            return (await conn.execute(stmt)).scalar_one() is not None

    await queue.publish(third)
    await asyncio.sleep(0.3)
    assert not await claimed(), "every slot is taken: the consumer asks the queue for nothing"

    consumer.stop()
    consumer.gate.set()  # the sends in flight finish within the grace period
    await asyncio.wait_for(running, 30)
    started = {j.message_id for j in consumer.started}
    assert started == {j.message_id for j in flood[:CAP] + quiet}, "nothing parked starts once the stop came"
    # The third may be taken while the queue stops (its slot freed then): it goes straight back.
    assert set(Counter(m for _, m in queue.settled).values()) == {1}, "each job taken settled exactly once"
    assert set(queue.count("ack")) == started
    assert set(queue.count("release")) - {third[0].message_id} == {j.message_id for j in flood[CAP:]}
    async with container.engine.connect() as conn:
        rows = (await conn.execute(select(queue_jobs.c.message_id, queue_jobs.c.locked_by))).all()
    assert {r.message_id for r in rows} == {j.message_id for j in flood[CAP:] + third}, "back in the queue"
    assert {r.locked_by for r in rows} == {None}


async def test_without_a_cap_one_tenant_may_take_every_slot(container: Container, clock: FakeClock) -> None:
    """The webhooks and registry consumers keep the plain loop."""
    queue = Recorded(postgres(container, clock))
    consumer = Gated(queue, clock, held={FLOOD}, cap=0)
    async with serving(consumer):
        await queue.publish(jobs(FLOOD, 6))
        await until(lambda: consumer.running[FLOOD] == CONCURRENCY, "the flood takes every slot")
        assert consumer.handed_back == 0


async def test_the_database_queue_is_asked_for_no_more_than_can_start(container: Container, clock: FakeClock) -> None:
    """A job claimed is a job started: a quiet tenant's job that comes due behind a flood goes next, not after a
    claimed backlog."""
    queue = Recorded(postgres(container, clock))
    consumer = Gated(queue, clock, held={FLOOD}, cap=0)
    async with serving(consumer):
        await queue.publish(jobs(FLOOD, 20))
        await until(lambda: consumer.running[FLOOD] == CONCURRENCY, "the flood takes every slot")
        await asyncio.sleep(0.2)
        async with container.engine.connect() as conn:
            locked = (await conn.execute(select(queue_jobs.c.id).where(queue_jobs.c.locked_by.is_not(None)))).all()
        assert len(locked) == CONCURRENCY, "claimed: only the jobs in flight"
        quiet = jobs(QUIET, 1)
        await queue.publish(quiet)
        consumer.gate.set()
        await until(lambda: consumer.processed == 21, "every job is handled")
        order = [j.message_id for j in consumer.started]
        # The next claim takes each tenant's first due job, the older first: one of the flood's, then the quiet one.
        assert order.index(quiet[0].message_id) == CONCURRENCY + 1, "the quiet job starts before the flood's rest"
