"""ADR 0006: a suspended tenant's queued, scheduled and retrying mail reaches no provider (a real aiosmtpd sink
counts it), is held without using up attempts or spinning the worker, and is all delivered at once when the
tenant is activated, while other tenants' mail flows throughout."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import text

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.tenancy import service as tenancy
from tests.conftest import TenantKey, make_tenant
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

BASE = {"from": "noreply@product.example", "subject": "Hi", "textBody": "Hello"}


async def _send(api: httpx.AsyncClient, tenant: TenantKey, to: str, **fields: Any) -> str:
    resp = await api.post("/v1/messages", json={**BASE, "to": [to], **fields}, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    message_id: str = resp.json()["messageId"]
    return message_id


async def _rows(container: Container, ids: list[str]) -> dict[str, dict[str, Any]]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT id, status, attempts, dead_lettered_at FROM messages WHERE id = ANY(:ids)"),
            {"ids": [uuid.UUID(i) for i in ids]},
        )
        return {str(r.id): dict(r._mapping) for r in rows}


async def _event_types(container: Container, message_id: str) -> list[str]:
    async with container.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT type FROM events WHERE message_id = :id ORDER BY created_at, id"),
            {"id": uuid.UUID(message_id)},
        )
        return [r.type for r in rows]


async def _set_active(container: Container, slug: str, *, active: bool) -> dict[str, Any]:
    async with container.engine.begin() as conn:
        return await tenancy.set_active(conn, slug, active=active, now=container.clock.now())


def _delivered_to(sink: SmtpSink) -> list[str]:
    return sorted(r for received in sink.handler.received for r in received.rcpt_tos)


async def test_suspended_mail_is_held_unsent_then_all_delivered_on_activation(
    api: httpx.AsyncClient, container: Container, sink: SmtpSink, clock: FakeClock
) -> None:
    paused = await make_tenant(container, "paused")
    flowing = await make_tenant(container, "flowing")
    hold = container.delivery_deps().hold

    # A message that is retrying: its first attempt meets a 451.
    sink.handler.data_replies = ["451 4.3.0 try again later"]
    retrying = await _send(api, paused, "retrying@example.com")
    assert await drain(container) == 1
    assert (await _rows(container, [retrying]))[retrying]["status"] == "retry_scheduled"
    queued = await _send(api, paused, "queued@example.com")
    scheduled = await _send(
        api, paused, "scheduled@example.com", scheduledAt=(clock.now() + timedelta(seconds=30)).isoformat()
    )
    held_ids = [retrying, queued, scheduled]

    await _set_active(container, "paused", active=False)
    first_flow = await _send(api, flowing, "flow-1@example.com")
    clock.advance(61)  # the retry and the scheduled send are due
    assert await drain(container) == 4  # three held, one sent
    assert _delivered_to(sink) == ["flow-1@example.com"]
    rows = await _rows(container, held_ids)
    assert {i: rows[i]["status"] for i in held_ids} == {
        retrying: "retry_scheduled",
        queued: "scheduled",
        scheduled: "scheduled",
    }
    assert {i: rows[i]["attempts"] for i in held_ids} == {retrying: 1, queued: 0, scheduled: 0}
    assert await _event_types(container, queued) == ["queued", "processing", "held"]

    # Nothing is due again before the hold ends: the worker does not spin on held mail.
    assert await drain(container) == 0
    clock.advance(hold.total_seconds() - 1)
    assert await drain(container) == 0

    # Many hold periods later (longer than every retry delay together): still held, no attempt used up, no DLQ,
    # and each held message looked at once per period.
    for round_ in range(12):
        flow = await _send(api, flowing, f"flow-{round_ + 2}@example.com")
        clock.advance(hold.total_seconds())
        assert await drain(container) == 4, round_
        assert (await _rows(container, [flow]))[flow]["status"] == "sent"
    assert len(_delivered_to(sink)) == 13
    assert all(r.startswith("flow-") for r in _delivered_to(sink))
    rows = await _rows(container, held_ids)
    assert {i: rows[i]["attempts"] for i in held_ids} == {retrying: 1, queued: 0, scheduled: 0}
    assert all(rows[i]["dead_lettered_at"] is None for i in held_ids)
    assert (await _rows(container, [first_flow]))[first_flow]["status"] == "sent"

    # Activation hands every held message back at once: no wait for the hold to run out.
    activated = await _set_active(container, "paused", active=True)
    assert activated["requeued"] == 3
    assert await drain(container) == 3
    assert sorted(r for r in _delivered_to(sink) if not r.startswith("flow-")) == [
        "queued@example.com",
        "retrying@example.com",
        "scheduled@example.com",
    ]
    rows = await _rows(container, held_ids)
    assert {rows[i]["status"] for i in held_ids} == {"sent"}
    assert all(rows[i]["dead_lettered_at"] is None for i in held_ids)
    assert (await _rows(container, [retrying]))[retrying]["attempts"] == 2  # the 451, then the send
    assert (await _event_types(container, queued))[-3:] == ["resumed", "processing", "sent"]

    # The jobs the last hold scheduled still fire; they find the mail sent and send nothing (D6).
    clock.advance(hold.total_seconds())
    assert await drain(container) == 3
    assert len(_delivered_to(sink)) == 16

    # The owner sees the hold in the message's history.
    doc = (await api.get(f"/v1/messages/{queued}", headers=paused.headers)).json()
    assert "held" in [e["type"] for e in doc["events"]]
    assert doc["status"] == "sent"


async def test_a_second_activation_requeues_nothing(api: httpx.AsyncClient, container: Container) -> None:
    paused = await make_tenant(container, "paused")
    await _send(api, paused, "a@example.com")
    await _set_active(container, "paused", active=False)
    assert await drain(container) == 1  # held
    assert (await _set_active(container, "paused", active=True))["requeued"] == 1
    assert (await _set_active(container, "paused", active=True))["requeued"] == 0


async def test_a_held_message_canceled_meanwhile_is_not_requeued(
    api: httpx.AsyncClient, container: Container, sink: SmtpSink
) -> None:
    paused = await make_tenant(container, "paused")
    message_id = await _send(api, paused, "a@example.com")
    await _set_active(container, "paused", active=False)
    assert await drain(container) == 1
    async with container.engine.begin() as conn:  # the operator cancels it while the tenant is suspended
        await conn.execute(text("UPDATE tenants SET active = true WHERE slug = 'paused'"))
    canceled = await api.post(f"/v1/messages/{message_id}/cancel", headers=paused.headers)
    assert canceled.status_code == 200, canceled.text
    assert (await _set_active(container, "paused", active=True))["requeued"] == 0
    assert await drain(container) == 0
    assert sink.handler.received == []
