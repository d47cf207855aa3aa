"""The sweeper (ADR 0003): work overdue past its bound whose job is nowhere is written to the outbox again; a job
that waits in the postgres queue is only slow, however old, and is left alone (ADR 0009)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import delete, func, select

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.messages.models import events
from iep.outbox.models import outbox
from iep.outbox.sweeper import Sweeper
from iep.queue.models import queue_jobs
from tests.conftest import TenantKey

PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


def _sweeper(container: Container, clock: FakeClock) -> Sweeper:
    return Sweeper(container.engine, clock, stale_seconds=30, interval_seconds=10)


async def _requeued(container: Container) -> tuple[list[uuid.UUID], int]:
    async with container.engine.connect() as conn:
        rows = list((await conn.execute(select(outbox.c.message_id))).scalars())
        noted = (await conn.execute(select(func.count()).where(events.c.type == "requeued"))).scalar_one()
    return rows, noted


async def test_an_old_job_waiting_in_the_postgres_queue_is_not_published_again(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    accepted = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    assert accepted.status_code == 202
    clock.advance(3600)  # a backlog an hour deep
    assert await _sweeper(container, clock).sweep_once() == 0
    assert await _requeued(container) == ([], 0)


async def test_a_message_whose_job_is_gone_is_published_again_once_per_bound(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    accepted = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    message_id = uuid.UUID(accepted.json()["messageId"])
    async with container.engine.begin() as conn:
        await conn.execute(delete(queue_jobs))  # lost, as a broker restarted empty loses its jobs
    sweeper = _sweeper(container, clock)
    clock.advance(29)
    assert await sweeper.sweep_once() == 0, "not overdue yet"
    clock.advance(2)
    assert await sweeper.sweep_once() == 1
    assert await _requeued(container) == ([message_id], 1)
    clock.advance(60)
    assert await sweeper.sweep_once() == 0, "its outbox row waits for the relay: nothing more"
