"""The queue port (D5): what the relay publishes to and the worker consumes from, whatever the backend.

Every backend is at-least-once: a job may arrive twice (a relay that died after publishing, a consumer that
died before acking), so the consumer is idempotent on the message id (D6). The database, not the broker, is
the record of what is owed; `outbox.sweeper` re-publishes what a broker lost.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

SEND_QUEUE = "mail.send"
# Tenant webhooks have a queue of their own on every backend; a job's `message_id` is then a webhook event id.
WEBHOOK_QUEUE = "mail.webhook"
DEAD_LETTER_QUEUE = "mail.dlq"
PRIORITY_NAMES = ("high", "normal", "low")  # index = rank: 0 high, 1 normal, 2 low


@dataclass(frozen=True, slots=True)
class Job:
    message_id: uuid.UUID
    tenant_id: uuid.UUID
    priority: int = 1  # 0 high, 1 normal, 2 low
    available_at: datetime | None = None
    deliveries: int = 0
    # The backend's handle for ack/retry (row id, AMQP delivery, BullMQ job + token).
    receipt: Any = field(default=None, compare=False)
    # A document that travels with the job (directory events, which a separate service reads); the send and
    # webhook queues carry none: their consumers read the database.
    payload: dict[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Depth:
    """How many jobs a backend holds, by state (for `iep_queue_depth` and the DLQ view)."""

    ready: int
    delayed: int
    dead: int
    # Consumers attached now, where the backend can tell (RabbitMQ); None elsewhere.
    consumers: int | None = None


class Queue(Protocol):
    name: str

    async def publish(self, jobs: Sequence[Job], *, connection: Any = None) -> None:
        """Make jobs deliverable; return only once the backend holds them durably (a broker confirm).

        `connection` lets the database backend join the caller's transaction; brokers ignore it.
        """

    def consume(self, room: Callable[[], int] | None = None) -> AsyncIterator[Job]:
        """Yield jobs as they become due, until `stop()`; each must be acked, retried, released or dead-lettered.

        `room()`: how many jobs the consumer could start now. The database backend claims no more than that, so a
        job claimed is a job started, and another tenant's job that comes due meanwhile is not held up behind a
        claimed backlog; brokers bound what they hand over by their prefetch instead.
        """

    async def ack(self, job: Job) -> None: ...

    async def retry(self, job: Job, available_at: datetime) -> None:
        """Hand the job back, due again at `available_at`."""

    async def release(self, job: Job) -> None:
        """Hand an unfinished job back at once (graceful shutdown)."""

    async def dead_letter(self, job: Job, reason: str) -> None: ...

    async def depth(self) -> Depth: ...

    def wake(self) -> None:
        """Look for due jobs now (tests that move a fake clock)."""

    async def stop(self) -> None:
        """Stop taking new jobs; jobs already yielded can still be settled."""

    async def close(self) -> None:
        """Release connections, after the last settle."""
