"""The worker loop: consume jobs with bounded concurrency, settle each by its decision, stop gracefully (D-7)."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

from iep.delivery.tasks import DeliveryDeps, Outcome, deliver_message
from iep.queue.port import Job, Queue

log = structlog.get_logger("iep.worker")


class Worker:
    def __init__(self, queue: Queue, deps: DeliveryDeps, *, concurrency: int, grace_seconds: float) -> None:
        self._queue = queue
        self._deps = deps
        self._slots = asyncio.Semaphore(concurrency)
        self._grace = grace_seconds
        self._inflight: dict[asyncio.Task[None], Job] = {}
        self._stopping = asyncio.Event()
        self.processed = 0

    async def run(self) -> None:
        log.info("worker_started", worker=self._deps.worker_id, queue=self._queue.name)
        consumer = asyncio.create_task(self._consume())
        await self._stopping.wait()
        await self._queue.stop()
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        await self._drain()
        await self._queue.close()
        log.info("worker_stopped", worker=self._deps.worker_id, processed=self.processed)

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

    async def handle(self, job: Job) -> None:
        """Deliver one job and settle it with the queue by the outcome."""
        try:
            decision = await deliver_message(self._deps, job.message_id)
        except asyncio.CancelledError:
            raise
        except (OperationalError, DBAPIError, OSError) as exc:
            # The database went away mid-step (restart, terminated connection): the job comes back shortly,
            # and the message lease decides whether it is taken over.
            log.warning("deliver_interrupted", message_id=str(job.message_id), error=str(exc).splitlines()[0][:200])
            await self._queue.retry(job, self._deps.clock.now())
            return
        except Exception:
            # A crash before the message was claimed (the send step counts crashes of claimed messages itself):
            # the job comes back after a pause, never at once, so a bug cannot spin the CPU.
            log.exception("deliver_crashed", message_id=str(job.message_id))
            await self._queue.retry(job, self._deps.clock.now() + self._deps.crash_backoff)
            return
        if decision.outcome is Outcome.DONE:
            await self._queue.ack(job)
        elif decision.outcome is Outcome.RETRY:
            assert decision.at is not None
            await self._queue.retry(job, decision.at)
        else:
            await self._queue.dead_letter(job, "max_attempts")
        self.processed += 1

    async def _drain(self) -> None:
        """Give in-flight sends the grace period, then hand what is left back to the queue."""
        if not self._inflight:
            return
        done, pending = await asyncio.wait(set(self._inflight), timeout=self._grace)
        del done
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
