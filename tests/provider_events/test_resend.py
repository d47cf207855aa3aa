"""Resend: the documented events, signed with Standard Webhooks (svix) headers and a whsec_ secret."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest

from tests.conftest import TenantKey
from tests.provider_events.conftest import RESEND_SECRET, Hooks, fixture, sent_message
from tests.provider_events.signing import epoch, svix_headers

EMAIL_ID = "56761188-7520-42d8-8898-ff6fc54ce618"
RECIPIENT = "delivered@resend.dev"


async def post(hooks: Hooks, body: bytes, headers: dict[str, str]) -> Any:
    return await hooks.client.post("/webhooks/resend", content=body, headers=headers)


@pytest.mark.parametrize(
    ("name", "prefix", "stored", "status"),
    [
        ("resend_delivered.json", "svix", ("delivered", None), "delivered"),
        ("resend_bounced.json", "webhook", ("bounced", "hard"), "bounced"),
        ("resend_complained.json", "svix", ("complained", None), "complained"),
    ],
)
async def test_documented_events_verify_map_and_apply(
    hooks: Hooks, tenant: TenantKey, name: str, prefix: str, stored: tuple[str, str | None], status: str
) -> None:
    message_id = await sent_message(hooks, tenant, to=[RECIPIENT], provider="resend", provider_msg_id=EMAIL_ID)
    body = json.dumps(fixture(name)).encode()
    headers = svix_headers(RESEND_SECRET, f"msg_{uuid.uuid4().hex}", epoch(hooks.clock.now()), body, prefix=prefix)
    response = await post(hooks, body, headers)
    assert response.status_code == 200, response.text
    [row] = await hooks.stored()
    assert ((row["type"], row["bounce"]), row["message_id"]) == (stored, message_id)
    assert await hooks.status(message_id) == status


def _tampered(hooks: Hooks, case: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(fixture("resend_bounced.json")).encode()
    now = epoch(hooks.clock.now())
    headers = svix_headers(RESEND_SECRET, "msg_1", now, body)
    if case == "body changed":
        body = body.replace(b"Permanent", b"Transient")
    elif case == "wrong secret":
        headers = svix_headers("whsec_" + base64.b64encode(b"x" * 32).decode(), "msg_1", now, body)
    elif case == "stale timestamp":
        headers = svix_headers(RESEND_SECRET, "msg_1", now - 301, body)
    elif case == "future timestamp":
        headers = svix_headers(RESEND_SECRET, "msg_1", now + 301, body)
    elif case == "id changed":
        headers["svix-id"] = "msg_2"
    elif case == "signature missing":
        headers.pop("svix-signature")
    elif case == "unknown version":
        headers["svix-signature"] = headers["svix-signature"].replace("v1,", "v2,")
    return body, headers


@pytest.mark.parametrize(
    "case",
    ["body changed", "wrong secret", "stale timestamp", "future timestamp", "id changed", "signature missing",
     "unknown version"],
)  # fmt: skip
async def test_tampered_events_are_401_and_store_nothing(hooks: Hooks, tenant: TenantKey, case: str) -> None:
    message_id = await sent_message(hooks, tenant, to=[RECIPIENT], provider="resend", provider_msg_id=EMAIL_ID)
    body, headers = _tampered(hooks, case)
    response = await post(hooks, body, headers)
    assert response.status_code == 401
    assert await hooks.count() == 0
    assert await hooks.status(message_id) == "sent"


async def test_a_replayed_delivery_is_a_duplicate_not_a_second_event(hooks: Hooks, tenant: TenantKey) -> None:
    await sent_message(hooks, tenant, to=[RECIPIENT], provider="resend", provider_msg_id=EMAIL_ID)
    body = json.dumps(fixture("resend_delivered.json")).encode()
    headers = svix_headers(RESEND_SECRET, "msg_same", epoch(hooks.clock.now()), body)
    assert (await post(hooks, body, headers)).json()["stored"] == 1
    again = await post(hooks, body, headers)
    assert (again.status_code, again.json()["duplicates"]) == (200, 1)
    assert await hooks.count() == 1
