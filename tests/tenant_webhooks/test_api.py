"""The tenant webhooks API (A10): registration with a secret shown once and stored encrypted, validation as
problem+json, the delivery log's cursor paging, and tenant isolation on every endpoint (S7)."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from iep.bootstrap import Container
from iep.tenant_webhooks.models import webhook_endpoints
from iep.tenant_webhooks.schemas import EVENT_TYPES
from tests.conftest import TenantKey, make_tenant
from tests.tenant_webhooks.conftest import accept, emit, register, until, webhooks_role
from tests.tenant_webhooks.receiver import Receiver


async def test_crud_and_the_secret_is_shown_once_and_stored_encrypted(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver
) -> None:
    created = await api.post(
        "/v1/webhooks",
        json={"url": receiver.url, "events": ["message.sent", "message.bounced"], "description": "ops"},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["secret"].startswith("whsec_")
    assert len(body["secret"]) >= len("whsec_") + 32
    assert created.headers["location"] == f"/v1/webhooks/{body['id']}"
    async with hooks.engine.connect() as conn:
        stored = (await conn.execute(select(webhook_endpoints.c.secret_encrypted))).scalar_one()
    assert body["secret"] not in stored
    assert stored.startswith("v1.k1.")

    got = (await api.get(f"/v1/webhooks/{body['id']}", headers=tenant.headers)).json()
    assert "secret" not in got
    assert got["events"] == ["message.sent", "message.bounced"]
    assert got["active"] is True
    listed = (await api.get("/v1/webhooks", headers=tenant.headers)).json()["data"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]

    changed = await api.put(
        f"/v1/webhooks/{body['id']}", json={"events": ["message.failed"], "active": False}, headers=tenant.headers
    )
    assert changed.status_code == 200
    assert changed.json()["events"] == ["message.failed"]
    assert changed.json()["active"] is False
    assert (await api.delete(f"/v1/webhooks/{body['id']}", headers=tenant.headers)).status_code == 204
    assert (await api.get(f"/v1/webhooks/{body['id']}", headers=tenant.headers)).status_code == 404


async def test_unknown_events_and_bad_bodies_are_problems(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver
) -> None:
    resp = await api.post(
        "/v1/webhooks", json={"url": receiver.url, "events": ["message.sent", "sent"]}, headers=tenant.headers
    )
    assert resp.status_code == 422
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"].endswith("/webhook-event-unknown")
    assert resp.json()["allowed"] == list(EVENT_TYPES)
    assert resp.json()["unknown"] == ["sent"]
    for bad in ({"url": receiver.url}, {"url": receiver.url, "events": []}, {"events": ["message.sent"]}, []):
        resp = await api.post("/v1/webhooks", json=bad, headers=tenant.headers)
        assert resp.status_code == 422, bad
        assert resp.json()["type"].endswith("/validation")
    resp = await api.post("/v1/webhooks", content=b"{", headers={**tenant.headers, "content-type": "application/json"})
    assert resp.status_code == 400
    no_key = await api.post("/v1/webhooks", json={"url": receiver.url, "events": ["message.sent"]})
    assert no_key.status_code == 401


async def test_without_an_encryption_key_nothing_is_stored(
    container: Container, api: httpx.AsyncClient, tenant: TenantKey
) -> None:
    container.settings = container.settings.model_copy(update={"iep_encryption_key": None})
    resp = await api.post(
        "/v1/webhooks", json={"url": "https://93.184.216.34/h", "events": ["message.sent"]}, headers=tenant.headers
    )
    assert resp.status_code == 503
    assert resp.json()["type"].endswith("/encryption-unavailable")


async def test_the_delivery_log_pages_with_a_cursor(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver
) -> None:
    endpoint_id = await register(api, tenant, receiver, ["message.sent"])
    for mid in await accept(api, tenant, 5):
        await emit(hooks, mid, "message.sent")
    async with webhooks_role(hooks):
        await until(lambda: _count(receiver, 5), what="five deliveries")
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"/v1/webhooks/{endpoint_id}/deliveries", params=params, headers=tenant.headers)).json()
        seen += [d["id"] for d in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    bad = await api.get(f"/v1/webhooks/{endpoint_id}/deliveries?cursor=zzz", headers=tenant.headers)
    assert bad.status_code == 400


async def _count(receiver: Receiver, n: int) -> bool:
    return len(receiver.received) >= n


async def test_another_tenants_ids_are_not_found_everywhere(
    hooks: Container, api: httpx.AsyncClient, tenant: TenantKey, receiver: Receiver
) -> None:
    endpoint_id = await register(api, tenant, receiver, ["message.sent"])
    [mid] = await accept(api, tenant, 1)
    await emit(hooks, mid, "message.sent")
    async with webhooks_role(hooks):
        await until(lambda: _count(receiver, 1), what="one delivery")
    log = (await api.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=tenant.headers)).json()["data"]
    delivery_id = log[0]["id"]

    other = await make_tenant(hooks, "globex", scopes=("send", "read"))
    own = await api.post("/v1/webhooks", json={"url": receiver.url, "events": ["message.sent"]}, headers=other.headers)
    own_id = own.json()["id"]
    h = other.headers
    answers = [
        await api.get(f"/v1/webhooks/{endpoint_id}", headers=h),
        await api.put(f"/v1/webhooks/{endpoint_id}", json={"active": False}, headers=h),
        await api.delete(f"/v1/webhooks/{endpoint_id}", headers=h),
        await api.get(f"/v1/webhooks/{endpoint_id}/deliveries", headers=h),
        await api.post(f"/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay", headers=h),
        await api.post(f"/v1/webhooks/{own_id}/deliveries/{delivery_id}/replay", headers=h),
        await api.get(f"/v1/webhooks/{uuid.uuid4()}", headers=h),
        await api.get("/v1/webhooks/not-a-uuid", headers=h),
    ]
    assert [a.status_code for a in answers] == [404] * len(answers)
    assert all(a.json()["type"].endswith("/not-found") for a in answers)
    assert [e["id"] for e in (await api.get("/v1/webhooks", headers=h)).json()["data"]] == [own_id]
    # Nothing changed for the owner.
    mine = (await api.get(f"/v1/webhooks/{endpoint_id}", headers=tenant.headers)).json()
    assert mine["active"] is True
    assert len(receiver.received) == 1
