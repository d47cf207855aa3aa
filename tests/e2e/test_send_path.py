"""One email from the API to a real SMTP server, and its lifecycle in the API."""

from __future__ import annotations

from datetime import datetime

import httpx

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

PAYLOAD = {
    "to": ["user@example.com", "user2@example.com"],
    "cc": ["manager@example.com"],
    "bcc": ["audit@example.com"],
    "from": {"email": "noreply@product.example", "name": "Product X"},
    "replyTo": "support@product.example",
    "subject": "{{productName}} — Reset your password",
    "htmlBody": "<p>Hello {{name}},</p><p><a href='{{resetUrl}}'>Reset</a></p>",
    "textBody": "Hello {{name}}, reset at {{resetUrl}}",
    "variables": {
        "name": "Saif <b>",
        "resetUrl": "https://app.example.com/reset?t=abc",
        "productName": "Product X",
    },
    "metadata": {"category": "transactional"},
    "tags": ["password", "security"],
    "priority": "high",
}


async def test_accept_then_deliver_over_smtp(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    resp = await api.post("/v1/messages", json=PAYLOAD, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "queued"
    assert body["suppressedRecipients"] == []
    message_id = body["messageId"]

    assert await drain(container) == 1

    assert len(sink.handler.received) == 1
    got = sink.handler.received[0]
    assert got.mail_from == "noreply@product.example"
    assert sorted(got.rcpt_tos) == sorted(
        ["user@example.com", "user2@example.com", "manager@example.com", "audit@example.com"]
    )
    msg = got.message
    assert msg["Bcc"] is None
    assert b"audit@example.com" not in got.data.split(b"\r\n\r\n", 1)[0]
    assert msg["Subject"] == "Product X — Reset your password"
    assert msg["From"] == "Product X <noreply@product.example>"
    assert msg["Reply-To"] == "support@product.example"
    assert msg["X-IEP-Message-Id"] == message_id
    assert msg["Message-ID"].startswith(f"<{message_id}@")
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    assert html is not None
    assert text is not None
    assert "Hello Saif &lt;b&gt;," in html.get_content()
    assert "href='https://app.example.com/reset?t&#x3D;abc'" in html.get_content()
    assert text.get_content().strip() == "Hello Saif &lt;b&gt;, reset at https://app.example.com/reset?t&#x3D;abc"

    shown = await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)
    assert shown.status_code == 200
    doc = shown.json()
    assert doc["status"] == "sent"
    assert doc["attempts"] == 1
    assert doc["lastError"] is None
    assert doc["provider"] == "smtp"
    assert doc["subject"] == "Product X — Reset your password"
    assert doc["bcc"] == ["audit@example.com"]
    types = [e["type"] for e in doc["events"]]
    assert types == ["queued", "processing", "sent"]
    stamps = [datetime.fromisoformat(e["timestamp"]) for e in doc["events"]]
    assert stamps == sorted(stamps)
    assert doc["sentAt"] is not None


async def test_text_part_is_made_from_html_when_missing(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    payload = {k: v for k, v in PAYLOAD.items() if k != "textBody"}
    resp = await api.post("/v1/messages", json=payload, headers=tenant.headers)
    assert resp.status_code == 202
    await drain(container)
    text = sink.handler.received[0].message.get_body(("plain",))
    assert text is not None
    content = text.get_content()
    assert "Hello Saif <b>," in content
    assert "<p>" not in content


async def test_v1_send_alias_takes_props(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    payload = {
        "to": "ada@example.com",
        "from": "Demo <hello@demo.example>",
        "subject": "Hi {{name}}",
        "htmlBody": "<p>{{name}}</p>",
        "props": {"name": "Ada"},
    }
    resp = await api.post("/v1/send", json=payload, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    await drain(container)
    assert sink.handler.received[0].message["Subject"] == "Hi Ada"
