"""Postmark: the documented records behind HTTP basic auth (Postmark signs nothing, the URL carries the secret)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import TenantKey
from tests.provider_events.conftest import POSTMARK, Hooks, fixture, sent_message
from tests.provider_events.signing import basic

PM_ID = "883953f4-6105-42a2-a16a-77a8eac79483"


async def post(hooks: Hooks, record: dict[str, Any], headers: dict[str, str]) -> Any:
    return await hooks.client.post("/webhooks/postmark", content=json.dumps(record), headers=headers)


@pytest.mark.parametrize(
    ("name", "stored", "status"),
    [
        ("postmark_delivery.json", ("delivered", None), "delivered"),
        ("postmark_bounce.json", ("bounced", "hard"), "bounced"),
        ("postmark_spam_complaint.json", ("complained", None), "complained"),
    ],
)
async def test_documented_records_verify_map_and_apply(
    hooks: Hooks, tenant: TenantKey, name: str, stored: tuple[str, str | None], status: str
) -> None:
    message_id = await sent_message(hooks, tenant, to=["john@example.com"], provider="postmark", provider_msg_id=PM_ID)
    record = {**fixture(name), "MessageID": PM_ID}
    response = await post(hooks, record, basic(*POSTMARK))
    assert response.status_code == 200, response.text
    [row] = await hooks.stored()
    assert ((row["type"], row["bounce"]), row["message_id"]) == (stored, message_id)
    assert row["event_id"].startswith("sha256:")  # Postmark gives no event id: a digest of the record
    assert await hooks.status(message_id) == status
    # Postmark retrying the same record is a no-op.
    assert (await post(hooks, record, basic(*POSTMARK))).json()["duplicates"] == 1


@pytest.mark.parametrize(
    ("bounce_type", "expected"),
    [("Transient", ("bounced", "soft")), ("SoftBounce", ("bounced", "soft")), ("BadEmailAddress", ("bounced", "hard")),
     ("AutoResponder", ("unknown", None)), ("ManuallyDeactivated", ("rejected", None))],
)  # fmt: skip
async def test_bounce_types_follow_postmarks_table(hooks: Hooks, bounce_type: str, expected: tuple[str, None]) -> None:
    record = {**fixture("postmark_bounce.json"), "Type": bounce_type}
    assert (await post(hooks, record, basic(*POSTMARK))).status_code == 200
    [row] = await hooks.stored()
    assert (row["type"], row["bounce"]) == expected


@pytest.mark.parametrize(
    "headers",
    [
        basic(POSTMARK[0], "wrong"),
        basic("someone", POSTMARK[1]),
        basic(POSTMARK[0], POSTMARK[1] + "x"),
        {"Content-Type": "application/json"},
        {"Authorization": "Bearer " + POSTMARK[1]},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + "cG9zdG1hcmstaG9va3M="},  # user only, no colon
    ],
    ids=["wrong password", "wrong user", "password suffix", "missing header", "not basic", "bad base64", "no colon"],
)
async def test_bad_credentials_are_401_and_store_nothing(hooks: Hooks, headers: dict[str, str]) -> None:
    response = await post(hooks, fixture("postmark_bounce.json"), headers)
    assert response.status_code == 401
    assert response.json()["type"].endswith("/problems/webhook-signature")
    assert await hooks.count() == 0
