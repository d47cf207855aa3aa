"""The relay (D4): committed outbox rows → the queue, then removed. A crash in between publishes again;
consumers are idempotent on the message id, so a repeat costs a no-op, never a second email."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.db import asyncpg_dsn
from iep.kit.listen import listen_forever
from iep.observability import tracing
from iep.outbox import repository
from iep.queue.port import Job, Queue

log = structlog.get_logger("iep.relay")
CHANNEL = "iep_outbox"
POLL_SECONDS = 2.0


class Relay:
    def __init__(self, engine: AsyncEngine, database_url: str, queue: Queue, *, batch_size: int) -> None:
        self._engine = engine
        self._dsn = asyncpg_dsn(database_url)
        self._queue = queue
        self._batch = batch_size
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish one batch; return how many rows moved."""
        async with self._engine.begin() as conn:
            rows = await repository.claim_batch(conn, self._batch)
            if not rows:
                return 0
            jobs = [_job(r) for r in rows]
            # Broker backends confirm before we delete; the postgres backend writes in this transaction.
            await self._queue.publish(jobs, connection=conn)
            await repository.remove(conn, [r["id"] for r in rows])
        return len(rows)

    async def run(self) -> None:
        listener = asyncio.create_task(listen_forever(self._dsn, CHANNEL, self._wakeup.set, self._stopping))
        log.info("relay_started", queue=self._queue.name)
        try:
            while not self._stopping.is_set():
                try:
                    moved = await self.relay_once()
                except Exception as exc:  # the database or the broker is away: the rows stay for the next try
                    log.warning("relay_failed", error=str(exc).splitlines()[0][:200] if str(exc) else repr(exc))
                    moved = 0
                    await asyncio.sleep(1.0)
                if moved < self._batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout=POLL_SECONDS)
                    self._wakeup.clear()
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()


def _job(row: dict[str, Any]) -> Job:
    """The queue message of an outbox row; a traced accept's trace goes on through a span of the relay's own."""
    payload = dict(row["payload"] or {})
    carried = payload.get("traceparent")
    if carried:
        context = tracing.parent(carried)
        with tracing.tracer().start_as_current_span("relay.publish", context=context, kind=SpanKind.PRODUCER) as span:
            span.set_attribute("iep.message_id", str(row["message_id"]))
            payload["traceparent"] = tracing.traceparent()
    return Job(
        message_id=row["message_id"],
        tenant_id=row["tenant_id"],
        priority=row["priority"],
        available_at=row["available_at"],
        payload=payload or None,
    )
