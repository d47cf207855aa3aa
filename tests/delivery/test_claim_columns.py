"""The claim hands back every column under its own name, whatever order the migrations left the table in."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import select

from iep.bootstrap import Container
from iep.delivery import repository
from iep.messages.models import messages
from tests.conftest import TenantKey

FULL = {
    "to": ["a@example.com"],
    "cc": ["c@example.com"],
    "bcc": ["b@example.com"],
    "from": "App <app@product.example>",
    "replyTo": "help@product.example",
    "subject": "Hi {{name}}",
    "htmlBody": "<p>Hi {{name}}</p>",
    "textBody": "Hi {{name}}",
    "variables": {"name": "Ada"},
    "headers": {"X-Bench-Seq": "7"},
    "tags": ["a", "b"],
    "metadata": {"category": "x"},
    "priority": "high",
}


async def test_claim_reads_each_column_by_name(api: httpx.AsyncClient, container: Container, tenant: TenantKey) -> None:
    resp = await api.post("/v1/messages", json=FULL, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    message_id = uuid.UUID(resp.json()["messageId"])
    now = container.clock.now()
    async with container.engine.begin() as conn:
        claimed = await repository.claim(conn, message_id, "w1", now, timedelta(seconds=60))
        stored = (await conn.execute(select(messages).where(messages.c.id == message_id))).one()._mapping
    assert claimed is not None
    for name in [c.name for c in messages.c]:
        assert claimed[name] == stored[name], name
    assert claimed["headers"] == {"X-Bench-Seq": "7"}
    assert claimed["tags"] == ["a", "b"]
    assert claimed["metadata"] == {"category": "x"}
    assert claimed["previous_status"] == "queued"
