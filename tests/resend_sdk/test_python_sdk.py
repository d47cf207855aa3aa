"""A11: Resend's official Python SDK (PyPI `resend`, unmodified; only `api_url` and the key changed) sends through
IEP to an SMTP server and reads the email back."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from typing import Any

import pytest
import resend
from resend.exceptions import ResendError

from iep.bootstrap import Container
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

CSV = b"id,amount\n1,9.99\n2,19.99\n"


@pytest.fixture
def sdk(served: str, tenant: TenantKey) -> Iterator[None]:
    before = resend.api_url, resend.api_key
    resend.api_url, resend.api_key = served, tenant.key
    yield
    resend.api_url, resend.api_key = before


async def call(fn: Any, *args: Any) -> Any:
    """The SDK is synchronous (requests): it runs in a thread while the API answers on this loop."""
    return await asyncio.to_thread(fn, *args)


@pytest.mark.usefixtures("sdk")
async def test_send_with_attachment_and_read_back(container: Container, sink: SmtpSink) -> None:
    params: resend.Emails.SendParams = {
        "from": "Acme Billing <billing@product.example>",
        "to": ["Ann <ann@example.com>"],
        "cc": "carl@example.com",
        "bcc": ["audit@example.com"],
        "reply_to": "support@product.example",
        "subject": "Your invoice",
        "html": "<p>Invoice attached.</p>",
        "text": "Invoice attached.",
        "headers": {"X-Entity-Ref-ID": "inv-42"},
        "tags": [{"name": "category", "value": "invoice"}],
        "attachments": [
            {"filename": "invoice.csv", "content": list(CSV)},
            {"filename": "notes.txt", "content": base64.b64encode(b"hello").decode(), "content_type": "text/plain"},
        ],
    }
    sent = await call(resend.Emails.send, params)
    assert set(sent) - {"http_headers"} == {"id"}
    await drain(container)
    [received] = sink.handler.received
    assert sorted(received.rcpt_tos) == ["ann@example.com", "audit@example.com", "carl@example.com"]
    mail = received.message
    assert mail["From"] == "Acme Billing <billing@product.example>"
    assert mail["Subject"] == "Your invoice"
    assert mail["Reply-To"] == "support@product.example"
    assert mail["X-Entity-Ref-ID"] == "inv-42"
    assert "Bcc" not in mail
    files = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert files == {"invoice.csv": CSV.decode(), "notes.txt": "hello"}

    email = await call(resend.Emails.get, sent["id"])
    assert email["object"] == "email"
    assert email["id"] == sent["id"]
    assert email["from"] == "Acme Billing <billing@product.example>"
    assert email["to"] == ["ann@example.com"]
    assert email["bcc"] == ["audit@example.com"]
    assert email["reply_to"] == ["support@product.example"]
    assert email["last_event"] == "sent"
    assert email["tags"] == [{"name": "category", "value": "invoice"}]
    assert email["html"] == "<p>Invoice attached.</p>"


@pytest.mark.usefixtures("sdk")
async def test_an_idempotency_key_sends_once(container: Container, sink: SmtpSink) -> None:
    params: resend.Emails.SendParams = {
        "from": "app@product.example",
        "to": "ann@example.com",
        "subject": "Welcome",
        "text": "Hi",
    }
    options: resend.Emails.SendOptions = {"idempotency_key": "welcome/ann"}
    first = await call(resend.Emails.send, params, options)
    again = await call(resend.Emails.send, params, options)
    assert first["id"] == again["id"]
    with pytest.raises(ResendError) as refused:
        await call(resend.Emails.send, {**params, "subject": "Other"}, options)
    assert refused.value.code == 409
    assert refused.value.error_type == "invalid_idempotent_request"
    await drain(container)
    assert len(sink.handler.received) == 1


@pytest.mark.usefixtures("sdk")
async def test_batch_sends_each_and_strict_refuses_all(container: Container, sink: SmtpSink) -> None:
    emails: list[resend.Emails.SendParams] = [
        {"from": "app@product.example", "to": [f"user{n}@example.com"], "subject": f"Hi {n}", "text": "T"}
        for n in range(3)
    ]
    sent = await call(resend.Batch.send, emails, {"idempotency_key": "batch-1"})
    assert len(sent["data"]) == 3
    replay = await call(resend.Batch.send, emails, {"idempotency_key": "batch-1"})
    assert [e["id"] for e in replay["data"]] == [e["id"] for e in sent["data"]]

    bad = [*emails, {"from": "app@product.example", "to": "nobody", "subject": "x", "html": "<p>x</p>"}]
    with pytest.raises(ResendError) as refused:
        await call(resend.Batch.send, bad)
    assert refused.value.code == 422
    assert "`[3].to[0]`" in refused.value.message
    permissive = await call(resend.Batch.send, bad, {"batch_validation": "permissive"})
    assert len(permissive["data"]) == 3
    assert [e["index"] for e in permissive["errors"]] == [3]

    await drain(container)
    assert sorted(r.rcpt_tos[0] for r in sink.handler.received) == [f"user{n}@example.com" for n in (0, 0, 1, 1, 2, 2)]
    got = await call(resend.Emails.get, sent["data"][1]["id"])
    assert got["subject"] == "Hi 1"


@pytest.mark.usefixtures("sdk")
async def test_errors_are_resend_errors(tenant: TenantKey) -> None:
    with pytest.raises(ResendError) as unsupported:
        await call(resend.Emails.send, {"from": "app@product.example", "to": "a@example.com", "subject": "s",
                                         "template": {"id": "t-1"}})  # fmt: skip
    assert unsupported.value.code == 422
    assert "template" in unsupported.value.message
    with pytest.raises(ResendError) as sender:
        await call(resend.Emails.send, {"from": "app@elsewhere.example", "to": "a@example.com", "subject": "s",
                                         "text": "t"})  # fmt: skip
    assert sender.value.error_type == "validation_error"
    assert "`from`" in sender.value.message
    with pytest.raises(ResendError) as missing:
        await call(resend.Emails.get, "0190f1d2-0000-7000-8000-000000000000")
    assert missing.value.code == 404
    resend.api_key = tenant.key + "x"
    with pytest.raises(ResendError) as wrong:
        await call(resend.Emails.get, "0190f1d2-0000-7000-8000-000000000000")
    assert (wrong.value.code, wrong.value.error_type) == (403, "invalid_api_key")
