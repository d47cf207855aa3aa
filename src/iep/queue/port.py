"""The queue port (D5): what the relay publishes to and the worker consumes from, whatever the backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

SEND_QUEUE = "mail.send"
DEAD_LETTER_QUEUE = "mail.dlq"


@dataclass(frozen=True, slots=True)
class Job:
    message_id: uuid.UUID
    tenant_id: uuid.UUID
    priority: int = 1  # 0 high, 1 normal, 2 low
    available_at: datetime | None = None
    deliveries: int = 0
    # The backend's handle for ack/retry (row id, delivery tag, job id).
    receipt: Any = field(default=None, compare=False)


class Queue(Protocol):
    name: str

    async def publish(self, jobs: Sequence[Job], *, connection: Any = None) -> None:
        """Make jobs deliverable. `connection` lets a database backend join the caller's transaction."""

    def consume(self) -> AsyncIterator[Job]:
        """Yield jobs as they become due, until `stop()`; each must be acked, retried, released or dead-lettered."""

    async def ack(self, job: Job) -> None: ...

    async def retry(self, job: Job, available_at: datetime) -> None: ...

    async def release(self, job: Job) -> None:
        """Hand an unfinished job back at once (graceful shutdown)."""

    async def dead_letter(self, job: Job, reason: str) -> None: ...

    def wake(self) -> None:
        """Look for due jobs now (tests that move a fake clock)."""

    async def stop(self) -> None: ...
