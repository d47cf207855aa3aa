"""D-2: SMTP 4xx retries on the schedule (fake clock, no sleeps), 5xx fails at once, exhaustion dead-letters."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.queue.models import queue_jobs
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

PAYLOAD = {
    "to": ["user@example.com"],
    "from": "App <app@product.example>",
    "subject": "Hello",
    "textBody": "Hi",
}


async def _send(api: httpx.AsyncClient, tenant: TenantKey) -> str:
    resp = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    return str(resp.json()["messageId"])


async def _show(api: httpx.AsyncClient, tenant: TenantKey, message_id: str) -> dict[str, object]:
    resp = await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)
    assert resp.status_code == 200
    doc: dict[str, object] = resp.json()
    return doc


async def test_4xx_is_retried_on_schedule_then_sent(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    sink.handler.data_replies = ["451 4.3.0 try again later", "452 4.2.2 mailbox full"]
    message_id = await _send(api, tenant)
    start = clock.now()

    assert await drain(container) == 1
    doc = await _show(api, tenant, message_id)
    assert doc["status"] == "retry_scheduled"
    assert "451" in str(doc["lastError"])
    assert sink.handler.received == []

    clock.advance(59)
    assert await drain(container) == 0, "nothing is due before the first delay has passed"

    clock.advance(1)
    assert await drain(container) == 1
    doc = await _show(api, tenant, message_id)
    assert doc["status"] == "retry_scheduled"
    assert "452" in str(doc["lastError"])

    clock.advance(299)
    assert await drain(container) == 0
    clock.advance(1)
    assert await drain(container) == 1

    doc = await _show(api, tenant, message_id)
    assert doc["status"] == "sent"
    assert doc["attempts"] == 3
    assert sink.handler.ids() == [message_id]
    events = doc["events"]
    assert isinstance(events, list)
    assert [e["type"] for e in events] == [
        "queued",
        "processing",
        "retry_scheduled",
        "processing",
        "retry_scheduled",
        "processing",
        "sent",
    ]
    retries = [e for e in events if e["type"] == "retry_scheduled"]
    planned = [datetime.fromisoformat(e["payload"]["nextAttemptAt"]) for e in retries]
    assert planned == [start + timedelta(seconds=60), start + timedelta(seconds=360)]
    processing = [datetime.fromisoformat(e["timestamp"]) for e in events if e["type"] == "processing"]
    assert processing == [start, start + timedelta(seconds=60), start + timedelta(seconds=360)]


async def test_5xx_fails_at_once_with_the_reply(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    sink.handler.data_replies = ["550 5.1.1 <user@example.com>: no such user"]
    message_id = await _send(api, tenant)
    assert await drain(container) == 1
    doc = await _show(api, tenant, message_id)
    assert doc["status"] == "failed"
    assert doc["attempts"] == 1
    assert "550 5.1.1" in str(doc["lastError"])
    assert "no such user" in str(doc["lastError"])
    events = doc["events"]
    assert isinstance(events, list)
    assert [e["type"] for e in events] == ["queued", "processing", "failed"]
    async with container.engine.connect() as conn:
        assert (await conn.execute(select(queue_jobs))).all() == []


async def test_exhausted_retries_dead_letter_and_fail(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    sink.handler.always_reply = "421 4.7.0 slow down"
    message_id = await _send(api, tenant)
    for delay in (0, 60, 300, 900, 3600):
        clock.advance(delay)
        assert await drain(container) == 1
    doc = await _show(api, tenant, message_id)
    assert doc["status"] == "failed"
    assert doc["attempts"] == 5
    assert "421" in str(doc["lastError"])
    events = doc["events"]
    assert isinstance(events, list)
    assert [e["type"] for e in events][-2:] == ["dlq", "failed"]
    assert [e["type"] for e in events].count("retry_scheduled") == 4
    async with container.engine.connect() as conn:
        rows = (await conn.execute(select(queue_jobs.c.queue, queue_jobs.c.message_id))).all()
    assert [(q, str(m)) for q, m in rows] == [("mail.dlq", message_id)]
    clock.advance(100_000)
    assert await drain(container) == 0, "a dead-lettered job is not consumed again"


async def test_a_render_error_fails_once_and_is_not_retried(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, clock: FakeClock
) -> None:
    resp = await api.post("/v1/messages", json={**PAYLOAD, "htmlBody": "<p>{{shout name}}</p>"}, headers=tenant.headers)
    assert resp.status_code == 202, "a call to an unknown helper parses; it fails when rendered"
    message_id = str(resp.json()["messageId"])
    assert await drain(container) == 1
    doc = await _show(api, tenant, message_id)
    assert doc["status"] == "failed"
    assert "shout" in str(doc["lastError"])
    events = doc["events"]
    assert isinstance(events, list)
    assert events[-1]["payload"]["reason"] == "render_error"
    clock.advance(10_000)
    assert await drain(container) == 0
    assert sink.handler.received == []
