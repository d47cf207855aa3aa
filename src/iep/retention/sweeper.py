"""The retention sweep (seed 003 §9 step 7, ADR 0005), run by the relay role.

- Attachment files are deleted from storage ATTACHMENT_RETENTION_DAYS after their message was accepted (default
  30); the `attachments` row stays, with `purged_at` set.
- Stored files that no row names (an accept that failed after storing them, ADR 0005) are deleted once they are
  as old as that by the storage's own timestamp.
- With MESSAGE_RETENTION_DAYS set, finished messages accepted longer ago lose their bodies (raw and rendered) and
  variables, and their events are deleted. Failed and bounced messages are kept whole: they can still be retried.

Several relay replicas may run it: each batch takes a transaction-scoped advisory lock (a second sweeper skips
the round) and locks its rows, so every object is deleted once. A file whose delete fails stays unmarked and is
tried again on the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from iep.attachments.storage import AttachmentStore, StorageError
from iep.kit.clock import Clock
from iep.messages.status import Status
from iep.retention import repository

log = structlog.get_logger("iep.retention")
BATCH = 100
# Finished and not retryable (FAILED and BOUNCED may go back to QUEUED: they keep their bodies).
PURGEABLE = (Status.SENT, Status.DELIVERED, Status.COMPLAINED, Status.SUPPRESSED, Status.CANCELED)


@dataclass(frozen=True)
class Swept:
    attachments: int = 0
    messages: int = 0
    events: int = 0
    orphans: int = 0


class RetentionSweeper:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        store: AttachmentStore | None,
        *,
        attachment_days: int,
        message_days: int,
        interval_seconds: float,
        batch: int = BATCH,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._store = store
        self._attachment_days = attachment_days
        self._message_days = message_days
        self._interval = interval_seconds
        self._batch = batch
        self._stopping = asyncio.Event()

    async def sweep_once(self) -> Swept:
        attachments = await self._attachments()
        orphans = await self._orphans()
        messages, events = await self._messages()
        if attachments or messages or orphans:
            log.info("retention_swept", attachments=attachments, orphans=orphans, messages=messages, events=events)
        return Swept(attachments, messages, events, orphans)

    async def _attachments(self) -> int:
        if not self._attachment_days or self._store is None:
            return 0
        cutoff = self._clock.now() - timedelta(days=self._attachment_days)
        total = 0
        while True:
            async with self._engine.begin() as conn:
                if not await repository.try_lock(conn):
                    return total  # another replica is sweeping
                rows = await repository.expired_attachments(conn, cutoff, self._batch)
                deleted = []
                for row in rows:
                    try:
                        await self._store.delete(row["storage_key"])
                    except StorageError as exc:
                        log.warning("retention_delete_failed", key=row["storage_key"], error=str(exc)[:200])
                        continue
                    deleted.append(row["id"])
                await repository.mark_purged(conn, deleted, self._clock.now())
            total += len(deleted)
            if len(rows) < self._batch or len(deleted) < len(rows):
                return total

    async def _orphans(self) -> int:
        if not self._attachment_days or self._store is None:
            return 0
        cutoff = self._clock.now() - timedelta(days=self._attachment_days)
        total = 0
        # One transaction for the whole listing: the lock keeps a second sweeper off it.
        async with self._engine.begin() as conn:
            if not await repository.try_lock(conn):
                return 0
            async for page in self._store.pages():
                old = [o.key for o in page if o.modified < cutoff]
                if not old:
                    continue
                named = await repository.named_keys(conn, old)
                for key in old:
                    if key in named:
                        continue
                    try:
                        await self._store.delete(key)
                    except StorageError as exc:
                        log.warning("retention_delete_failed", key=key, error=str(exc)[:200])
                        continue
                    total += 1
        return total

    async def _messages(self) -> tuple[int, int]:
        if not self._message_days:
            return 0, 0
        cutoff = self._clock.now() - timedelta(days=self._message_days)
        messages = events = 0
        while True:
            async with self._engine.begin() as conn:
                if not await repository.try_lock(conn):
                    return messages, events
                found, gone = await repository.purge_messages(conn, cutoff, [s.value for s in PURGEABLE], self._batch)
            messages += found
            events += gone
            if found < self._batch:
                return messages, events

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep_once()
            except (OperationalError, DBAPIError, OSError) as exc:
                log.warning("retention_sweep_failed", error=str(exc).splitlines()[0][:200])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)

    def stop(self) -> None:
        self._stopping.set()
