"""Accept → store → send: the files reach the SMTP server as multipart/mixed around multipart/alternative,
the inline image inside multipart/related, fetched from storage at send time; RFC 8058 headers when enabled."""

from __future__ import annotations

import base64

import httpx
from sqlalchemy import select, update

from iep.bootstrap import Container
from iep.messages.models import attachments
from iep.tenancy.models import tenants
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 32


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_files_and_inline_image_arrive_in_the_right_mime_structure(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    async with container.engine.begin() as conn:
        await conn.execute(
            update(tenants)
            .where(tenants.c.slug == tenant.slug)
            .values(settings={"listUnsubscribe": {"url": "https://product.example/unsubscribe/{messageId}"}})
        )
    body = {
        "to": ["user@example.com"], "from": "App <app@product.example>", "subject": "Your invoice",
        "htmlBody": '<p>Logo: <img src="cid:logo"></p>', "textBody": "Your invoice is attached.",
        "attachments": [
            {"filename": "invoice.pdf", "content": _b64(PDF), "contentType": "application/pdf"},
            {"filename": "logo.png", "content": _b64(PNG), "contentType": "image/png", "contentId": "logo"},
        ],
    }  # fmt: skip
    response = await api.post("/v1/messages", json=body, headers=tenant.headers)
    assert response.status_code == 202, response.text
    mid = response.json()["messageId"]
    async with container.engine.connect() as conn:
        keys = (await conn.execute(select(attachments.c.storage_key))).scalars().all()
    assert len(keys) == 2
    assert all(k.startswith(f"{k.split('/')[0]}/{mid}/") for k in keys)
    assert all((container.settings.attachments_dir / k).is_file() for k in keys)

    assert await drain(container) == 1
    (received,) = sink.handler.received
    msg = received.message
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    alternative = list(parts[0].iter_parts())
    assert [p.get_content_type() for p in alternative] == ["text/plain", "multipart/related"]
    related = list(alternative[1].iter_parts())
    assert [p.get_content_type() for p in related] == ["text/html", "image/png"]
    assert related[1]["Content-ID"] == "<logo>"
    assert related[1].get_content() == PNG
    assert parts[1].get_filename() == "invoice.pdf"
    assert parts[1].get_content() == PDF
    assert msg["List-Unsubscribe"].strip() == f"<https://product.example/unsubscribe/{mid}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_an_idempotent_replay_keeps_only_the_first_requests_files(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    body = {
        "to": ["user@example.com"], "from": "app@product.example", "subject": "s", "textBody": "t",
        "attachments": [{"filename": "a.pdf", "content": _b64(PDF), "contentType": "application/pdf"}],
    }  # fmt: skip
    headers = {**tenant.headers, "Idempotency-Key": "files-once"}
    first = await api.post("/v1/messages", json=body, headers=headers)
    again = await api.post("/v1/messages", json=body, headers=headers)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["messageId"] == again.json()["messageId"]
    files = [p for p in container.settings.attachments_dir.rglob("*") if p.is_file()]
    assert len(files) == 1
