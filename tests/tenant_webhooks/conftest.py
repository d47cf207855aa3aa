"""Fixtures for tenant webhooks: a container that may post to loopback over http (as an operator allowlist
would), an encryption key, a verifying receiver, and the webhooks role running in this process."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from iep.bootstrap import Container
from iep.kit.crypto import KeyRing
from iep.messages.models import messages
from iep.queue.port import WEBHOOK_QUEUE, Queue
from iep.tenant_webhooks import service
from iep.tenant_webhooks.models import webhook_events
from iep.tenant_webhooks.worker import Dispatcher, WebhookWorker
from tests.conftest import TenantKey
from tests.tenant_webhooks.receiver import Receiver

ENCRYPTION_KEY = f"k1:{KeyRing.generate_key()}"
ALL_EVENTS = ["message.sent", "message.failed", "message.retrying"]


@pytest.fixture
def hooks(container: Container) -> Container:
    """The test container, configured as an operator allowing internal receivers on 127.0.0.0/8 over http."""
    container.settings = container.settings.model_copy(
        update={
            "webhook_allowed_cidrs": "127.0.0.0/8",
            "webhook_allow_http": True,
            "iep_encryption_key": ENCRYPTION_KEY,
            "webhook_timeout_seconds": 3.0,
            "webhook_connect_timeout_seconds": 1.0,
        }
    )
    return container


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


async def register(api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver, events: list[str]) -> str:
    resp = await api.post("/v1/webhooks", json={"url": receiver.url, "events": events}, headers=tenant.headers)
    assert resp.status_code == 201, resp.text
    receiver.secret = resp.json()["secret"]
    endpoint_id: str = resp.json()["id"]
    return endpoint_id


async def accept(api: httpx.AsyncClient, tenant: TenantKey, n: int) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        resp = await api.post(
            "/v1/messages",
            json={"to": [f"u{i}@example.com"], "from": "app@product.example", "subject": f"S{i}", "textBody": "x"},
            headers=tenant.headers,
        )
        assert resp.status_code == 202, resp.text
        ids.append(uuid.UUID(resp.json()["messageId"]))
    return ids


async def emit(container: Container, message_id: uuid.UUID, event: str, data: dict[str, Any] | None = None) -> int:
    async with container.engine.begin() as conn:
        tenant_id = (await conn.execute(select(messages.c.tenant_id).where(messages.c.id == message_id))).scalar_one()
        return await service.emit(
            conn,
            tenant_id=tenant_id,
            message_id=message_id,
            event_type=event,
            data=data or {},
            now=container.clock.now(),
        )


async def events(container: Container) -> list[dict[str, Any]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(select(webhook_events).order_by(webhook_events.c.seq))
        return [dict(r._mapping) for r in rows]


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def webhooks_role(
    container: Container, make_queue: Callable[[], Queue] | None = None, *, concurrency: int = 8
) -> AsyncIterator[Dispatcher]:
    """The `webhooks` role's two parts in this process, on the container's queue backend (or the given one)."""
    make = make_queue or (lambda: container.queue(WEBHOOK_QUEUE))
    dispatcher = Dispatcher(container.engine, make(), container.clock, batch_size=100, stale_seconds=600)
    worker = WebhookWorker(make(), container.webhook_deps(), concurrency=concurrency, grace_seconds=5)
    tasks = [asyncio.create_task(dispatcher.run()), asyncio.create_task(worker.run())]
    try:
        yield dispatcher
    finally:
        dispatcher.stop()
        worker.stop()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
