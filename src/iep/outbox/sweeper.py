"""The sweeper (STYLE convention 4): re-publish messages whose job a broker lost.

The database is the record of what is owed. A broker that restarts without its data (Redis with no
persistence), a purged queue or an operator's mistake loses jobs, never messages: every so often the relay
role looks for work that is overdue by more than `QUEUE_SWEEP_AFTER_SECONDS` and writes it to the outbox again.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.kit.clock import Clock
from iep.outbox import repository

log = structlog.get_logger("iep.sweeper")
BATCH = 1000


class Sweeper:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, stale_seconds: float, interval_seconds: float) -> None:
        self._engine = engine
        self._clock = clock
        self._stale = timedelta(seconds=stale_seconds)
        self._interval = interval_seconds
        self._stopping = asyncio.Event()

    async def sweep_once(self) -> int:
        total = 0
        while True:
            async with self._engine.begin() as conn:
                found = await repository.requeue_stuck(conn, self._clock.now(), self._stale, BATCH)
            total += found
            if found < BATCH:
                break
        if total:
            log.warning("requeued_stuck_messages", count=total)
        return total

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep_once()
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("sweep_failed", error=str(exc).splitlines()[0][:200])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)

    def stop(self) -> None:
        self._stopping.set()
