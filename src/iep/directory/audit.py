"""The audit log, written off the request path (seed 004 MS-1: "async channel-based processing") and never lost.

A request commits its change with an event row, which is also the audit intent (`audited_at IS NULL`). After
the commit it drops the event id into this process's channel; the writer takes ids from the channel in batches
and turns them into audit rows. Whatever the channel never carried (the process died, the channel was full,
another process made the change) the writer's sweep finds in the table. Rows are claimed with SKIP LOCKED and
the audit row is unique by event id, so several writers never write one twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.directory import repository
from iep.kit.clock import Clock

log = structlog.get_logger("iep.directory.audit")
CHANNEL_SIZE = 10_000
BATCH = 200
SWEEP_SECONDS = 2.0


class AuditWriter:
    def __init__(self, engine: AsyncEngine, clock: Clock, *, sweep_seconds: float = SWEEP_SECONDS) -> None:
        self._engine = engine
        self._clock = clock
        self._sweep = sweep_seconds
        self._channel: asyncio.Queue[uuid.UUID] = asyncio.Queue(CHANNEL_SIZE)
        self._stopping = asyncio.Event()
        self.written = 0

    def submit(self, event_id: uuid.UUID) -> None:
        """After the change committed: ask for its audit row now. A full channel drops it for the sweep."""
        with contextlib.suppress(asyncio.QueueFull):
            self._channel.put_nowait(event_id)

    async def write_once(self, ids: list[uuid.UUID] | None = None) -> int:
        """Audit the given events (None: any owed); return how many rows were written."""
        async with self._engine.begin() as conn:
            rows = await repository.claim_unaudited(conn, BATCH, ids)
            await repository.write_audit(conn, [_audit_row(r) for r in rows], self._clock.now())
        self.written += len(rows)
        return len(rows)

    async def run(self) -> None:
        log.info("directory_audit_started")
        while not self._stopping.is_set():
            ids = await self._take()
            try:
                if ids:
                    await self.write_once(ids)
                else:
                    while await self.write_once() == BATCH:
                        pass
            except Exception as exc:  # the database is away: the intents stay in the table for the sweep
                log.warning("directory_audit_failed", error=str(exc).splitlines()[0][:200] if str(exc) else repr(exc))
                await asyncio.sleep(1.0)

    async def _take(self) -> list[uuid.UUID]:
        """Event ids from the channel, up to a batch; none after `sweep_seconds` of quiet (time to sweep)."""
        try:
            first = await asyncio.wait_for(self._channel.get(), timeout=self._sweep)
        except TimeoutError:
            return []
        ids = [first]
        while len(ids) < BATCH and not self._channel.empty():
            ids.append(self._channel.get_nowait())
        return ids

    def stop(self) -> None:
        self._stopping.set()


def _audit_row(event: dict[str, Any]) -> dict[str, Any]:
    data = event["payload"].get("data", {})
    return {
        "event_id": event["id"],
        "tenant_id": event["tenant_id"],
        "user_id": event["user_id"],
        "action": event["event_type"],
        "correlation_id": event["correlation_id"],
        "detail": {"sequence": event["payload"].get("sequence"), **data},
        "changed_at": event["created_at"],
    }
