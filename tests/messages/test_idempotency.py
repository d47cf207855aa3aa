"""A3: one Idempotency-Key, one message — under concurrency too."""

from __future__ import annotations

import asyncio

import httpx

from iep.bootstrap import Container
from tests.conftest import TenantKey, make_tenant
from tests.support.accepted import committed

PAYLOAD = {"to": ["a@example.com"], "from": "x@product.example", "subject": "S", "textBody": "T"}


async def test_twenty_concurrent_identical_requests_make_one_message(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "reset-req-123"}
    responses = await asyncio.gather(*(api.post("/v1/messages", json=PAYLOAD, headers=headers) for _ in range(20)))
    assert {r.status_code for r in responses} == {202}
    assert len({r.text for r in responses}) == 1, "all 20 answers are equal"
    assert sum(r.headers.get("Idempotent-Replayed") == "true" for r in responses) == 19
    assert await committed(container) == (1, 1, 1)


async def test_key_in_body_and_header_are_the_same_key(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    first = await api.post("/v1/messages", json={**PAYLOAD, "idempotencyKey": "k1"}, headers=tenant.headers)
    second = await api.post("/v1/messages", json=PAYLOAD, headers={**tenant.headers, "Idempotency-Key": "k1"})
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await committed(container) == (1, 1, 1)


async def test_same_key_other_payload_is_422(api: httpx.AsyncClient, container: Container, tenant: TenantKey) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "k2"}
    assert (await api.post("/v1/messages", json=PAYLOAD, headers=headers)).status_code == 202
    other = await api.post("/v1/messages", json={**PAYLOAD, "subject": "different"}, headers=headers)
    assert other.status_code == 422
    assert other.headers["content-type"].startswith("application/problem+json")
    assert other.json()["type"].endswith("/idempotency-key-reused")
    assert await committed(container) == (1, 1, 1)


async def test_keys_are_scoped_per_tenant(api: httpx.AsyncClient, container: Container, tenant: TenantKey) -> None:
    other = await make_tenant(container, "globex")
    a = await api.post("/v1/messages", json=PAYLOAD, headers={**tenant.headers, "Idempotency-Key": "shared"})
    b = await api.post("/v1/messages", json=PAYLOAD, headers={**other.headers, "Idempotency-Key": "shared"})
    assert a.status_code == b.status_code == 202
    assert a.json()["messageId"] != b.json()["messageId"]
    assert "Idempotent-Replayed" not in b.headers


async def test_header_and_body_keys_that_differ_are_refused(
    api: httpx.AsyncClient, container: Container, tenant: TenantKey
) -> None:
    resp = await api.post(
        "/v1/messages",
        json={**PAYLOAD, "idempotencyKey": "a"},
        headers={**tenant.headers, "Idempotency-Key": "b"},
    )
    assert resp.status_code == 422
    assert await committed(container) == (0, 0, 0)
