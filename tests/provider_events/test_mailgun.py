"""Mailgun: the documented payloads, signed with HMAC-SHA256(timestamp + token); tokens are single use."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from tests.conftest import TenantKey
from tests.provider_events.conftest import MAILGUN_KEY, Hooks, fixture, sent_message
from tests.provider_events.signing import epoch, mailgun_signature

DELIVERED_ID = "20130503182626.18666.16540@sandbox.mailgun.org"
FAILED_ID = "20130503192659.13651.20287@sandbox.mailgun.org"


def signed(
    hooks: Hooks, name: str, *, key: str = MAILGUN_KEY, age: int = 0, token: str | None = None
) -> dict[str, Any]:
    payload = fixture(name)
    payload["signature"] = mailgun_signature(key, epoch(hooks.clock.now()) - age, token or secrets.token_hex(25))
    return dict(payload)


async def post(hooks: Hooks, payload: dict[str, Any] | bytes) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await hooks.client.post("/webhooks/mailgun", content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize(
    ("name", "provider_id", "stored", "status"),
    [
        ("mailgun_delivered.json", DELIVERED_ID, ("delivered", None), "delivered"),
        ("mailgun_failed_permanent.json", FAILED_ID, ("bounced", "hard"), "bounced"),
        ("mailgun_failed_temporary.json", FAILED_ID, ("bounced", "soft"), "sent"),
    ],
)
async def test_documented_payloads_verify_map_and_apply(
    hooks: Hooks, tenant: TenantKey, name: str, provider_id: str, stored: tuple[str, str | None], status: str
) -> None:
    # Mailgun answers the send with `<id>`; the provider module stores it without the angle brackets.
    message_id = await sent_message(
        hooks, tenant, to=["alice@example.com"], provider="mailgun", provider_msg_id=provider_id
    )
    response = await post(hooks, signed(hooks, name))
    assert response.status_code == 200, response.text
    [row] = await hooks.stored()
    assert ((row["type"], row["bounce"]), row["message_id"]) == (stored, message_id)
    assert await hooks.status(message_id) == status


async def test_a_late_delivery_does_not_undo_a_permanent_failure(hooks: Hooks, tenant: TenantKey) -> None:
    message_id = await sent_message(
        hooks, tenant, to=["alice@example.com"], provider="mailgun", provider_msg_id=FAILED_ID
    )
    late = signed(hooks, "mailgun_delivered.json")
    late["event-data"]["message"]["headers"]["message-id"] = f"<{FAILED_ID}>"
    assert (await post(hooks, signed(hooks, "mailgun_failed_permanent.json"))).status_code == 200
    assert (await post(hooks, late)).status_code == 200
    assert await hooks.status(message_id) == "bounced"
    assert await hooks.count() == 2


def _tampered(hooks: Hooks, case: str) -> dict[str, Any] | bytes:
    payload = signed(hooks, "mailgun_delivered.json")
    if case == "signature changed":
        payload["signature"]["signature"] = payload["signature"]["signature"][::-1]
    elif case == "wrong key":
        payload = signed(hooks, "mailgun_delivered.json", key="key-someone-else")
    elif case == "stale timestamp":
        payload = signed(hooks, "mailgun_delivered.json", age=301)
    elif case == "future timestamp":
        payload = signed(hooks, "mailgun_delivered.json", age=-301)
    elif case == "token changed":
        payload["signature"]["token"] = secrets.token_hex(25)
    elif case == "signature missing":
        payload.pop("signature")
    elif case == "not JSON":
        return b"event=delivered"
    return payload


@pytest.mark.parametrize(
    "case",
    [
        "signature changed",
        "wrong key",
        "stale timestamp",
        "future timestamp",
        "token changed",
        "signature missing",
        "not JSON",
    ],
)
async def test_tampered_requests_are_401_and_store_nothing(hooks: Hooks, case: str) -> None:
    response = await post(hooks, _tampered(hooks, case))
    assert response.status_code == 401
    assert response.json()["type"].endswith("/problems/webhook-signature")
    assert await hooks.count() == 0
    assert await hooks.count("provider_event_nonces") == 0


async def test_a_replayed_token_is_refused_even_with_another_body(hooks: Hooks, tenant: TenantKey) -> None:
    message_id = await sent_message(
        hooks, tenant, to=["alice@example.com"], provider="mailgun", provider_msg_id=FAILED_ID
    )
    first = signed(hooks, "mailgun_failed_temporary.json", token="t" * 50)
    assert (await post(hooks, first)).status_code == 200
    replay = signed(hooks, "mailgun_failed_permanent.json", token="t" * 50)  # same (timestamp, token), new event
    response = await post(hooks, replay)
    assert response.status_code == 401
    assert await hooks.count() == 1
    assert await hooks.status(message_id) == "sent"
