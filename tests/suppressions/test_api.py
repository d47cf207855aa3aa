"""`/v1/suppressions` (SPEC §3): add, list with filters and cursor, remove; problem+json; tenant isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from iep.bootstrap import Container
from iep.kit.clock import FakeClock
from tests.conftest import TenantKey, make_tenant

PROBLEM = "application/problem+json"
SEND = {"from": "x@product.example", "subject": "S", "textBody": "T"}


def _problem(resp: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = resp.json()
    assert body["type"] == f"https://iep.dev/problems/{kind}"
    return body


async def test_add_list_update_remove(api: httpx.AsyncClient, tenant: TenantKey, clock: FakeClock) -> None:
    created = await api.post("/v1/suppressions", json={"email": "Someone@Example.com"}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["email"] == "someone@example.com"
    assert (doc["reason"], doc["source"], doc["expiresAt"], doc["active"]) == ("manual", "api", None, True)

    later = (clock.now() + timedelta(days=7)).isoformat()
    again = await api.post(
        "/v1/suppressions", json={"email": "someone@example.com", "expiresAt": later}, headers=tenant.headers
    )
    assert again.status_code == 201
    listing = (await api.get("/v1/suppressions", headers=tenant.headers)).json()
    assert [(e["email"], e["expiresAt"] is not None) for e in listing["data"]] == [("someone@example.com", True)]

    gone = await api.delete("/v1/suppressions/SOMEONE@example.com", headers=tenant.headers)
    assert gone.status_code == 204
    assert (await api.get("/v1/suppressions", headers=tenant.headers)).json()["data"] == []
    _problem(await api.delete("/v1/suppressions/someone@example.com", headers=tenant.headers), 404, "not-found")


async def test_filters_and_cursor_paging(api: httpx.AsyncClient, container: Container, tenant: TenantKey) -> None:
    from iep.provider_events.vocabulary import EventType
    from iep.suppressions import service

    emails = [f"user{i}@example.com" for i in range(5)]
    for email in emails:
        resp = await api.post("/v1/suppressions", json={"email": email, "reason": "manual"}, headers=tenant.headers)
        assert resp.status_code == 201
    async with container.engine.begin() as conn:
        tenant_id = (await container.authenticator.authenticate(_presented(tenant), "read")).tenant_id
        await service.record_feedback(
            conn,
            tenant_id=tenant_id,
            email="spam@example.com",
            event=EventType.COMPLAINED,
            bounce=None,
            now=container.clock.now(),
        )

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2, "reason": "manual"}
        if cursor:
            params["cursor"] = cursor
        page = (await api.get("/v1/suppressions", params=params, headers=tenant.headers)).json()
        seen += [e["email"] for e in page["data"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(emails))  # newest first, each once

    complaints = (await api.get("/v1/suppressions", params={"reason": "complaint"}, headers=tenant.headers)).json()
    assert [(e["email"], e["reason"]) for e in complaints["data"]] == [("spam@example.com", "complaint")]
    one = (await api.get("/v1/suppressions", params={"email": "USER3@example.com"}, headers=tenant.headers)).json()
    assert [e["email"] for e in one["data"]] == ["user3@example.com"]

    _problem(await api.get("/v1/suppressions", params={"reason": "bogus"}, headers=tenant.headers), 422, "validation")
    _problem(
        await api.get("/v1/suppressions", params={"cursor": "!!not-ours"}, headers=tenant.headers), 400, "invalid-query"
    )


def _presented(tenant: TenantKey) -> Any:
    from iep.tenancy import keys

    return keys.parse(tenant.key)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not an address"}, "email"),
        ({"email": "a@example.com", "reason": "hard_bounce"}, "reason"),
        ({"email": "a@example.com", "expiresAt": "2020-01-01T00:00:00Z"}, "expiresAt"),
        ({"email": "a@example.com", "expiresAt": "tomorrow"}, "expiresAt"),
        ({"email": "a@example.com", "extra": 1}, "extra"),
        ({}, "email"),
    ],
)
async def test_invalid_bodies_are_problem_422(
    api: httpx.AsyncClient, tenant: TenantKey, body: dict[str, Any], field: str
) -> None:
    doc = _problem(await api.post("/v1/suppressions", json=body, headers=tenant.headers), 422, "validation")
    assert field in [e["field"] for e in doc["errors"]]
    assert (await api.get("/v1/suppressions", headers=tenant.headers)).json()["data"] == []


async def test_malformed_json_and_scopes(api: httpx.AsyncClient, container: Container, tenant: TenantKey) -> None:
    _problem(
        await api.post(
            "/v1/suppressions", content=b"{nope", headers={**tenant.headers, "content-type": "application/json"}
        ),
        400,
        "malformed-request",
    )
    _problem(await api.get("/v1/suppressions"), 401, "unauthenticated")
    reader = await make_tenant(container, "reader", scopes=("read",))
    _problem(
        await api.post("/v1/suppressions", json={"email": "a@example.com"}, headers=reader.headers), 403, "forbidden"
    )
    _problem(await api.delete("/v1/suppressions/a@example.com", headers=reader.headers), 403, "forbidden")
    assert (await api.get("/v1/suppressions", headers=reader.headers)).status_code == 200


async def test_another_tenant_cannot_see_remove_or_be_affected(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    intruder = await make_tenant(container, "intruder")
    assert (
        await api.post("/v1/suppressions", json={"email": "shared@example.com"}, headers=tenant.headers)
    ).status_code == 201

    assert (await api.get("/v1/suppressions", headers=intruder.headers)).json()["data"] == []
    filtered = await api.get("/v1/suppressions", params={"email": "shared@example.com"}, headers=intruder.headers)
    assert filtered.json()["data"] == []
    foreign = await api.delete("/v1/suppressions/shared@example.com", headers=intruder.headers)
    missing = await api.delete("/v1/suppressions/nobody@example.com", headers=intruder.headers)
    assert _problem(foreign, 404, "not-found").get("detail") == _problem(missing, 404, "not-found").get("detail")

    # The intruder's own sends to that address are not warned about; the owner's are.
    theirs = await api.post("/v1/messages", json={**SEND, "to": ["shared@example.com"]}, headers=intruder.headers)
    assert theirs.status_code == 202
    assert theirs.json()["suppressedRecipients"] == []
    ours = await api.post("/v1/messages", json={**SEND, "to": ["Shared@example.com"]}, headers=tenant.headers)
    assert ours.json()["suppressedRecipients"] == ["shared@example.com"]

    # The intruder adding and removing the same address leaves the owner's entry alone.
    assert (
        await api.post("/v1/suppressions", json={"email": "shared@example.com"}, headers=intruder.headers)
    ).status_code == 201
    assert (await api.delete("/v1/suppressions/shared@example.com", headers=intruder.headers)).status_code == 204
    owner = (await api.get("/v1/suppressions", headers=tenant.headers)).json()["data"]
    assert [e["email"] for e in owner] == ["shared@example.com"]


async def test_accept_warns_for_a_suppressed_address_but_not_an_expired_one(
    api: httpx.AsyncClient, tenant: TenantKey, clock: FakeClock
) -> None:
    expiry = (clock.now() + timedelta(hours=1)).isoformat()
    await api.post("/v1/suppressions", json={"email": "blocked@example.com"}, headers=tenant.headers)
    await api.post("/v1/suppressions", json={"email": "brief@example.com", "expiresAt": expiry}, headers=tenant.headers)
    message = {**SEND, "to": ["ok@example.com", "Blocked@example.com"], "cc": ["brief@example.com"]}

    first = await api.post("/v1/messages", json=message, headers=tenant.headers)
    assert first.status_code == 202  # warned, not blocked
    assert first.json()["suppressedRecipients"] == ["blocked@example.com", "brief@example.com"]

    clock.advance(3601)
    second = await api.post("/v1/messages", json=message, headers=tenant.headers)
    assert second.status_code == 202
    assert second.json()["suppressedRecipients"] == ["blocked@example.com"]
    listed = (await api.get("/v1/suppressions", params={"email": "brief@example.com"}, headers=tenant.headers)).json()
    assert [e["active"] for e in listed["data"]] == [False]  # kept for the record, suppressing nothing
