"""The `postgres` queue backend: jobs are rows, claimed with FOR UPDATE SKIP LOCKED, woken by LISTEN/NOTIFY.

An idle worker sleeps until a NOTIFY, the next delayed job's time, or a slow safety poll that also finds
jobs whose holder died (their lock expired) — it never spins on the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import BigInteger, DateTime, and_, bindparam, column, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from iep.kit.batching import Batcher
from iep.kit.clock import Clock
from iep.kit.db import asyncpg_dsn, autocommit
from iep.kit.driver import Driver
from iep.kit.listen import listen_forever
from iep.queue.models import queue_jobs
from iep.queue.port import DEAD_LETTER_QUEUE, SEND_QUEUE, Depth, Job

log = structlog.get_logger("iep.queue.postgres")
CHANNEL = "iep_jobs"
SAFETY_POLL_SECONDS = 5.0
# Between back-to-back acks of a busy worker (iep.kit.batching): more jobs deleted per statement.
ACK_LINGER_SECONDS = 0.002


# Due jobs are taken round-robin across tenants, each tenant's in its own priority order (issue: one tenant's
# flood of `priority: high` must not starve the others). The tenants that have jobs are found by a walk over the
# (queue, tenant_id, …) index, one probe per tenant (PostgreSQL has no skip scan); each gives at most `limit` of
# its due jobs; the first of every tenant come first, then the second, and so on.
_JOB_COLUMNS = ", ".join(f'queue_jobs."{c.name}"' for c in queue_jobs.c)
_FAIR_CLAIM = text(
    f"""
WITH RECURSIVE tenants AS (
  (SELECT tenant_id FROM queue_jobs WHERE queue = :queue ORDER BY tenant_id LIMIT 1)
  UNION ALL
  SELECT (SELECT j.tenant_id FROM queue_jobs j WHERE j.queue = :queue AND j.tenant_id > t.tenant_id
          ORDER BY j.tenant_id LIMIT 1)
  FROM tenants t WHERE t.tenant_id IS NOT NULL
), picks AS (
  SELECT p.id, p.priority, p.available_at, t.tenant_id FROM tenants t
  CROSS JOIN LATERAL (
    SELECT j.id, j.priority, j.available_at FROM queue_jobs j
    WHERE j.queue = :queue AND j.tenant_id = t.tenant_id AND j.available_at <= :now
      AND (j.locked_until IS NULL OR j.locked_until < :now)
    ORDER BY j.priority, j.available_at, j.id LIMIT :limit
  ) p
  WHERE t.tenant_id IS NOT NULL
), turns AS (
  SELECT id, priority, available_at,
    row_number() OVER (PARTITION BY tenant_id ORDER BY priority, available_at, id) AS turn
  FROM picks
), chosen AS (
  SELECT q.id, c.turn FROM queue_jobs q
  JOIN (SELECT id, turn FROM turns ORDER BY turn, priority, available_at, id LIMIT :limit) c ON c.id = q.id
  FOR UPDATE OF q SKIP LOCKED
)
UPDATE queue_jobs SET locked_by = :owner, locked_until = :locked_until, deliveries = queue_jobs.deliveries + 1
FROM chosen WHERE queue_jobs.id = chosen.id
RETURNING {_JOB_COLUMNS}, chosen.turn
"""  # noqa: S608 - the interpolated names are the table's own declared columns, never input
).columns(*queue_jobs.c, column("turn", BigInteger))


_NEXT_DUE = text(
    "SELECT min(coalesce(locked_until, available_at)) AS due FROM queue_jobs WHERE queue = :queue"
).columns(column("due", DateTime(timezone=True)))
_ACK = text("DELETE FROM queue_jobs WHERE id = ANY(:ids) AND locked_by = :owner").bindparams(
    bindparam("ids", type_=ARRAY(BigInteger))
)


class PostgresQueue:
    name = "postgres"

    def __init__(
        self,
        engine: AsyncEngine,
        database_url: str,
        clock: Clock,
        *,
        worker_id: str,
        lease_seconds: float,
        batch_size: int = 16,
        queue: str = SEND_QUEUE,
        driver: Driver | None = None,
    ) -> None:
        self._engine = engine
        self._dsn = asyncpg_dsn(database_url)
        # The claim and the ack run on the driver (`kit/driver.py`): a handle made without one opens its own.
        self._owns_driver = driver is None
        self._driver = driver or Driver(database_url, size=4, application_name="iep-queue")
        self._clock = clock
        self._worker_id = worker_id
        self._lease = timedelta(seconds=lease_seconds)
        self._batch = batch_size
        self._queue = queue
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        # Jobs finished at about the same time are deleted by one statement (iep.kit.batching).
        self._acks: Batcher[Job, None] = Batcher(self._ack_many, max_batch=128, linger=ACK_LINGER_SECONDS)

    async def publish(self, jobs: Sequence[Job], *, connection: Any = None) -> None:
        if not jobs:
            return
        rows = [
            {
                "queue": self._queue,
                "message_id": j.message_id,
                "tenant_id": j.tenant_id,
                "priority": j.priority,
                "available_at": j.available_at or self._clock.now(),
            }
            for j in jobs
        ]
        if any(j.payload is not None for j in jobs):  # directory events; send and webhook jobs carry none
            for row, j in zip(rows, jobs, strict=True):
                row["payload"] = j.payload
        if isinstance(connection, AsyncConnection):
            # Same transaction as the outbox rows being marked: published exactly once.
            await connection.execute(insert(queue_jobs), rows)
            await connection.execute(text(f"NOTIFY {CHANNEL}"))
            return
        async with self._engine.begin() as conn:
            await conn.execute(insert(queue_jobs), rows)
            await conn.execute(text(f"NOTIFY {CHANNEL}"))

    async def consume(self, room: Callable[[], int] | None = None) -> AsyncIterator[Job]:
        listen_task = asyncio.create_task(listen_forever(self._dsn, CHANNEL, self._wakeup.set, self._stopping))
        try:
            while not self._stopping.is_set():
                # No more than the consumer can start: a claimed job waits for nobody, and the next claim (taken
                # round-robin across tenants) comes as soon as a slot frees up.
                limit = self._batch if room is None else max(1, min(self._batch, room()))
                try:
                    jobs = await self.claim(limit)
                except (OperationalError, DBAPIError, OSError) as exc:
                    log.warning("queue_claim_failed", error=str(exc)[:200])
                    await self._idle(1.0)
                    continue
                for job in jobs:
                    yield job
                if len(jobs) < limit:
                    await self._idle(await self._seconds_to_next_due())
        finally:
            listen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listen_task

    async def claim(self, limit: int) -> list[Job]:
        now = self._clock.now()
        params = {
            "queue": self._queue,
            "now": now,
            "limit": limit,
            "owner": self._worker_id,
            "locked_until": now + self._lease,
        }
        rows = await self._driver.fetch(_FAIR_CLAIM, params)  # one statement: atomic alone, one round trip
        # Handed on in turn order, so each tenant's first job starts before any tenant's second: sorted by priority
        # alone, a flood of `high` would go first within the batch too.
        ordered = sorted(rows, key=lambda r: (r["turn"], r["priority"], r["available_at"], r["id"]))
        return [
            Job(
                message_id=r["message_id"],
                tenant_id=r["tenant_id"],
                priority=r["priority"],
                available_at=r["available_at"],
                deliveries=r["deliveries"],
                receipt=r["id"],
                payload=r["payload"],
            )
            for r in ordered
        ]

    async def _seconds_to_next_due(self) -> float:
        now = self._clock.now()
        try:
            nxt = (await self._driver.fetch(_NEXT_DUE, {"queue": self._queue}))[0]["due"]
        except (OperationalError, DBAPIError, OSError):
            return 1.0
        if nxt is None:
            return SAFETY_POLL_SECONDS
        wait: float = (nxt - now).total_seconds()
        return max(0.0, min(SAFETY_POLL_SECONDS, wait))

    async def _idle(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout=seconds)
        self._wakeup.clear()

    async def _settle(self, job: Job, stmt: Any) -> None:
        # A database blip must not strand a finished job: try again, then leave it to the lock's expiry.
        for attempt in range(5):
            try:
                async with autocommit(self._engine) as conn:
                    await conn.execute(stmt)
                return
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("queue_settle_failed", job=job.receipt, attempt=attempt, error=str(exc)[:200])
                await asyncio.sleep(0.2 * (attempt + 1))

    def _mine(self, job: Job) -> Any:
        return and_(queue_jobs.c.id == job.receipt, queue_jobs.c.locked_by == self._worker_id)

    async def ack(self, job: Job) -> None:
        await self._acks.submit(job)

    async def _ack_many(self, jobs: list[Job]) -> list[None]:
        params = {"ids": [j.receipt for j in jobs], "owner": self._worker_id}
        # A database blip must not strand finished jobs: try again, then leave them to the lock's expiry.
        for attempt in range(5):
            try:
                await self._driver.fetch(_ACK, params)
                break
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("queue_settle_failed", job=jobs[0].receipt, attempt=attempt, error=str(exc)[:200])
                await asyncio.sleep(0.2 * (attempt + 1))
        return [None] * len(jobs)

    async def retry(self, job: Job, available_at: datetime) -> None:
        await self._settle(
            job,
            update(queue_jobs)
            .where(self._mine(job))
            .values(available_at=available_at, locked_by=None, locked_until=None),
        )

    async def release(self, job: Job) -> None:
        await self.retry(job, self._clock.now())
        self.wake()

    async def dead_letter(self, job: Job, reason: str) -> None:
        await self._settle(
            job,
            update(queue_jobs)
            .where(self._mine(job))
            .values(queue=DEAD_LETTER_QUEUE, locked_by=None, locked_until=None, payload={"reason": reason}),
        )

    async def depth(self) -> Depth:
        now = self._clock.now()
        stmt = select(
            func.count().filter(queue_jobs.c.queue == self._queue, queue_jobs.c.available_at <= now),
            func.count().filter(queue_jobs.c.queue == self._queue, queue_jobs.c.available_at > now),
            func.count().filter(queue_jobs.c.queue == DEAD_LETTER_QUEUE),
        )
        async with self._engine.connect() as conn:
            ready, delayed, dead = (await conn.execute(stmt)).one()
        return Depth(ready=ready, delayed=delayed, dead=dead)

    def wake(self) -> None:
        self._wakeup.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()

    async def close(self) -> None:
        """The engine (and a driver handed in) belong to the container, which closes them."""
        if self._owns_driver:
            await self._driver.close()
