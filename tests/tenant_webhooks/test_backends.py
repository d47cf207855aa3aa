"""The webhooks role delivers from its own queue on every backend (D5): `mail.webhook` rows on PostgreSQL, the
`mail.webhook` quorum queue on RabbitMQ, a BullMQ queue of that name on Redis — the real services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from iep.bootstrap import Container
from iep.queue.port import WEBHOOK_QUEUE, Queue
from iep.queue.postgres import PostgresQueue
from iep.queue.rabbitmq import RabbitQueue
from iep.queue.redis_bullmq import RedisQueue
from tests.conftest import TenantKey
from tests.support import brokers
from tests.tenant_webhooks.conftest import ALL_EVENTS, accept, emit, events, register, until, webhooks_role
from tests.tenant_webhooks.receiver import Receiver


@pytest.fixture(params=["postgres", "rabbitmq", "redis"])
async def webhook_queue(
    request: pytest.FixtureRequest, hooks: Container, rabbitmq_url: str, redis_url: str
) -> AsyncIterator[Callable[[], Queue]]:
    prefix = brokers.redis_prefix()
    if request.param == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)

    def make() -> Queue:
        if request.param == "postgres":
            return PostgresQueue(
                hooks.engine, hooks.database_url, hooks.clock, worker_id="w", lease_seconds=5, queue=WEBHOOK_QUEUE
            )
        if request.param == "rabbitmq":
            return RabbitQueue(rabbitmq_url, hooks.clock, prefetch=8, queue=WEBHOOK_QUEUE)
        return RedisQueue(redis_url, hooks.clock, concurrency=8, prefix=prefix, queue=WEBHOOK_QUEUE)

    yield make
    if request.param == "redis":
        await brokers.delete_redis_prefix(prefix)
    if request.param == "rabbitmq":
        await brokers.purge_rabbitmq(rabbitmq_url)


async def test_every_event_is_delivered_and_verified_on_each_backend(
    hooks: Container,
    api: httpx.AsyncClient,
    tenant: TenantKey,
    receiver: Receiver,
    webhook_queue: Callable[[], Queue],
) -> None:
    await register(api, tenant, receiver, ALL_EVENTS)
    message_ids = await accept(api, tenant, 10)
    for mid in message_ids:
        await emit(hooks, mid, "message.retrying")
        await emit(hooks, mid, "message.sent")

    async def all_delivered() -> bool:
        return len(receiver.received) >= 20 and {e["status"] for e in await events(hooks)} == {"delivered"}

    async with webhooks_role(hooks, webhook_queue):
        await until(all_delivered, seconds=30, what="20 deliveries")
    assert len(receiver.received) == 20
    assert all(r.standard_ok for r in receiver.received)
    assert all(r.iep_ok for r in receiver.received)
    order: dict[str, list[str]] = {mid: [] for mid in map(str, message_ids)}
    for body in receiver.bodies():
        order[body["messageId"]].append(body["event"])
    assert all(seen == ["message.retrying", "message.sent"] for seen in order.values()), order
