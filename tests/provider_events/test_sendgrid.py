"""SendGrid's Signed Event Webhook: the documented sample batch, signed with a throwaway P-256 key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import TenantKey
from tests.provider_events.conftest import Hooks, fixture, sent_message
from tests.provider_events.signing import epoch, sendgrid_headers, sendgrid_keys

X_MESSAGE_ID = "W86EgYT6SQKk0lRflfLRsA"


def batch() -> list[dict[str, Any]]:
    """The documented sample, with unique event ids and the id SendGrid gives a message we sent."""
    events = fixture("sendgrid_events.json")
    for n, event in enumerate(events):
        event["sg_event_id"] = f"sg-event-{n}"
        event["sg_message_id"] = f"{X_MESSAGE_ID}.filter0001.16648.5515E0B88.{n}"
    return list(events)


async def post(hooks: Hooks, body: bytes, headers: dict[str, str]) -> Any:
    return await hooks.client.post("/webhooks/sendgrid", content=body, headers=headers)


async def test_the_documented_batch_maps_every_event_type(hooks: Hooks, tenant: TenantKey) -> None:
    message_id = await sent_message(
        hooks, tenant, to=["example@test.com"], provider="sendgrid", provider_msg_id=X_MESSAGE_ID
    )
    body = json.dumps(batch()).encode()

    response = await post(hooks, body, sendgrid_headers(hooks.sendgrid_key, body, epoch(hooks.clock.now())))

    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 10
    rows = await hooks.stored()
    assert [(r["type"], r["bounce"]) for r in rows] == [
        ("unknown", None),  # processed
        ("deferred", None),
        ("delivered", None),
        ("opened", None),
        ("clicked", None),
        ("bounced", "hard"),  # type bounce
        ("bounced", "soft"),  # type blocked
        ("rejected", None),  # dropped
        ("complained", None),  # spamreport
        ("unsubscribed", None),
    ]
    assert {r["message_id"] for r in rows} == {message_id}
    assert await hooks.status(message_id) == "complained"
    assert [t for t in await hooks.event_types(message_id) if t in {"delivered", "bounced", "complained"}] == [
        "delivered",
        "bounced",
        "complained",
    ]
    # The same batch again: every event is a duplicate, still 2xx.
    again = await post(hooks, body, sendgrid_headers(hooks.sendgrid_key, body, epoch(hooks.clock.now())))
    assert (again.status_code, again.json()["duplicates"]) == (200, 10)
    assert await hooks.count() == 10


async def test_an_event_for_no_message_is_kept_unmatched(hooks: Hooks) -> None:
    body = json.dumps(batch()[2:3]).encode()
    response = await post(hooks, body, sendgrid_headers(hooks.sendgrid_key, body, epoch(hooks.clock.now())))
    assert response.status_code == 200
    [row] = await hooks.stored()
    assert (row["type"], row["message_id"], row["tenant_id"]) == ("delivered", None, None)


def _tampered(hooks: Hooks, case: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(batch()).encode()
    now = epoch(hooks.clock.now())
    headers = sendgrid_headers(hooks.sendgrid_key, body, now)
    if case == "body changed":
        body = body.replace(b'"delivered"', b'"bounce"')
    elif case == "wrong key":
        headers = sendgrid_headers(sendgrid_keys()[0], body, now)
    elif case == "stale timestamp":
        headers = sendgrid_headers(hooks.sendgrid_key, body, now - 301)
    elif case == "future timestamp":
        headers = sendgrid_headers(hooks.sendgrid_key, body, now + 301)
    elif case == "timestamp swapped":
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = str(now + 1)
    elif case == "signature missing":
        headers.pop("X-Twilio-Email-Event-Webhook-Signature")
    elif case == "timestamp missing":
        headers.pop("X-Twilio-Email-Event-Webhook-Timestamp")
    elif case == "signature not base64":
        headers["X-Twilio-Email-Event-Webhook-Signature"] = "not base64!"
    return body, headers


@pytest.mark.parametrize(
    "case",
    [
        "body changed",
        "wrong key",
        "stale timestamp",
        "future timestamp",
        "timestamp swapped",
        "signature missing",
        "timestamp missing",
        "signature not base64",
    ],
)
async def test_tampered_batches_are_401_and_store_nothing(hooks: Hooks, tenant: TenantKey, case: str) -> None:
    message_id = await sent_message(
        hooks, tenant, to=["example@test.com"], provider="sendgrid", provider_msg_id=X_MESSAGE_ID
    )
    body, headers = _tampered(hooks, case)
    response = await post(hooks, body, headers)
    assert response.status_code == 401
    assert response.json()["type"].endswith("/problems/webhook-signature")
    assert await hooks.count() == 0
    assert await hooks.status(message_id) == "sent"


async def test_a_provider_without_its_secret_is_404(hooks: Hooks) -> None:
    hooks.container.settings = hooks.container.settings.model_copy(update={"sendgrid_webhook_public_key": None})
    body = json.dumps(batch()).encode()
    response = await post(hooks, body, sendgrid_headers(hooks.sendgrid_key, body, epoch(hooks.clock.now())))
    assert response.status_code == 404
    assert response.json()["type"].endswith("/problems/webhook-not-configured")
    unknown = await hooks.client.post("/webhooks/sparkpost", content=b"[]")
    assert (unknown.status_code, unknown.headers["content-type"]) == (404, "application/problem+json")
    assert await hooks.count() == 0
