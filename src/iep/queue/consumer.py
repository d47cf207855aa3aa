"""The loop every consuming role shares: take jobs with bounded concurrency, handle each in its own task, and on
stop finish what is in flight within the grace period, handing the rest back to the queue (D-7)."""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod

import structlog

from iep.queue.port import Job, Queue

log = structlog.get_logger("iep.consumer")


class Consumer(ABC):
    def __init__(self, queue: Queue, *, name: str, worker_id: str, concurrency: int, grace_seconds: float) -> None:
        self._queue = queue
        self._name = name
        self._worker_id = worker_id
        self._slots = asyncio.Semaphore(concurrency)
        self._grace = grace_seconds
        self._inflight: dict[asyncio.Task[None], Job] = {}
        self._stopping = asyncio.Event()
        self.processed = 0

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
        async for job in self._queue.consume():
            await self._slots.acquire()
            if self._stopping.is_set():
                self._slots.release()
                await self._queue.release(job)
                return
            task = asyncio.create_task(self.handle(job))
            self._inflight[task] = job
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._slots.release()

    async def _drain(self) -> None:
        """Give in-flight jobs the grace period, then hand what is left back to the queue."""
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
