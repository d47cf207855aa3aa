"""F3 at send: suppressed addresses leave the SMTP envelope and the headers at a real aiosmtpd server; a
message whose every recipient is suppressed ends `suppressed` and no provider is called."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from iep.provider_events.vocabulary import BounceKind, EventType
from iep.providers.base import OutgoingEmail, SendResult
from iep.suppressions import service
from iep.tenancy import keys
from tests.conftest import TenantKey
from tests.support.pipeline import drain
from tests.support.smtp_sink import SmtpSink

BASE = {"from": "noreply@product.example", "subject": "Hi", "textBody": "Hello"}


@pytest.fixture
def provider_calls(container: Container, monkeypatch: pytest.MonkeyPatch) -> list[OutgoingEmail]:
    """Every call the SMTP provider gets, recorded before it sends."""
    provider = container.providers["smtp"]
    real = provider.send
    calls: list[OutgoingEmail] = []

    async def counted(email: OutgoingEmail, **kwargs: Any) -> SendResult:
        calls.append(email)
        return await real(email, **kwargs)

    monkeypatch.setattr(provider, "send", counted)
    return calls


async def _tenant_id(container: Container, tenant: TenantKey) -> uuid.UUID:
    return (await container.authenticator.authenticate(keys.parse(tenant.key), "read")).tenant_id


async def _feedback(container: Container, tenant_id: uuid.UUID, email: str, event: EventType, times: int) -> list[bool]:
    answers = []
    for _ in range(times):
        async with container.engine.begin() as conn:
            bounce = BounceKind.HARD if event is EventType.BOUNCED else None
            answers.append(
                await service.record_feedback(
                    conn, tenant_id=tenant_id, email=email, event=event, bounce=bounce, now=container.clock.now()
                )
            )
    return answers


async def _send(api: httpx.AsyncClient, tenant: TenantKey, **fields: Any) -> dict[str, Any]:
    resp = await api.post("/v1/messages", json={**BASE, **fields}, headers=tenant.headers)
    assert resp.status_code == 202, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def _message(api: httpx.AsyncClient, tenant: TenantKey, message_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = (await api.get(f"/v1/messages/{message_id}", headers=tenant.headers)).json()
    return doc


@pytest.mark.parametrize("field", ["to", "cc", "bcc"])
async def test_after_three_hard_bounces_the_address_leaves_the_envelope(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, field: str
) -> None:
    tenant_id = await _tenant_id(container, tenant)
    assert await _feedback(container, tenant_id, "Dead@Example.com", EventType.BOUNCED, 3) == [False, False, True]

    recipients: dict[str, list[str]] = {
        "to": ["alive@example.com"],
        "cc": ["copy@example.com"],
        "bcc": ["hidden@example.com"],
    }
    recipients[field] = [*recipients[field], "dead@example.com"]
    accepted = await _send(api, tenant, **recipients)
    assert accepted["suppressedRecipients"] == ["dead@example.com"]  # warned at accept, dropped at send
    await drain(container)

    assert len(sink.handler.received) == 1
    got = sink.handler.received[0]
    assert sorted(got.rcpt_tos) == ["alive@example.com", "copy@example.com", "hidden@example.com"]
    headers = got.data.split(b"\r\n\r\n", 1)[0].lower()
    assert b"dead@example.com" not in headers
    assert got.message["To"] == "alive@example.com"
    assert got.message["Cc"] == "copy@example.com"

    doc = await _message(api, tenant, accepted["messageId"])
    assert doc["status"] == "sent"
    sent = [e for e in doc["events"] if e["type"] == "sent"]
    assert sent[0]["payload"]["suppressedRecipients"] == ["dead@example.com"]


async def test_a_complaint_suppresses_the_next_message_at_once(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink
) -> None:
    tenant_id = await _tenant_id(container, tenant)
    # Accepted before the complaint: the send step checks again and still leaves the address out.
    accepted = await _send(api, tenant, to=["fine@example.com", "angry@example.com"])
    assert accepted["suppressedRecipients"] == []
    assert await _feedback(container, tenant_id, "angry@example.com", EventType.COMPLAINED, 1) == [True]
    await drain(container)
    assert [r.rcpt_tos for r in sink.handler.received] == [["fine@example.com"]]
    assert sink.handler.received[0].message["To"] == "fine@example.com"


async def test_every_recipient_suppressed_ends_suppressed_without_a_provider_call(
    api: httpx.AsyncClient,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    provider_calls: list[OutgoingEmail],
) -> None:
    tenant_id = await _tenant_id(container, tenant)
    await _feedback(container, tenant_id, "a@example.com", EventType.COMPLAINED, 1)
    await _feedback(container, tenant_id, "b@example.com", EventType.BOUNCED, 3)
    await api.post("/v1/suppressions", json={"email": "c@example.com"}, headers=tenant.headers)
    accepted = await _send(api, tenant, to=["A@example.com"], cc=["b@example.com"], bcc=["c@example.com"])
    assert accepted["suppressedRecipients"] == ["a@example.com", "b@example.com", "c@example.com"]

    assert await drain(container) == 1
    assert provider_calls == []
    assert sink.handler.received == []
    doc = await _message(api, tenant, accepted["messageId"])
    assert doc["status"] == "suppressed"
    assert [e["type"] for e in doc["events"]] == ["queued", "processing", "suppressed"]
    assert doc["events"][-1]["payload"] == {"suppressedRecipients": ["A@example.com", "b@example.com", "c@example.com"]}
    # Final: a redelivered job sends nothing either.
    assert await drain(container) == 0
    assert provider_calls == []


async def test_an_expired_entry_no_longer_suppresses_at_send(
    api: httpx.AsyncClient,
    container: Container,
    tenant: TenantKey,
    sink: SmtpSink,
    clock: FakeClock,
    provider_calls: list[OutgoingEmail],
) -> None:
    expiry = (clock.now() + timedelta(minutes=30)).isoformat()
    added = await api.post(
        "/v1/suppressions", json={"email": "paused@example.com", "expiresAt": expiry}, headers=tenant.headers
    )
    assert added.status_code == 201
    accepted = await _send(
        api, tenant, to=["paused@example.com"], scheduledAt=(clock.now() + timedelta(hours=1)).isoformat()
    )
    assert accepted["suppressedRecipients"] == ["paused@example.com"]  # still suppressed at accept time

    clock.advance(3600)  # past the expiry, and the message is due
    await drain(container)
    assert [r.rcpt_tos for r in sink.handler.received] == [["paused@example.com"]]
    assert len(provider_calls) == 1
    doc = await _message(api, tenant, accepted["messageId"])
    assert doc["status"] == "sent"
    assert "suppressedRecipients" not in next(e for e in doc["events"] if e["type"] == "sent")["payload"]


async def test_cc_moves_up_when_every_to_is_suppressed_and_bcc_is_never_exposed(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey, sink: SmtpSink, provider_calls: list[OutgoingEmail]
) -> None:
    await api.post("/v1/suppressions", json={"email": "gone@example.com"}, headers=tenant.headers)
    with_cc = await _send(api, tenant, to=["gone@example.com"], cc=["boss@example.com"], bcc=["audit@example.com"])
    only_bcc = await _send(api, tenant, to=["gone@example.com"], bcc=["audit@example.com", "legal@example.com"])
    await drain(container)

    assert len(sink.handler.received) == 1
    got = sink.handler.received[0]
    assert sorted(got.rcpt_tos) == ["audit@example.com", "boss@example.com"]
    assert got.message["To"] == "boss@example.com"
    assert got.message["Cc"] is None
    assert b"audit@example.com" not in got.data.split(b"\r\n\r\n", 1)[0]
    assert (await _message(api, tenant, with_cc["messageId"]))["status"] == "sent"

    refused = await _message(api, tenant, only_bcc["messageId"])
    assert refused["status"] == "failed"
    assert "Bcc recipients left would have to become visible" in refused["lastError"]
    assert len(provider_calls) == 1
