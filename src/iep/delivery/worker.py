"""The send worker: each job delivered by the send step and settled with the queue by its decision."""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

from iep.delivery.tasks import DeliveryDeps, Outcome, deliver_message
from iep.queue.consumer import Consumer
from iep.queue.port import Job, Queue

log = structlog.get_logger("iep.worker")


class Worker(Consumer):
    def __init__(
        self,
        queue: Queue,
        deps: DeliveryDeps,
        *,
        concurrency: int,
        grace_seconds: float,
        tenant_concurrency: int = 0,
    ) -> None:
        super().__init__(
            queue,
            name="worker",
            worker_id=deps.worker_id,
            concurrency=concurrency,
            grace_seconds=grace_seconds,
            tenant_cap=tenant_concurrency,
            clock=deps.clock,
        )
        self._deps = deps

    async def handle(self, job: Job) -> None:
        """Deliver one job and settle it with the queue by the outcome."""
        try:
            decision = await deliver_message(self._deps, job.message_id, (job.payload or {}).get("traceparent"))
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
