"""The directory's relay (SPEC R4): committed events → their own topic on the queue backend, then marked.

The same pattern as the send path's relay (`outbox.relay`), over the directory's own outbox table, so the send
path's claim is untouched. A crash between publish and mark publishes again; the registry applies an event
once by its id, so a repeat is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.directory import repository
from iep.kit.clock import Clock
from iep.observability.metrics import DirectoryMetrics
from iep.queue.port import Job, Queue

log = structlog.get_logger("iep.directory.relay")
POLL_SECONDS = 0.5


class DirectoryRelay:
    def __init__(
        self, engine: AsyncEngine, queue: Queue, clock: Clock, metrics: DirectoryMetrics, *, batch_size: int
    ) -> None:
        self._engine = engine
        self._queue = queue
        self._clock = clock
        self._metrics = metrics
        self._batch = batch_size
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()

    async def relay_once(self) -> int:
        async with self._engine.begin() as conn:
            rows = await repository.claim_unpublished(conn, self._batch)
            if not rows:
                return 0
            jobs = [Job(message_id=r["id"], tenant_id=r["tenant_id"], payload=r["payload"]) for r in rows]
            # Broker backends confirm before we commit; the postgres backend writes in this transaction.
            await self._queue.publish(jobs, connection=conn)
            await repository.mark_published(conn, [r["id"] for r in rows], self._clock.now())
        for r in rows:
            self._metrics.events_published.labels(r["payload"].get("type", "unknown")).inc()
            log.info(
                "directory_event_published",
                event_id=str(r["id"]),
                event_type=r["payload"].get("type"),
                correlation_id=r["payload"].get("correlationId"),
            )
        return len(rows)

    async def run(self) -> None:
        log.info("directory_relay_started", queue=self._queue.name)
        while not self._stopping.is_set():
            try:
                moved = await self.relay_once()
            except Exception as exc:  # the database or the broker is away: the rows stay owed
                log.warning("directory_relay_failed", error=str(exc).splitlines()[0][:200] if str(exc) else repr(exc))
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
