"""The loop every consuming role shares: take jobs with bounded concurrency, handle each in its own task, and on
stop finish what is in flight within the grace period, handing the rest back to the queue (D-7).

With a tenant cap (the send worker's `WORKER_TENANT_CONCURRENCY`), a job whose tenant already has `cap` jobs in
flight does not take a slot: it waits parked until one of its tenant's jobs ends, while other tenants' jobs take
the free slots; when the parking is full, it goes back to the queue for a moment (`queue.tenant_slots`)."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from datetime import timedelta

import structlog

from iep.kit.clock import Clock, SystemClock
from iep.queue.port import Job, Queue
from iep.queue.tenant_slots import TenantSlots, parking_room

log = structlog.get_logger("iep.consumer")

# A job handed back because its tenant is at its cap and the parking is full is due again after this: long
# enough that the broker does not hand it straight back, short enough that the tenant's backlog keeps moving.
HAND_BACK_DELAY = timedelta(seconds=1)


class Consumer(ABC):
    def __init__(
        self,
        queue: Queue,
        *,
        name: str,
        worker_id: str,
        concurrency: int,
        grace_seconds: float,
        tenant_cap: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self._queue = queue
        self._name = name
        self._worker_id = worker_id
        self._concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._grace = grace_seconds
        self._inflight: dict[asyncio.Task[None], Job] = {}
        room = parking_room(concurrency, tenant_cap)
        self._tenants = TenantSlots(tenant_cap, parking=room) if room else None
        self._clock = clock or SystemClock()
        self._stopping = asyncio.Event()
        self.processed = 0
        self.handed_back = 0

    @abstractmethod
    async def handle(self, job: Job) -> None:
        """Do the job and settle it with the queue (ack, retry, dead-letter); raise nothing but cancellation."""

    async def closed(self) -> None:
        """After the queue is closed: release what the subclass holds."""
        return None

    async def run(self) -> None:
        log.info(f"{self._name}_started", worker=self._worker_id, queue=self._queue.name)
        consumer = asyncio.create_task(self._consume())
        await self._stopping.wait()
        await self._queue.stop()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await self._drain()
        await self._queue.close()
        await self.closed()
        log.info(f"{self._name}_stopped", worker=self._worker_id, processed=self.processed)

    async def _consume(self) -> None:
        jobs = aiter(self._queue.consume(self._room))
        while True:
            # A slot first, then a job: the queue is asked only for what can start now, so no job taken from it
            # waits here (behind it, a quiet tenant's job would wait too).
            await self._slots.acquire()
            job = await self._next_startable(jobs)
            if job is None:
                self._slots.release()
                return
            if self._stopping.is_set():
                self._slots.release()
                if self._tenants is not None:
                    self._tenants.finished(job.tenant_id, hand_on=False)
                await self._queue.release(job)
                return
            self._start(job)

    async def _next_startable(self, jobs: AsyncIterator[Job]) -> Job | None:
        """The next job whose tenant has a slot free; jobs of tenants at their cap are parked or handed back."""
        async for job in jobs:
            if self._tenants is None or self._tenants.take(job.tenant_id):
                return job
            if not self._tenants.park(job):
                await self._hand_back(job)
        return None

    def _room(self) -> int:
        """Slots free now, the one just taken for the next job included."""
        return self._concurrency - len(self._inflight)

    def _start(self, job: Job) -> None:
        task = asyncio.create_task(self.handle(job))
        self._inflight[task] = job
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        job = self._inflight.pop(task, None)
        if job is not None and self._tenants is not None:
            parked = self._tenants.finished(job.tenant_id, hand_on=not self._stopping.is_set())
            if parked is not None:
                # The tenant's slot and the global slot pass to its next parked job: it came before whatever
                # the loop holds now, and the tenant stays within its cap.
                self._start(parked)
                return
        self._slots.release()

    async def _hand_back(self, job: Job) -> None:
        """The broker keeps the job until its tenant has room again, not this process."""
        self.handed_back += 1
        await self._queue.retry(job, self._clock.now() + HAND_BACK_DELAY)

    async def _drain(self) -> None:
        """Hand back what never started, give in-flight jobs the grace period, then hand back what is left."""
        unstarted = self._tenants.unpark_all() if self._tenants is not None else []
        for parked in unstarted:
            await self._queue.release(parked)
        if not self._inflight:
            return
        _, pending = await asyncio.wait(set(self._inflight), timeout=self._grace)
        for task in pending:
            job = self._inflight.get(task)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if job is not None:
                await self._queue.release(job)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def stop(self) -> None:
        self._stopping.set()
