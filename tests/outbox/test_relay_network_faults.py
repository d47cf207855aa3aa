"""The relay against a broker behind a fault proxy: whatever the network does, a row leaves the outbox only once
the broker has confirmed it, and everything is published once the network heals (at least once)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from iep.bootstrap import Container
from iep.kit.clock import SystemClock
from iep.messages.models import messages
from iep.outbox.models import outbox
from iep.outbox.relay import Relay
from iep.queue.rabbitmq import RabbitQueue
from tests.conftest import TenantKey
from tests.support import brokers
from tests.support.fault_proxy import FaultProxy

PAYLOAD = {"to": ["a@example.com"], "from": "app@product.example", "subject": "Hi", "textBody": "x"}


@pytest.fixture
async def proxy(rabbitmq_url: str) -> AsyncIterator[FaultProxy]:
    await brokers.purge_rabbitmq(rabbitmq_url)
    running = await FaultProxy(upstream_port=5672).start()
    yield running
    await running.stop()
    await brokers.purge_rabbitmq(rabbitmq_url)


async def _accept(api: httpx.AsyncClient, tenant: TenantKey, n: int) -> None:
    for _ in range(n):
        assert (await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)).status_code == 202


async def _outbox_rows(container: Container) -> int:
    async with container.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(outbox))).scalar_one())


async def test_rows_leave_the_outbox_only_after_a_confirm(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, proxy: FaultProxy, rabbitmq_url: str
) -> None:
    container.accepts_into_queue = False  # accepts write outbox rows, as with QUEUE_BACKEND=rabbitmq (ADR 0009)
    vhost = rabbitmq_url.rsplit("/", 1)[1]
    proxied_url = f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}"
    through_proxy = RabbitQueue(proxied_url, SystemClock(), prefetch=8, timeout=1.0)
    direct = RabbitQueue(rabbitmq_url, SystemClock(), prefetch=8)
    relay = Relay(container.engine, container.database_url, through_proxy, batch_size=100)
    try:
        await _accept(api, tenant, 5)
        proxy.set("pass", latency=0.02)
        assert await relay.relay_once() == 5

        await _accept(api, tenant, 5)
        for mode in ("blackhole", "reset", "slow_close"):
            proxy.set(mode, latency=0.3)  # type: ignore[arg-type]
            started = time.monotonic()
            with pytest.raises(Exception):  # noqa: B017, PT011  (each broker client error type differs by mode)
                await relay.relay_once()
            assert time.monotonic() - started < 15, f"{mode}: the publish gives up within its timeouts"
            assert await _outbox_rows(container) == 5, f"{mode}: unconfirmed rows stay in the outbox"

        proxy.set("pass")
        assert await relay.relay_once() == 5
        assert await _outbox_rows(container) == 0
        published = (await direct.depth()).ready
        jobs = direct.consume().__aiter__()
        seen = []
        for _ in range(published):
            job = await asyncio.wait_for(jobs.__anext__(), 5)
            seen.append(job.message_id)
            await direct.ack(job)
        async with container.engine.connect() as conn:
            accepted = set((await conn.execute(select(messages.c.id))).scalars())
        # At least once: a publish whose confirm the network ate is published again (the consumer is idempotent).
        assert set(seen) == accepted
        assert len(accepted) == 10
        await direct.stop()
    finally:
        await through_proxy.close()
        await direct.close()
