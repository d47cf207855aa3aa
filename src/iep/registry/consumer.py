"""The registry's consumer (role `registry`): directory events from the queue backend, applied by `service`.

A transient failure (the database away) is retried with exponential backoff through the queue; after
REGISTRY_MAX_ATTEMPTS, or at once for a poison event, the event goes to the registry's dead-letter table and
the log says which event, its correlation id and why (SPEC R5, R6).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.observability.metrics import RegistryMetrics
from iep.queue.consumer import Consumer
from iep.queue.port import Job, Queue
from iep.registry import repository, service

log = structlog.get_logger("iep.registry")
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_CAP_SECONDS = 60.0


def backoff(deliveries: int) -> float:
    """0.5 s, 1 s, 2 s, … up to a minute: the delay before delivery number `deliveries + 1`."""
    return float(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, deliveries - 1)))


class RegistryConsumer(Consumer):
    def __init__(
        self,
        queue: Queue,
        engine: AsyncEngine,
        clock: Clock,
        metrics: RegistryMetrics,
        *,
        worker_id: str,
        concurrency: int,
        grace_seconds: float,
        max_attempts: int,
    ) -> None:
        super().__init__(
            queue, name="registry", worker_id=worker_id, concurrency=concurrency, grace_seconds=grace_seconds
        )
        self._engine = engine
        self._clock = clock
        self._metrics = metrics
        self._max_attempts = max_attempts

    async def handle(self, job: Job) -> None:
        doc: Any = job.payload
        facts = _facts(doc, job)
        try:
            async with self._engine.begin() as conn:
                outcome = await service.handle(conn, doc, self._clock.now())
        except asyncio.CancelledError:
            raise
        except service.PoisonEvent as exc:
            await self._bury(job, doc, facts, str(exc))
            return
        except Exception as exc:
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            if job.deliveries >= self._max_attempts:
                await self._bury(job, doc, facts, f"gave up after {job.deliveries} attempts: {reason}")
                return
            delay = backoff(job.deliveries)
            log.warning("directory_event_retry", **facts, attempt=job.deliveries, delay_seconds=delay, error=reason)
            self._metrics.events_processed.labels(facts["event_type"], "retried").inc()
            await self._queue.retry(job, self._clock.now() + timedelta(seconds=delay))
            return
        await self._queue.ack(job)
        self.processed += 1
        self._metrics.events_processed.labels(facts["event_type"], outcome.value).inc()
        log.info("directory_event_" + outcome.value, **facts)

    async def _bury(self, job: Job, doc: Any, facts: dict[str, Any], reason: str) -> None:
        try:
            async with self._engine.begin() as conn:
                dead_id = await repository.bury(
                    conn,
                    {
                        "event_id": facts["event_id"],
                        "correlation_id": facts["correlation_id"],
                        "document": doc if isinstance(doc, dict) else {"raw": repr(doc)[:2000]},
                        "reason": reason,
                        "attempts": job.deliveries,
                    },
                )
        except Exception as exc:  # cannot even record it: keep it in the queue for another try
            log.warning("directory_event_dead_letter_failed", **facts, error=str(exc)[:200])
            await self._queue.retry(job, self._clock.now() + timedelta(seconds=BACKOFF_CAP_SECONDS))
            return
        await self._queue.ack(job)
        self._metrics.events_processed.labels(facts["event_type"], "dead").inc()
        # The alert a DLQ needs (seed 004 MS-3): error level, the event, its correlation id and the reason.
        log.error("directory_event_dead_lettered", **facts, dead_id=dead_id, reason=reason)


def _facts(doc: Any, job: Job) -> dict[str, Any]:
    """What the logs say about an event, read defensively: a poison event may have none of it."""
    d = doc if isinstance(doc, dict) else {}

    def text(key: str) -> str | None:
        value = d.get(key)
        return str(value)[:100] if value is not None else None

    return {
        "event_id": text("eventId") or str(job.message_id),
        "event_type": text("type") or "unknown",
        "correlation_id": text("correlationId"),
        "user_id": text("userId"),
        "sequence": d.get("sequence") if isinstance(d.get("sequence"), int) else None,
    }
