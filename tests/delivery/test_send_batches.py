"""Claims and sent records shared by the sends in flight: fewer statements, the same guarantees per message."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from iep.bootstrap import Container
from iep.delivery import repository
from iep.delivery.batches import SendBatches
from iep.delivery.repository import Sent
from iep.kit.clock import FakeClock
from iep.messages.models import events, messages
from tests.conftest import TenantKey
from tests.support.pipeline import relay_all


async def _accept(api: httpx.AsyncClient, tenant: TenantKey, n: int) -> list[uuid.UUID]:
    ids = []
    for i in range(n):
        payload = {"to": [f"u{i}@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}
        response = await api.post("/v1/messages", json=payload, headers=tenant.headers)
        ids.append(uuid.UUID(response.json()["messageId"]))
    return ids


async def test_concurrent_claims_share_statements_and_each_message_goes_to_one_caller(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await _accept(api, tenant, 12)
    await relay_all(container)
    batches = SendBatches(container.driver, container.clock, owner="w", lease=timedelta(seconds=60))
    calls: list[int] = []
    original = repository.claim_many

    async def counting(conn, message_ids, owner, now, lease):  # type: ignore[no-untyped-def]
        calls.append(len(message_ids))
        return await original(conn, message_ids, owner, now, lease)

    monkeypatch.setattr(repository, "claim_many", counting)
    # Every message asked for twice at once (a job delivered twice): each is claimed by exactly one caller.
    rows = await asyncio.gather(*(batches.claim(i) for i in ids + ids))
    claimed = [r["id"] for r in rows if r is not None]
    assert sorted(claimed) == sorted(ids)
    assert len(calls) < len(ids), f"{len(calls)} statements for {len(ids)} messages"
    async with container.engine.connect() as conn:
        processing = await conn.execute(select(events.c.message_id).where(events.c.type == "processing"))
        assert sorted(processing.scalars()) == sorted(ids), "one processing event per message"


async def test_a_batch_of_records_checks_each_fence(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, clock: FakeClock
) -> None:
    ids = await _accept(api, tenant, 4)
    await relay_all(container)
    lease = timedelta(seconds=60)
    batches = SendBatches(container.driver, clock, owner="w", lease=lease)
    rows = await asyncio.gather(*(batches.claim(i) for i in ids))
    stale = ids[0]
    async with container.engine.connect() as pooled:  # another worker takes the first message over
        conn = await pooled.execution_options(isolation_level="AUTOCOMMIT")
        clock.advance(61)
        assert await repository.claim(conn, stale, "other", clock.now(), lease) is not None

    def sent(row: dict[str, object]) -> Sent:
        mid = row["id"]
        assert isinstance(mid, uuid.UUID)
        return Sent(mid, clock.now(), "smtp", f"p-{mid}", "250", ("S", None, "T"), fence=int(str(row["attempts"])))

    recorded = await asyncio.gather(*(batches.record_sent(sent(r)) for r in rows if r is not None))
    assert recorded == [False, True, True, True]
    async with container.engine.connect() as conn:
        statuses = dict((await conn.execute(select(messages.c.id, messages.c.status))).all())
        sent_events = dict(
            (await conn.execute(select(events.c.message_id, events.c.payload).where(events.c.type == "sent"))).all()
        )
    assert statuses[stale] == "processing"
    assert {statuses[i] for i in ids[1:]} == {"sent"}
    # Each message's own values, though one statement wrote them all; none for the message taken over.
    assert {mid: p["providerMessageId"] for mid, p in sent_events.items()} == {i: f"p-{i}" for i in ids[1:]}
