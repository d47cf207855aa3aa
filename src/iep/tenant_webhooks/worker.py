"""The `webhooks` role: a dispatcher hands due events to the webhook queue, a worker delivers them.

The database is the record of what is owed (`webhook_events`); the queue only carries "look at event X now".
The dispatcher claims due events with FOR UPDATE SKIP LOCKED and publishes them to the role's own queue
(`mail.webhook` on RabbitMQ and on PostgreSQL, a BullMQ queue of that name on Redis). It also re-publishes
what a broker lost (handed over long ago, never taken) and what a dead deliverer left (its lease ran out).
Failed attempts are not retried through the queue: the event's `next_attempt_at` moves, and the dispatcher
publishes it again when it falls due — so a test clock drives the whole schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.queue.consumer import Consumer
from iep.queue.port import Job, Queue
from iep.tenant_webhooks import repository
from iep.tenant_webhooks.tasks import WebhookDeps, deliver_event

log = structlog.get_logger("iep.webhooks")
POLL_SECONDS = 0.5
_DB_ERRORS = (OperationalError, DBAPIError, OSError)


class Dispatcher:
    def __init__(
        self, engine: AsyncEngine, queue: Queue, clock: Clock, *, batch_size: int, stale_seconds: float
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._clock = clock
        self._batch = batch_size
        self._stale = timedelta(seconds=stale_seconds)
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()

    async def dispatch_once(self) -> int:
        now = self._clock.now()
        async with self._engine.begin() as conn:
            due = await repository.claim_due(conn, now, now - self._stale, self._batch)
            if not due:
                return 0
            # Broker backends confirm before we commit; the postgres backend writes in this transaction.
            await self._queue.publish([Job(message_id=e, tenant_id=t) for e, t in due], connection=conn)
        return len(due)

    async def run(self) -> None:
        log.info("webhook_dispatcher_started", queue=self._queue.name)
        while not self._stopping.is_set():
            try:
                moved = await self.dispatch_once()
            except Exception as exc:  # the database or the broker is away: the rows stay owed
                log.warning("webhook_dispatch_failed", error=str(exc).splitlines()[0][:200] if str(exc) else repr(exc))
                moved = 0
                await asyncio.sleep(1.0)
            if moved < self._batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout=POLL_SECONDS)
                self._wakeup.clear()

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()


class WebhookWorker(Consumer):
    def __init__(self, queue: Queue, deps: WebhookDeps, *, concurrency: int, grace_seconds: float) -> None:
        super().__init__(
            queue, name="webhook_worker", worker_id=deps.worker_id, concurrency=concurrency, grace_seconds=grace_seconds
        )
        self._deps = deps

    async def closed(self) -> None:
        await self._deps.sender.close()

    async def handle(self, job: Job) -> None:
        # For the webhook queue, a job's `message_id` carries the webhook event id.
        try:
            await deliver_event(self._deps, job.message_id)
        except asyncio.CancelledError:
            raise
        except _DB_ERRORS as exc:
            log.warning("webhook_interrupted", event_id=str(job.message_id), error=str(exc).splitlines()[0][:200])
            await self._queue.retry(job, self._deps.clock.now() + timedelta(seconds=1))
            return
        except Exception:
            log.exception("webhook_crashed", event_id=str(job.message_id))
            await self._queue.retry(job, self._deps.clock.now() + timedelta(seconds=1))
            return
        # Done, rescheduled in the database, or not ours to do now: the database says what is owed.
        await self._queue.ack(job)
        self.processed += 1
