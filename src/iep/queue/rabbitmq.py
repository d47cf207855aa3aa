"""The `rabbitmq` queue backend (seed 003 §10, SPEC D5): quorum queues, publisher confirms, manual acks.

Topology (declared idempotently on connect; see docs/adr/0002-rabbitmq-topology.md):
- `mail.exchange` (direct) routes `mail.send.high|normal|low` and `mail.dlq` to the queues of those names.
  RabbitMQ 3.x quorum queues have no message priorities, so each priority is its own queue and the consumer
  always hands out the highest one it holds.
- `mail.retry.<delay>`: one fanout exchange + quorum queue per delay tier, with a fixed `x-message-ttl` that
  dead-letters back into `mail.exchange` under the message's own routing key (its send queue). A fixed TTL per
  queue keeps expiry in FIFO order; a delay longer than a tier hops through several, and a job that arrives
  before its time is sent round again.
- Send queues carry `x-delivery-limit`: a job that kills its consumer again and again ends in `mail.dlq`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import aio_pika
import aiormq
import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
)

from iep.kit.clock import Clock
from iep.queue import codec, port
from iep.queue.port import DEAD_LETTER_QUEUE, PRIORITY_NAMES, SEND_QUEUE, Depth, Job

log = structlog.get_logger("iep.queue.rabbitmq")

EXCHANGE = "mail.exchange"
WEBHOOK_QUEUE = port.WEBHOOK_QUEUE
RETRY_TIERS_MS = (250, 1_000, 5_000, 15_000, 60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000)
PUBLISH_TIMEOUT_SECONDS = 10.0
DECLARE_TIMEOUT_SECONDS = 30.0
# Errors that mean the broker or our channel went away: the broker redelivers what we could not settle.
BROKER_ERRORS = (
    aio_pika.exceptions.AMQPError,
    aiormq.exceptions.AMQPError,
    ConnectionError,
    RuntimeError,
    TimeoutError,
)


def send_queue(rank: int) -> str:
    return f"{SEND_QUEUE}.{PRIORITY_NAMES[rank]}"


def tier_name(ms: int) -> str:
    return f"mail.retry.{ms // 1000}s" if ms >= 1000 else f"mail.retry.{ms}ms"


def tier_for(delay_ms: float) -> int:
    """The longest tier that does not overshoot the delay (the shortest one for sub-tier delays)."""
    fitting = [t for t in RETRY_TIERS_MS if t <= delay_ms]
    return fitting[-1] if fitting else RETRY_TIERS_MS[0]


def _alive(connection: AbstractConnection | None) -> bool:
    # `is_closed` only tells of a close we asked for; a broker that went away clears `connected`.
    return connection is not None and not connection.is_closed and bool(connection.connected.is_set())


def _correlation_id(job: Job) -> str | None:
    """A directory event's correlation id, as the AMQP property tools show; other jobs carry none."""
    found = (job.payload or {}).get("correlationId")
    return str(found)[:255] if found is not None else None


def _quorum(**extra: Any) -> dict[str, Any]:
    return {"x-queue-type": "quorum", **extra}


class RabbitQueue:
    name = "rabbitmq"

    def __init__(
        self,
        url: str,
        clock: Clock,
        *,
        prefetch: int,
        delivery_limit: int = 20,
        timeout: float = PUBLISH_TIMEOUT_SECONDS,
        queue: str = SEND_QUEUE,
    ) -> None:
        # Any queue but the send queue (`mail.webhook`, `directory.events`): publish to and consume from that queue
        # alone (no priorities).
        self._webhooks = queue == WEBHOOK_QUEUE
        self._single = None if queue == SEND_QUEUE else queue
        self._url = url
        self._timeout = timeout
        self._clock = clock
        self._prefetch = prefetch
        self._delivery_limit = delivery_limit
        self._connection: AbstractConnection | None = None  # publishing
        self._consuming: AbstractConnection | None = None
        self._exchange: AbstractExchange | None = None
        self._tiers: dict[int, AbstractExchange] = {}
        self._connect_lock = asyncio.Lock()
        self._buffer: list[tuple[int, int, AbstractIncomingMessage]] = []
        self._seq = itertools.count()
        self._arrived = asyncio.Event()
        self._stopping = asyncio.Event()
        self._consumers: list[tuple[AbstractQueue, str]] = []

    async def _ensure(self) -> AbstractExchange:
        # Plain connections, re-made on demand: after a broker restart a fresh connection and fresh declarations
        # are the one state we can be sure of (an automatically restored channel may come back without its consumer).
        async with self._connect_lock:
            if self._exchange is None or not _alive(self._connection):
                await self._drop(self._connection)
                self._connection = await aio_pika.connect(self._url, timeout=self._timeout)
                channel = await self._connection.channel(publisher_confirms=True)
                # A broker still recovering its queues can take declarations and never answer: bound the wait.
                self._exchange = await asyncio.wait_for(self._declare(channel), timeout=DECLARE_TIMEOUT_SECONDS)
            return self._exchange

    async def _drop(self, connection: AbstractConnection | None) -> None:
        if connection is not None and not connection.is_closed:
            with contextlib.suppress(*BROKER_ERRORS, asyncio.CancelledError):
                await asyncio.wait_for(connection.close(), timeout=self._timeout)

    async def _declare(self, channel: AbstractChannel) -> AbstractExchange:
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True)
        dead = await channel.declare_queue(DEAD_LETTER_QUEUE, durable=True, arguments=_quorum())
        await dead.bind(exchange, routing_key=DEAD_LETTER_QUEUE)
        webhooks = await channel.declare_queue(WEBHOOK_QUEUE, durable=True, arguments=_quorum())
        await webhooks.bind(exchange, routing_key=WEBHOOK_QUEUE)
        if self._single is not None and not self._webhooks:
            single = await channel.declare_queue(self._single, durable=True, arguments=_quorum())
            await single.bind(exchange, routing_key=self._single)
        for rank in range(len(PRIORITY_NAMES)):
            queue = await channel.declare_queue(
                send_queue(rank),
                durable=True,
                arguments=_quorum(
                    **{
                        "x-delivery-limit": self._delivery_limit,
                        "x-dead-letter-exchange": EXCHANGE,
                        "x-dead-letter-routing-key": DEAD_LETTER_QUEUE,
                        "x-dead-letter-strategy": "at-least-once",
                        "x-overflow": "reject-publish",
                    }
                ),
            )
            await queue.bind(exchange, routing_key=send_queue(rank))
        for ms in RETRY_TIERS_MS:
            tier = await channel.declare_exchange(tier_name(ms), aio_pika.ExchangeType.FANOUT, durable=True)
            queue = await channel.declare_queue(
                tier_name(ms),
                durable=True,
                arguments=_quorum(
                    **{
                        "x-message-ttl": ms,
                        "x-dead-letter-exchange": EXCHANGE,
                        "x-dead-letter-strategy": "at-least-once",
                        "x-overflow": "reject-publish",
                    }
                ),
            )
            await queue.bind(tier)
            self._tiers[ms] = tier
        return exchange

    def _message(self, job: Job, **headers: Any) -> aio_pika.Message:
        return aio_pika.Message(
            codec.dumps(job),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(job.message_id),
            correlation_id=_correlation_id(job),
            headers=headers or None,
        )

    async def _publish_one(self, job: Job) -> None:
        exchange = await self._ensure()
        delay_ms = 0.0
        if job.available_at is not None:
            delay_ms = (job.available_at - self._clock.now()).total_seconds() * 1000
        if delay_ms > 0:
            exchange = self._tiers[tier_for(delay_ms)]
        try:
            # The routing key names the send queue even through a tier: dead-lettering keeps it.
            await exchange.publish(
                self._message(job),
                routing_key=self._route(job),
                mandatory=True,
                timeout=self._timeout,
            )
        except BROKER_ERRORS:
            self._exchange = None  # reconnect on the next publish
            raise

    def _route(self, job: Job) -> str:
        return self._single if self._single is not None else send_queue(job.priority)

    def _consumed(self) -> list[str]:
        return [self._single] if self._single is not None else [send_queue(r) for r in range(len(PRIORITY_NAMES))]

    async def publish(self, jobs: Sequence[Job], *, connection: Any = None) -> None:
        # Each publish returns on the broker's confirm; a failure raises, so the caller keeps its outbox rows.
        await asyncio.gather(*(self._publish_one(j) for j in jobs))

    async def consume(self, room: Callable[[], int] | None = None) -> AsyncIterator[Job]:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._subscribe(), timeout=DECLARE_TIMEOUT_SECONDS)
                log.info("queue_consuming", queues=self._consumed())
            except BROKER_ERRORS as exc:
                log.warning("queue_consume_failed", error=str(exc)[:200] or type(exc).__name__)
                await self._pause(1.0)
                continue
            while not self._stopping.is_set() and _alive(self._consuming):
                if not self._buffer:
                    self._arrived.clear()
                    with contextlib.suppress(TimeoutError):  # the close callback wakes us; the timeout is a backstop
                        await asyncio.wait_for(self._arrived.wait(), timeout=1.0)
                    continue
                _, _, incoming = heapq.heappop(self._buffer)
                job = self._job(incoming)
                if job.available_at is not None and job.available_at - self._clock.now() > timedelta(milliseconds=50):
                    await self.retry(job, job.available_at)  # still early after a tier hop: round again
                    continue
                yield job
            # The connection is gone: what it delivered and we never acked, the broker hands out again.
            self._buffer.clear()
            self._consumers.clear()

    async def _subscribe(self) -> None:
        await self._ensure()
        await self._drop(self._consuming)
        self._consuming = await aio_pika.connect(self._url, timeout=self._timeout)
        self._consuming.close_callbacks.add(lambda *_: self._arrived.set())
        channel = await self._consuming.channel()
        await channel.set_qos(prefetch_count=self._prefetch)
        for rank, name in enumerate(self._consumed()):
            queue = await channel.get_queue(name, ensure=False)
            tag = await queue.consume(self._receiver(rank))
            self._consumers.append((queue, tag))

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _receiver(self, rank: int) -> Any:
        async def receive(incoming: AbstractIncomingMessage) -> None:
            if self._stopping.is_set():
                await self._settle(incoming.nack(requeue=True))
                return
            heapq.heappush(self._buffer, (rank, next(self._seq), incoming))
            self._arrived.set()

        return receive

    def _job(self, incoming: AbstractIncomingMessage) -> Job:
        redelivered = incoming.headers.get("x-delivery-count") if incoming.headers else None
        deliveries = int(redelivered) + 1 if isinstance(redelivered, int) else 1
        return codec.loads(incoming.body, deliveries=deliveries, receipt=incoming)

    async def _settle(self, action: Any) -> bool:
        try:
            # A robust channel waits for the broker to come back; a settle must not wait with it.
            await asyncio.wait_for(action, timeout=self._timeout)
        except BROKER_ERRORS as exc:
            # The channel this delivery came on is gone: the broker hands the job out again.
            log.warning("queue_settle_failed", error=str(exc)[:200] or type(exc).__name__)
            return False
        return True

    async def ack(self, job: Job) -> None:
        await self._settle(job.receipt.ack())

    async def retry(self, job: Job, available_at: datetime) -> None:
        again = Job(job.message_id, job.tenant_id, job.priority, available_at, payload=job.payload)
        try:
            await self._publish_one(again)
        except BROKER_ERRORS as exc:
            log.warning("queue_retry_publish_failed", message_id=str(job.message_id), error=str(exc)[:200])
            await asyncio.sleep(1.0)
            await self._settle(job.receipt.nack(requeue=True))
            return
        await self.ack(job)

    async def release(self, job: Job) -> None:
        await self._settle(job.receipt.nack(requeue=True))

    async def dead_letter(self, job: Job, reason: str) -> None:
        exchange = await self._ensure()
        try:
            await exchange.publish(
                self._message(job, **{"x-iep-reason": reason}),
                routing_key=DEAD_LETTER_QUEUE,
                mandatory=True,
                timeout=self._timeout,
            )
        except BROKER_ERRORS as exc:
            self._exchange = None
            log.warning("queue_dead_letter_failed", message_id=str(job.message_id), error=str(exc)[:200])
            await self._settle(job.receipt.nack(requeue=True))
            return
        await self.ack(job)

    async def depth(self) -> Depth:
        await self._ensure()
        assert self._connection is not None
        async with self._connection.channel() as channel:

            async def count(name: str, consumers: bool = False) -> int:
                queue = await channel.declare_queue(name, passive=True)
                result = queue.declaration_result
                return int((result.consumer_count if consumers else result.message_count) or 0)

            ready = sum([await count(name) for name in self._consumed()])
            # Each consumer subscribes to every priority queue of its topic: the busiest one counts them.
            attached = max([await count(name, consumers=True) for name in self._consumed()])
            delayed = sum([await count(tier_name(ms)) for ms in RETRY_TIERS_MS])
            dead = await count(DEAD_LETTER_QUEUE)
        return Depth(ready=ready, delayed=delayed, dead=dead, consumers=attached)

    def wake(self) -> None:
        self._arrived.set()

    async def stop(self) -> None:
        self._stopping.set()
        self._arrived.set()
        alive = _alive(self._consuming)
        for queue, tag in self._consumers:
            if alive:
                with contextlib.suppress(*BROKER_ERRORS):
                    await asyncio.wait_for(queue.cancel(tag), timeout=self._timeout)
        self._consumers.clear()
        while self._buffer:
            _, _, incoming = heapq.heappop(self._buffer)
            if alive:
                await self._settle(incoming.nack(requeue=True))

    async def close(self) -> None:
        await self._drop(self._consuming)
        await self._drop(self._connection)
        self._consuming = None
        self._connection = None
        self._exchange = None
